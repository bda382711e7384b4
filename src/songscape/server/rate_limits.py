"""Per-client rate limits on the routes that compute or write (issue 16).

A server exposed beyond loopback must not let one client keep it busy: every request
that makes the server compute (a map, a text search, a path, recommendations, similar
tracks, an identification, a voice match) or write (playlists, mixes) counts against
its client's allowance, a moving window per client address
(:class:`limits.strategies.MovingWindowRateLimiter`, in memory). A request over the
allowance is answered ``429 Too Many Requests`` with ``Retry-After`` (whole seconds
until the window has room again) and the usual ``{"error": message}`` body; the route
does not run. Reading tracks, audio, the page and its assets is never limited.

``songscape serve`` turns the limits on when it listens beyond loopback
(:data:`DEFAULT_COMPUTE`, :data:`DEFAULT_WRITE`); ``--rate-limit`` and ``--write-limit``
set them (``off`` for none), also on loopback. The app reads
``app.state.rate_limits`` (a :class:`RateLimits`, or None: no limits) at request time.

Clients are told apart by the address the connection comes from: behind a reverse
proxy every client shares the proxy's address (``X-Forwarded-For`` is not trusted: any
client could write it).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from songscape.errors import UsageError

if TYPE_CHECKING:  # `limits` is imported when limits are turned on (the server extra has it)
    from limits import RateLimitItem

__all__ = ["DEFAULT_COMPUTE", "DEFAULT_WRITE", "RateLimits", "install_rate_limits",
           "limited_kind", "parse_rate"]  # fmt: skip

#: Requests per client on routes that compute, when exposed and not configured.
DEFAULT_COMPUTE = "120/minute"
#: Requests per client on routes that write, when exposed and not configured.
DEFAULT_WRITE = "30/minute"

#: GET routes that compute (paths, or patterns of paths with a track id).
COMPUTE_PATHS = ("/api/map", "/api/path", "/api/search", "/api/recommend")
COMPUTE_PATTERN = re.compile(r"^/api/tracks/[^/]+/(similar|distances)$")
#: POST routes that compute more than they write.
COMPUTE_POSTS = ("/api/identify", "/api/sing")
WRITE_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def parse_rate(text: str | None) -> RateLimitItem | None:
    """A rate such as ``"120/minute"`` or ``"10/second"`` (``limits``' notation); None
    for ``None``, ``"off"`` or ``"0"``.

    Raises
    ------
    UsageError
        Not a rate.
    """
    if text is None or text.strip().lower() in ("off", "0", "none"):
        return None
    from limits import parse

    try:
        item = parse(text)
    except ValueError as err:
        raise UsageError(f"bad rate {text!r}: use e.g. 120/minute or 5/second, or off") from err
    if item.amount < 1:
        raise UsageError(f"bad rate {text!r}: at least 1 request")
    return item


def limited_kind(method: str, path: str) -> str | None:
    """``"compute"``, ``"write"`` or None (not limited) for a request."""
    if method in WRITE_METHODS and path.startswith("/api/"):
        return "compute" if path in COMPUTE_POSTS else "write"
    if method in ("GET", "HEAD") and (path in COMPUTE_PATHS or COMPUTE_PATTERN.match(path)):
        return "compute"
    return None


@dataclass
class RateLimits:
    """The allowance per client of each kind of limited route.

    Attributes
    ----------
    compute : RateLimitItem or None
        Routes that compute (None: not limited).
    write : RateLimitItem or None
        Routes that write (None: not limited).
    """

    compute: RateLimitItem | None
    write: RateLimitItem | None
    limiter: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from limits.storage import MemoryStorage
        from limits.strategies import MovingWindowRateLimiter

        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    @classmethod
    def from_text(cls, compute: str | None, write: str | None) -> RateLimits | None:
        """Limits from two rates (see :func:`parse_rate`); None when both are off."""
        c, w = parse_rate(compute), parse_rate(write)
        return None if c is None and w is None else cls(c, w)

    def describe(self) -> str:
        """E.g. ``"120 per 1 minute (compute), 30 per 1 minute (write)"``."""
        return ", ".join(f"{item} ({kind})" for kind, item in
                         (("compute", self.compute), ("write", self.write)) if item)  # fmt: skip

    def applies(self, method: str, path: str) -> bool:
        """Whether requests ``METHOD path`` (a path or an OpenAPI path template) are limited."""
        kind = limited_kind(method, path)
        return kind is not None and getattr(self, kind) is not None

    def retry_after_s(self, kind: str, client: str) -> int | None:
        """Count a request of ``client`` on a ``kind`` route: None when it is allowed,
        else the whole seconds until it would be."""
        item = self.compute if kind == "compute" else self.write
        if item is None or self.limiter.hit(item, kind, client):
            return None
        reset = self.limiter.get_window_stats(item, kind, client).reset_time
        return max(1, math.ceil(reset - time.time()))


class RateLimitMiddleware:
    """Answers 429 (with ``Retry-After``) to a client over its allowance."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI):
        self.app = app
        self.fastapi_app = fastapi_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limits: RateLimits | None = getattr(self.fastapi_app.state, "rate_limits", None)
        kind = limited_kind(scope["method"], scope["path"]) if (
            limits is not None and scope["type"] == "http") else None  # fmt: skip
        if kind is not None:
            client = (scope.get("client") or ("unknown",))[0]
            wait = limits.retry_after_s(kind, client)
            if wait is not None:
                item = limits.compute if kind == "compute" else limits.write
                response = JSONResponse(
                    {"error": f"too many requests: at most {item.amount} per "
                     f"{item.get_expiry()} s on routes that {kind}; try again in {wait} s"},
                    status_code=429, headers={"Retry-After": str(wait)},
                )  # fmt: skip
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def install_rate_limits(app: FastAPI) -> None:
    """Add the middleware (inside the contract's, so 429s get its headers and a missing
    token is a 401 first). ``app.state.rate_limits`` starts as None: no limits."""
    app.state.rate_limits = getattr(app.state, "rate_limits", None)
    app.add_middleware(RateLimitMiddleware, fastapi_app=app)
