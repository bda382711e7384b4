"""The HTTP contract every route gets without doing anything (issue 16).

:func:`install_contract` is called once by :func:`songscape.server.app.create_app`, after
or before the routers are included (everything here looks routes up at request or
schema time, so a router added later is covered too):

- **declared errors**: the OpenAPI document gives every operation the error responses
  it can answer — 422 (parameter validation) and 400 for operations with parameters,
  404 for those with path parameters, 413 for those with a request body, 401 (token
  auth, when on), 503 (catalog busy) — each with the ``Error`` schema
  ``{"error": message}``;
- **HEAD** works wherever GET does (the GET route runs, the body is dropped);
- **security headers** on every response: ``X-Content-Type-Options: nosniff``,
  ``Referrer-Policy: no-referrer``, ``X-Frame-Options: DENY``, and a
  ``Content-Security-Policy`` (:data:`PAGE_CSP`; the offline API docs get
  :data:`DOCS_CSP`, which allows their inline start-up script);
- **compression**: gzip for static assets, the API docs' assets and ``/openapi.json``
  (never for audio, whose byte ranges must stay the file's);
- **offline API docs**: ``/docs`` (Swagger UI) and ``/redoc`` load their JavaScript and
  CSS from ``/docs-assets/``, served from the ``fastapi-offline`` wheel, not a CDN;
- **token auth** when the server is exposed beyond loopback (``app.state.auth_token``
  set by ``songscape serve``): every request needs ``Authorization: Bearer TOKEN``, a
  ``?token=TOKEN`` query parameter (which also sets an HttpOnly cookie, so the page's
  own requests pass) or that cookie; anything else is 401.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from songscape.models.registry import list_models

#: The page's policy: scripts, styles, media and requests from this origin only; no inline
#: script, no eval. plotly.js injects styles (``'unsafe-inline'`` for styles only); images
#: and audio may be ``blob:``/``data:`` URLs (snapshots, recordings). Checked in Chromium:
#: the 3D map renders with no violation.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "worker-src 'self' blob:; font-src 'self' data:; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
#: ``/docs`` and ``/redoc``: their HTML starts the bundle with an inline script.
DOCS_CSP = PAGE_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'")
DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")
DOCS_ASSETS = "/docs-assets"
#: Paths whose responses are gzip-compressed (when the client accepts it).
COMPRESSED_PREFIXES = ("/static/", "/vendor/", DOCS_ASSETS + "/", "/openapi.json")
TOKEN_COOKIE = "songscape_token"

ERROR_SCHEMA = {
    "title": "Error",
    "type": "object",
    "properties": {
        "error": {"type": "string", "description": "what went wrong, for a person"},
        "detail": {"type": "array", "items": {"type": "object"},
                   "description": "422 only: FastAPI's list of the bad parameters"},
    },
    "required": ["error"],
}  # fmt: skip
ERROR_DESCRIPTIONS = {
    "400": "Bad request (a value the validator cannot see is wrong: a filter, a model)",
    "401": "A token is required (the server is exposed beyond loopback)",
    "404": "Not found (unknown track, user, item or file)",
    "413": "Request body too large",
    "422": "A parameter is missing or invalid",
    "429": "Too many requests from this client (see Retry-After); only when rate limits are on",
    "503": "The catalog is busy with a long write; try again shortly",
}


def docs_assets_dir() -> Path | None:
    """The Swagger UI and ReDoc bundles of the installed ``fastapi-offline`` wheel."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").is_file() else None


def declare_errors(
    schema: dict[str, Any], auth: bool, limited: Callable[[str, str], bool] | None = None
) -> dict[str, Any]:
    """Add the error responses of :data:`ERROR_DESCRIPTIONS` to each operation of an
    OpenAPI document (in place; returns it). ``limited(METHOD, path)``: whether an
    operation is rate-limited (429)."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Error"] = ERROR_SCHEMA
    ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = op.get("parameters", [])
            codes = ["404", "503"]  # 404: unknown track/user/item, or a file gone
            if params or "requestBody" in op:
                codes += ["400", "422"]
            if "requestBody" in op:
                codes.append("413")
            if auth:
                codes.append("401")
            if limited is not None and limited(method.upper(), path):
                codes.append("429")
            responses = op.setdefault("responses", {})
            for code in codes:
                entry = responses.setdefault(code, {"description": ERROR_DESCRIPTIONS[code]})
                entry["content"] = ref
    return schema


#: Non-JSON answers that are text (playlists, cue sheets); every other one is binary.
TEXT_TYPES = frozenset({"audio/x-mpegurl", "application/xspf+xml", "application/x-cue"})


def declare_file_bodies(schema: dict[str, Any]) -> dict[str, Any]:
    """Give the non-JSON success bodies of an OpenAPI document (audio, playlist files)
    their schema (in place; returns it): a string, ``format: binary`` unless the type is
    text (:data:`TEXT_TYPES`); a ``206`` without content gets its ``200``'s (a byte
    range of the same file). JSON bodies have their routes' response models."""
    for item in schema.get("paths", {}).values():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = op.get("responses", {})
            if "206" in responses and "content" not in responses["206"] and \
                    "content" in responses.get("200", {}):  # fmt: skip
                responses["206"]["content"] = {
                    t: {} for t in responses["200"]["content"] if t != "application/json"
                }
            for code, response in responses.items():
                if not code.startswith("2"):
                    continue
                for media_type, body in response.get("content", {}).items():
                    if media_type != "application/json" and not body.get("schema"):
                        body["schema"] = {"type": "string"} if media_type in TEXT_TYPES \
                            else {"type": "string", "format": "binary"}  # fmt: skip
    return schema


def declare_model_names(
    schema: dict[str, Any], names: list[str], tagging: list[str]
) -> dict[str, Any]:
    """Enumerate the registered models in every free-text ``model`` query parameter of an
    OpenAPI document (in place; returns it): ``tagging`` for the taggram route (models
    with tags), ``names`` elsewhere. Parameters that already enumerate their values (the
    recommenders) are left alone. The list is the registry's when the document is made;
    a model trained later is still accepted by name (the document follows on restart)."""
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for param in op.get("parameters", []):
                if param.get("name") != "model" or param.get("in") != "query":
                    continue
                body = param.get("schema", {})
                branches = body.get("anyOf", [body])
                for branch in branches:
                    if branch.get("type") == "string" and "enum" not in branch:
                        branch["enum"] = list(tagging if path.endswith("/taggram") else names)
    return schema


class ContractMiddleware:
    """HEAD for every GET route, security headers, selective gzip and token auth."""

    def __init__(self, app: ASGIApp, fastapi_app: FastAPI):
        self.app = app
        self.fastapi_app = fastapi_app
        self.gzip = GZipMiddleware(app, minimum_size=1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        token = getattr(self.fastapi_app.state, "auth_token", None)
        set_cookie = None
        if token:
            given = _token_of(scope)
            if given is None or not hmac.compare_digest(given.encode(), token.encode()):
                response = JSONResponse(
                    {"error": "a token is required: open the URL `songscape serve` printed, "
                     "or send `Authorization: Bearer TOKEN`"},
                    status_code=401, headers={"WWW-Authenticate": "Bearer"},
                )  # fmt: skip
                await response(scope, receive, _with_headers(send, path, None))
                return
            if "token=" in scope.get("query_string", b"").decode("latin-1"):
                set_cookie = (
                    f"{TOKEN_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"
                ).encode("latin-1")
        head = scope["method"] == "HEAD"
        if head:
            scope = dict(scope, method="GET")
        unknown = unknown_query_parameters(self.fastapi_app, scope)
        if unknown:
            response = JSONResponse(
                {"error": f"bad parameter — unknown query parameter(s): {', '.join(unknown)}"},
                status_code=422,
            )
            await response(scope, receive, _with_headers(send, path, None, drop_body=head))
            return
        app = self.fastapi_app
        downstream = _with_headers(send, path, set_cookie, drop_body=head,
                                   allow=lambda: allowed_methods(app, scope))  # fmt: skip
        if not head and path.startswith(COMPRESSED_PREFIXES):
            await self.gzip(scope, receive, downstream)
        else:
            await self.app(scope, receive, downstream)


def _token_of(scope: Scope) -> str | None:
    """The token a request carries: bearer header, ``token`` query parameter or cookie."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    auth = headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    if query.get("token"):
        return query["token"][0]
    if "cookie" in headers:
        cookie = SimpleCookie()
        try:
            cookie.load(headers["cookie"])
        except Exception:  # noqa: BLE001 - a malformed cookie header is no token
            return None
        if TOKEN_COOKIE in cookie:
            return cookie[TOKEN_COOKIE].value
    return None


def api_routes(routes: list[Any], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """``(prefix, route)`` of every API route, inside included routers too (FastAPI keeps
    an included router as one entry whose routes carry no prefix)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield prefix, route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from api_routes(inner.routes, prefix + (getattr(context, "prefix", "") or ""))


def _matches(route: APIRoute, prefix: str, scope: Scope) -> Match:
    path = scope.get("path", "")
    if not path.startswith(prefix):
        return Match.NONE
    match, _ = route.matches(dict(scope, path=path[len(prefix):]))
    return match


def allowed_methods(app: FastAPI, scope: Scope) -> str:
    """The methods the routes at ``scope``'s path answer (HEAD wherever GET), for a 405."""
    methods: set[str] = set()
    for prefix, route in api_routes(app.router.routes):
        if _matches(route, prefix, scope) != Match.NONE:
            methods |= route.methods or set()
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def unknown_query_parameters(app: FastAPI, scope: Scope) -> list[str]:
    """Query parameter names the API route ``scope`` reaches does not declare (a typo such
    as ``?limt=10`` would otherwise be ignored silently)."""
    query = scope.get("query_string", b"")
    if not query:
        return []
    for prefix, route in api_routes(app.router.routes):
        if _matches(route, prefix, scope) == Match.FULL:
            known = {"token"}
            stack = [route.dependant]
            while stack:
                dependant = stack.pop()
                known |= {p.alias for p in dependant.query_params}
                stack.extend(dependant.dependencies)
            names = parse_qs(query.decode("latin-1"), keep_blank_values=True)
            return sorted(n for n in names if n not in known)
    return []


def _with_headers(
    send: Send, path: str, set_cookie: bytes | None, drop_body: bool = False,
    allow: Callable[[], str] | None = None,
) -> Send:  # fmt: skip
    csp = DOCS_CSP if path in DOCS_PATHS else PAGE_CSP
    extra = [
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        (b"content-security-policy", csp.encode("latin-1")),
    ]
    if set_cookie:
        extra.append((b"set-cookie", set_cookie))

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            names = {k.lower() for k, _ in message.get("headers", [])}
            headers = list(message.get("headers", []))
            headers += [(k, v) for k, v in extra if k not in names or k == b"set-cookie"]
            if message["status"] == 405 and allow is not None:
                methods = allow()
                headers = [(k, v) for k, v in headers if k.lower() != b"allow"]
                headers.append((b"allow", methods.encode("latin-1")))
            message = dict(message, headers=headers)
        elif message["type"] == "http.response.body" and drop_body:
            if message.get("more_body", False):
                return  # swallow the body of a HEAD request, keep its headers
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return wrapped


def install_contract(app: FastAPI) -> None:
    """Give ``app`` the behaviour described in this module's docstring."""
    app.state.auth_token = getattr(app.state, "auth_token", None)
    # offline docs: replace FastAPI's CDN-loading /docs and /redoc
    app.router.routes[:] = [r for r in app.router.routes
                            if getattr(r, "path", None) not in DOCS_PATHS]  # fmt: skip
    assets = docs_assets_dir()
    if assets is not None:
        app.mount(DOCS_ASSETS, StaticFiles(directory=assets), name="docs-assets")

        @app.get("/docs", include_in_schema=False)
        def swagger_ui() -> HTMLResponse:
            return get_swagger_ui_html(
                openapi_url="/openapi.json", title=f"{app.title} API",
                swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            )  # fmt: skip

        @app.get("/redoc", include_in_schema=False)
        def redoc() -> HTMLResponse:
            return get_redoc_html(
                openapi_url="/openapi.json", title=f"{app.title} API",
                redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
                redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png", with_google_fonts=False,
            )  # fmt: skip

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version,
                                 description=app.description, routes=app.routes)  # fmt: skip
            limits = getattr(app.state, "rate_limits", None)
            declare_errors(schema, auth=bool(app.state.auth_token),
                           limited=limits and limits.applies)  # fmt: skip
            specs = list_models()
            declare_model_names(schema, [m.name for m in specs],
                                [m.name for m in specs if m.labels])  # fmt: skip
            app.openapi_schema = declare_file_bodies(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(ContractMiddleware, fastapi_app=app)
