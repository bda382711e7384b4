"""How errors become HTTP answers: every error is ``{"error": message}`` with a 4xx status.

- An exception of :mod:`songscape.errors` that escapes a route is answered with the status
  that :data:`ERROR_STATUS` gives its class (or the nearest base class listed there).
- :class:`ApiError` carries a status that the route itself decides: a malformed ``Range``
  (416), a parameter combination the validator cannot see (422), a file that cannot be
  served (404).
- :func:`plain_errors_as` turns a lower layer's built-in ``LookupError``/``ValueError``
  into an answer where a route expects one.
- Unknown routes (404 ``not found: /path``), wrong methods (405) and failed parameter
  validation (422, with FastAPI's ``detail`` list as well) keep the same JSON shape.

Anything else is a bug and gets the server's plain 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from songscape.errors import (
    AudioError,
    CatalogBusyError,
    FingerprintError,
    LyricsError,
    MixError,
    NoEventsError,
    NoVectorError,
    PlaylistFormatError,
    PlaylistNotFoundError,
    QueryError,
    TrackNotFoundError,
    UnknownItemError,
    UnknownModelError,
    UnknownUserError,
    UnknownWordsError,
    UsageError,
)

#: songscape's exception classes -> the HTTP status that answers them.
ERROR_STATUS: dict[type[Exception], int] = {
    UnknownModelError: 400,
    QueryError: 400,
    LyricsError: 400,
    TrackNotFoundError: 404,
    NoVectorError: 404,
    UnknownUserError: 404,
    UnknownItemError: 404,
    UnknownWordsError: 404,
    NoEventsError: 404,
    PlaylistNotFoundError: 404,
    PlaylistFormatError: 400,
    AudioError: 400,  # an uploaded clip: undecodable, too short, silent
    FingerprintError: 409,  # no fingerprints in the library yet (ingest adds them)
    CatalogBusyError: 503,  # a long write holds the catalog: try again shortly
    MixError: 409,  # a mix that cannot be made as asked: a file gone, more minutes than the library
    UsageError: 400,  # a value or combination a library method refuses (a mix of one song)
}


class ApiError(HTTPException):
    """An answer ``{"error": message}`` with a status (and headers) chosen by the route."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(status_code=status, detail=message, headers=headers)


def error_message(exc: BaseException) -> str:
    """The text of an exception for the ``error`` field (a ``KeyError``'s without quotes)."""
    if isinstance(exc, LookupError) and exc.args:
        return str(exc.args[0])
    return str(exc)


def status_of(exc: BaseException) -> int | None:
    """The status :data:`ERROR_STATUS` gives ``exc`` (nearest listed class), or None."""
    for cls in type(exc).__mro__:
        status = ERROR_STATUS.get(cls)
        if status is not None:
            return status
    return None


@contextmanager
def plain_errors_as(statuses: dict[type[Exception], int]) -> Iterator[None]:
    """Answer the built-in exceptions a callee raises on purpose with the statuses given.

    ``Library.similar`` raises a plain ``LookupError`` for a track without a vector, and
    ``recommend.service`` a plain ``ValueError`` for input it cannot use; inside this block
    such an exception becomes an :class:`ApiError`. Classes of :data:`ERROR_STATUS` pass
    through to their own handler.

    Parameters
    ----------
    statuses : dict
        ``{built-in exception class: HTTP status}``, tried in order.
    """
    try:
        yield
    except tuple(statuses) as err:
        if status_of(err) is not None:
            raise
        status = next(s for cls, s in statuses.items() if isinstance(err, cls))
        raise ApiError(status, error_message(err)) from err


async def _songscape_error(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"error": error_message(exc)}, status_code=status_of(exc) or 500)


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    """Starlette's own errors: unknown routes and files (404), wrong methods (405)."""
    message = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404:
        message = f"not found: {request.url.path}"
    return JSONResponse(
        {"error": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """422: one line naming every bad parameter, plus FastAPI's ``detail`` list."""
    problems = []
    for e in exc.errors():
        where = ".".join(str(p) for p in e.get("loc", ())[1:]) or "request"
        problems.append(f"{where}: {e.get('msg')}")
    return JSONResponse(
        {"error": "bad parameter — " + "; ".join(problems),
         "detail": [{k: e.get(k) for k in ("loc", "msg", "type")} for e in exc.errors()]},
        status_code=422,
    )  # fmt: skip


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app`` (Starlette picks the nearest class in the MRO,
    so :class:`ApiError` gets its own handler before the generic HTTP one)."""
    for cls in ERROR_STATUS:
        app.add_exception_handler(cls, _songscape_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
