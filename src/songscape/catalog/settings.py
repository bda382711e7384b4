"""Library configuration (``songscape config set KEY VALUE``): named settings stored in the
catalog's ``meta`` table under ``config.<key>``, so every process that opens the library —
the CLI, the Python API, the web server — sees the same choices.

Only the keys of :data:`SETTINGS` are accepted; each has a default and a check of its
value. Settings choose *where* things run (the vector-index backend, the Milvus URI, the
Redis server the API reads precomputed lists from), never what is computed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from songscape.catalog import schema
from songscape.catalog.store import LibraryStore
from songscape.errors import UsageError

META_PREFIX = "config."


@dataclass(frozen=True)
class Setting:
    """One known configuration key: its default (None: unset) and its allowed values."""

    key: str
    help: str
    default: str | None = None
    choices: tuple[str, ...] = ()
    pattern: str | None = None  # a regular expression the whole value must match


#: The keys ``songscape config`` accepts, with their defaults.
SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("index.backend", "vector index of similar/path: faiss (files beside the "
                "catalog) or milvus (pymilvus; Milvus Lite file or server URI)", "faiss",
                choices=("faiss", "milvus")),  # fmt: skip
        Setting("index.uri", "Milvus URI: a file path for Milvus Lite (default "
                "<library>/index/milvus.db) or http://host:19530 for a server",
                pattern=r".+"),  # fmt: skip
        Setting("index.milvus_index", "Milvus index type: FLAT (exact), IVF_FLAT, HNSW "
                "(a server's usual choice) or AUTOINDEX", "FLAT",
                choices=("FLAT", "IVF_FLAT", "HNSW", "AUTOINDEX")),  # fmt: skip
        Setting("index.milvus_prefix", "prefix of the Milvus collection names (libraries "
                "sharing one Milvus server need different prefixes)", "songscape",
                pattern=r"[A-Za-z][A-Za-z0-9_]{0,63}"),  # fmt: skip
        Setting("serve.redis", "Redis URL the HTTP API reads precomputed recommendations "
                "and similar lists from, e.g. redis://127.0.0.1:6379/0",
                pattern=r"(redis|rediss|unix)://.+"),  # fmt: skip
    )
}


def _setting(key: str) -> Setting:
    try:
        return SETTINGS[key]
    except KeyError:
        raise UsageError(
            f"unknown setting {key!r}; settings: {', '.join(sorted(SETTINGS))}"
        ) from None


def check_value(key: str, value: str) -> str:
    """``value`` if it is allowed for ``key``; raises :class:`UsageError` otherwise."""
    setting = _setting(key)
    if setting.choices and value not in setting.choices:
        raise UsageError(f"{key} must be one of {', '.join(setting.choices)}, not {value!r}")
    if setting.pattern and not re.fullmatch(setting.pattern, value):
        raise UsageError(f"{key}: {value!r} is not a valid value ({setting.help})")
    return value


def get_setting(store: LibraryStore, key: str) -> str | None:
    """The library's value of ``key``, else its default (None when it has none)."""
    setting = _setting(key)
    value = schema.get_meta(store.conn, META_PREFIX + key)
    return setting.default if value is None else value


def set_setting(store: LibraryStore, key: str, value: str | None) -> None:
    """Store ``value`` for ``key`` (None: back to the default). Takes the writer lock."""
    if value is not None:
        check_value(key, value)
    else:
        _setting(key)
    store.acquire_write_lock()
    try:
        with store.transaction() as conn:
            if value is None:
                conn.execute("DELETE FROM meta WHERE key = ?", (META_PREFIX + key,))
            else:
                schema.set_meta(conn, META_PREFIX + key, value)
    finally:
        store.release_write_lock()


def all_settings(store: LibraryStore) -> dict[str, dict[str, str | None | bool]]:
    """Every known key: ``{"value", "default", "set" (explicitly stored), "help"}``."""
    out: dict[str, dict[str, str | None | bool]] = {}
    for key, setting in SETTINGS.items():
        stored = schema.get_meta(store.conn, META_PREFIX + key)
        out[key] = {
            "value": setting.default if stored is None else stored,
            "default": setting.default,
            "set": stored is not None,
            "help": setting.help,
        }
    return out
