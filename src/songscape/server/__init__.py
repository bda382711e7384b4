"""The songscape web app: HTTP API and the 3D map page (``songscape serve``).

``create_app`` is imported lazily so that ``songscape.search.maps`` can be used without
FastAPI.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """See :func:`songscape.server.app.create_app`."""
    from songscape.server.app import create_app as _create_app

    return _create_app(*args, **kwargs)
