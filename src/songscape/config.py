"""Where things live: the default library, trained-models and cache directories."""

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


def default_models_dir() -> Path:
    """Where ``songscape train`` saves models (and the registry finds them).

    ``$SONGSCAPE_MODELS`` if set, else ``$XDG_DATA_HOME/songscape/models``,
    else ``~/.local/share/songscape/models``.
    """
    explicit = os.environ.get("SONGSCAPE_MODELS")
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_DATA_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".local" / "share"
    return base / "songscape" / "models"


def default_cache_dir() -> Path:
    """Decoded-audio and embedding caches of training/evaluation.

    ``$SONGSCAPE_CACHE`` if set, else ``<models dir>/cache``.
    """
    explicit = os.environ.get("SONGSCAPE_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    return default_models_dir() / "cache"
