"""The ``songscape`` command line: parse, call the library, print.

:mod:`~songscape.cli.parser` builds the parser from the command modules
(``library_cmds``, ``models_cmds``, ``search_cmds``, ``serve_cmds``, ``recommend_cmds``,
``train_cmds``), :mod:`~songscape.cli.render` prints, and :mod:`~songscape.cli.errors`
maps errors to exit codes: 0 the run completed (even if some files failed: they are
listed), 1 nothing could be done (library unreadable, unknown track, undecodable file, a
missing extra), 2 usage error (bad flag or argument), 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from songscape.cli.errors import EXIT_INTERRUPTED, EXIT_OK, exit_status
from songscape.cli.parser import build_parser
from songscape.cli.recommend_cmds import RECOMMEND_MODELS
from songscape.config import default_library_dir

__all__ = ["RECOMMEND_MODELS", "build_parser", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``songscape`` with ``argv`` (default: the process's arguments).

    Returns
    -------
    int
        The exit code. Usage errors the parser finds exit with ``SystemExit(2)`` instead.
    """
    args = build_parser().parse_args(argv)
    if not hasattr(args, "library"):
        args.library = str(default_library_dir())
    if not hasattr(args, "json"):
        args.json = False
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `songscape tracks | head`
        sys.stderr.close()
        return EXIT_OK
    except Exception as err:
        status = exit_status(err)
        if status is None:  # not one of songscape's errors: a bug, keep its traceback
            raise
        message, code = status
        print(f"songscape: error: {message}", file=sys.stderr)
        return code
