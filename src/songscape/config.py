"""Where things live: the default library directory."""

from __future__ import annotations

import os
from pathlib import Path


def default_library_dir() -> Path:
    """The library directory used when ``--library`` is not given.

    ``$SONGSCAPE_LIBRARY`` if set, else ``$XDG_DATA_HOME/songscape/library``,
    else ``~/.local/share/songscape/library``.
    """
    explicit = os.environ.get("SONGSCAPE_LIBRARY")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "songscape" / "library"
