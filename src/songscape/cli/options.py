"""What the command modules share: argparse value types and flags, the library of
``--library``, model names, and the extras a command needs.

Each command module adds its sub-commands with an :class:`AddCommand` that
:func:`songscape.cli.parser.build_parser` hands it.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from songscape.config import DEFAULT_MAX_DURATION_S
from songscape.extras import require_installed

if TYPE_CHECKING:
    from songscape.library.library import Library

Command = Callable[[argparse.Namespace], int]


class AddCommand(Protocol):
    """Adds sub-command ``name`` that runs ``func``; ``json=False`` leaves out ``--json``."""

    def __call__(
        self, name: str, func: Command, help: str, json: bool = True
    ) -> argparse.ArgumentParser: ...


def number(kind: type, minimum: float, message: str) -> Callable[[str], Any]:
    """An argparse type: a number of ``kind`` no smaller than ``minimum``."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(message)
        return value

    return parse


positive_int = number(int, 1, "must be at least 1")
non_negative_int = number(int, 0, "must not be negative")
non_negative_float = number(float, 0.0, "must not be negative")


def add_duration_flags(p: argparse.ArgumentParser) -> None:
    """``--max-duration`` and ``--min-duration`` (seconds) of the files to accept."""
    p.add_argument(
        "--max-duration", type=non_negative_float, default=DEFAULT_MAX_DURATION_S,
        metavar="SECONDS",
        help=f"reject longer files, bounding memory (default {DEFAULT_MAX_DURATION_S:.0f};"
        " 0 = no limit)",
    )  # fmt: skip
    p.add_argument(
        "--min-duration", type=non_negative_float, default=1.0, metavar="SECONDS",
        help="reject shorter files (default 1)",
    )  # fmt: skip


def open_library(args: argparse.Namespace, create: bool = False) -> Library:
    """The library at ``--library``; a missing or unreadable one raises ``LibraryError``."""
    from songscape.library.library import Library

    return Library(args.library, create=create)


def check_model(name: str) -> str:
    """The registry's name for model ``name``; an unknown one raises ``UnknownModelError``
    (exit 2, the message lists the known models)."""
    from songscape.models.registry import get_spec

    return get_spec(name).name


def require_extra(extra: str, feature: str) -> None:
    """Stop ``feature`` at once with ``MissingExtraError`` (one line naming the extra) when a
    module of ``extra`` (``songscape.extras.EXTRAS``) is not installed."""
    require_installed(extra, feature)
