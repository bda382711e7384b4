"""Where things live: the default library directory."""

from __future__ import annotations

import os
from pathlib import Path

#: Longest file analysed by default (seconds). Bounds a worker's memory: decoded
#: audio plus the descriptor spectrograms of 30 min stay around 1.5 GB.
DEFAULT_MAX_DURATION_S = 1800.0


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
