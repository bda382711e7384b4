"""The ``songscape`` argument parser: global flags, then each command module's sub-commands.

To add a command, write ``cmd_NAME(args) -> int`` in the module of its group (or a new
``*_cmds.py``) and register it in that module's ``add_parsers``.
"""

from __future__ import annotations

import argparse

from songscape import __version__
from songscape.cli import (
    check_cmds,
    config_cmds,
    emotion_cmds,
    library_cmds,
    mix_cmds,
    models_cmds,
    playlist_cmds,
    recommend_cmds,
    recordings_cmds,
    search_cmds,
    serve_cmds,
    sing_cmds,
    structure_cmds,
    train_cmds,
)
from songscape.cli.options import Command

#: The command groups, in the order ``songscape --help`` lists their commands.
GROUPS = (
    library_cmds, check_cmds, models_cmds, search_cmds, serve_cmds, recommend_cmds, train_cmds,
    config_cmds, recordings_cmds, structure_cmds, sing_cmds,
    playlist_cmds, emotion_cmds, mix_cmds,
)


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; ``args.func(args)`` runs the one parsed."""
    # --library and --json are accepted before or after the command name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--library", metavar="DIR", default=argparse.SUPPRESS,
        help="library directory (default: $SONGSCAPE_LIBRARY, else "
        "$XDG_DATA_HOME/songscape/library, else ~/.local/share/songscape/library)",
    )  # fmt: skip
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="machine-readable output")

    parser = argparse.ArgumentParser(
        prog="songscape",
        description="Listen to a music catalog and make it navigable.",
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"songscape {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Command, help: str, json: bool = True) -> argparse.ArgumentParser:
        parents = [common, json_flag] if json else [common]
        p = sub.add_parser(name, help=help, description=help, parents=parents)
        p.set_defaults(func=func)
        return p

    for group in GROUPS:
        group.add_parsers(add)
    return parser
