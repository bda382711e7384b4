"""songscape: listen to a music catalog and make it navigable."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from songscape.library.library import Library, analyze_file

__all__ = ["Library", "analyze_file", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy: `import songscape` stays cheap; the audio stack loads on first use.
    if name in ("Library", "analyze_file"):
        from songscape.library import library

        return getattr(library, name)
    raise AttributeError(f"module 'songscape' has no attribute {name!r}")
