"""The songscape web app: HTTP API and the 3D map page (``songscape serve``).

It needs the ``server`` extra (``pip install 'songscape[server]'``). This package imports
without it; :func:`create_app` checks for FastAPI first and raises
:class:`~songscape.errors.MissingExtraError` naming the extra when it is missing.
"""

from __future__ import annotations

from typing import Any

from songscape.extras import require

__all__ = ["create_app"]


def create_app(*args: Any, **kwargs: Any) -> Any:
    """See :func:`songscape.server.app.create_app`.

    Raises
    ------
    MissingExtraError
        FastAPI is not installed.
    """
    require("fastapi", "server", "the web app")
    from songscape.server.app import create_app as _create_app

    return _create_app(*args, **kwargs)
