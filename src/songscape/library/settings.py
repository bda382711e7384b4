"""Library configuration in the Python API: ``Library.config`` / ``set_config``
(``songscape config``); the keys are :data:`songscape.catalog.settings.SETTINGS`."""

from __future__ import annotations

from songscape.catalog.settings import all_settings, get_setting, set_setting
from songscape.catalog.store import LibraryStore


class SettingsMixin:
    """The configuration methods of :class:`~songscape.library.library.Library`."""

    store: LibraryStore
    _indexes: dict

    def config(self, key: str) -> str | None:
        """The library's value of setting ``key`` (its default when not set).

        Raises
        ------
        UsageError
            ``key`` is not a known setting.
        """
        return get_setting(self.store, key)

    def set_config(self, key: str, value: str | None) -> None:
        """Set ``key`` to ``value`` (None: back to its default); indexes opened by this
        object are reopened on next use, with the new settings."""
        set_setting(self.store, key, value)
        self._indexes.clear()

    def configuration(self) -> dict[str, dict]:
        """Every setting: ``{key: {"value", "default", "set", "help"}}``."""
        return all_settings(self.store)
