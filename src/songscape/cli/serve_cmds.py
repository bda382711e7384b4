"""``serve``: the web app (3D map, playback, search, HTTP API) of a library, with uvicorn."""

from __future__ import annotations

import argparse
import errno
import os
import socket
import sys

from songscape.cli.errors import EXIT_OK
from songscape.cli.options import AddCommand, non_negative_int, number, require_extra
from songscape.errors import CommandError, LibraryError, UsageError

#: Seconds an idle kept-alive connection stays open (uvicorn's ``timeout_keep_alive``).
KEEP_ALIVE_S = 5.0
#: Hosts that only this machine can reach (anything else gets a warning).
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def listen(host: str, port: int) -> socket.socket:
    """A socket bound and listening on ``host:port`` (port 0 picks a free one).

    Binding here, before the app is built, reports a busy port at once and tells the URL
    of ``--port 0`` before uvicorn starts.
    """
    if port > 65535:
        raise UsageError(f"--port must be at most 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        raise UsageError(f"cannot resolve --host {host}: {err.strerror}") from err
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as err:
        sock.close()
        why = "port already in use" if err.errno == errno.EADDRINUSE else (err.strerror or str(err))
        raise CommandError(f"cannot listen on {host}:{port}: {why}") from err
    return sock


def auth_token(args: argparse.Namespace) -> str | None:
    """The token requests must carry: ``--token``, else a new random one when bound beyond
    loopback; None on loopback (unless ``--token``) or with ``--no-auth``."""
    if args.no_auth:
        if args.token:
            raise UsageError("--token and --no-auth exclude each other")
        return None
    if args.token:
        if len(args.token) < 16:
            raise UsageError("--token must be at least 16 characters")
        return args.token
    if args.host in LOOPBACK:
        return None
    import secrets

    return secrets.token_urlsafe(24)


def rate_limits(args: argparse.Namespace):
    """The per-client limits (:class:`~songscape.server.rate_limits.RateLimits`, or None):
    ``--rate-limit``/``--write-limit``, else the defaults when not bound to loopback."""
    from songscape.server.rate_limits import DEFAULT_COMPUTE, DEFAULT_WRITE, RateLimits

    exposed = args.host not in LOOPBACK
    compute = args.rate_limit or (DEFAULT_COMPUTE if exposed else None)
    write = args.write_limit or (DEFAULT_WRITE if exposed else None)
    return RateLimits.from_text(compute, write)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the web app of the library until Ctrl-C."""
    require_extra("server", "songscape serve")  # before the server's own imports need them
    import uvicorn

    from songscape.server.app import create_app

    token = auth_token(args)
    limits = rate_limits(args)
    sock = listen(args.host, args.port)
    port = sock.getsockname()[1]
    try:
        app = create_app(args.library, warm_up=True)
    except LibraryError:
        sock.close()
        raise
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{port}/"
    app.state.auth_token = token
    app.state.rate_limits = limits
    if app.state.auth_token:  # the page's link carries the token once, then a cookie does
        url += f"?token={app.state.auth_token}"
    print(f"songscape: serving {app.state.songscape.worker.root} at {url}  (API docs: "
          f"http://{host}:{port}/docs; Ctrl-C to stop)", flush=True)  # fmt: skip
    if app.state.auth_token:
        print("songscape: not bound to loopback: every request needs the token (open the URL "
              "above, or send `Authorization: Bearer TOKEN`)", file=sys.stderr)  # fmt: skip
    elif args.host not in LOOPBACK:
        print("songscape: warning: not bound to loopback and --no-auth — anyone who can reach "
              "this port can browse the library and play its audio", file=sys.stderr)  # fmt: skip
    if limits is not None:
        print(f"songscape: rate limits per client: {limits.describe()}", file=sys.stderr)
    if not args.no_browser and (
        sys.platform in ("darwin", "win32")
        or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):  # fmt: skip
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, args=(url,)).start()
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_keep_alive=args.keep_alive)  # fmt: skip
    uvicorn.Server(config).run(sockets=[sock])
    return EXIT_OK


def add_parsers(add: AddCommand) -> None:
    """serve."""
    p = add("serve", cmd_serve, "the web app: a 3D map of the library, playback, search, "
            "and the HTTP API", json=False)  # fmt: skip
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1, loopback only)")  # fmt: skip
    p.add_argument("--port", type=non_negative_int, default=8000,
                   help="port (default 8000; 0 picks a free one)")  # fmt: skip
    p.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    p.add_argument("--token", metavar="TOKEN",
                   help="require this token on every request (default when --host is not "
                   "loopback: a random one, printed in the URL)")  # fmt: skip
    p.add_argument("--rate-limit", metavar="RATE",
                   help="most requests per client on routes that compute (map, search, "
                   "similar, path, recommend, identify, sing), e.g. 120/minute, or off "
                   "(default beyond loopback: 120/minute; on loopback: off)")  # fmt: skip
    p.add_argument("--write-limit", metavar="RATE",
                   help="most requests per client on routes that write (playlists, mixes), "
                   "e.g. 30/minute, or off (default beyond loopback: 30/minute; on "
                   "loopback: off)")  # fmt: skip
    p.add_argument("--keep-alive", type=number(float, 0.1, "must be at least 0.1 s"),
                   default=KEEP_ALIVE_S, metavar="SECONDS",
                   help="close a kept-alive connection idle this long (default "
                   f"{KEEP_ALIVE_S:g} s)")  # fmt: skip
    p.add_argument("--no-auth", action="store_true",
                   help="serve beyond loopback without a token (anyone who can reach the port "
                   "can use it)")  # fmt: skip
