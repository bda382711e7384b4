"""Per-client rate limits (issue 16): routes that compute or write answer 429 with
``Retry-After`` once a client is over its allowance; reading is never limited; other
clients are not affected; off on loopback unless configured, on beyond it."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("limits")

from fastapi.testclient import TestClient  # noqa: E402

from songscape.cli.parser import build_parser  # noqa: E402
from songscape.cli.serve_cmds import rate_limits  # noqa: E402
from songscape.errors import UsageError  # noqa: E402
from songscape.server.app import create_app  # noqa: E402
from songscape.server.rate_limits import (  # noqa: E402
    DEFAULT_COMPUTE,
    DEFAULT_WRITE,
    RateLimits,
    limited_kind,
    parse_rate,
)
from songscape.synthetic.catalogs import build_synthetic_library  # noqa: E402


def test_which_routes_are_limited():
    assert limited_kind("GET", "/api/map") == "compute"
    assert limited_kind("HEAD", "/api/search") == "compute"
    assert limited_kind("GET", "/api/tracks/abc/similar") == "compute"
    assert limited_kind("GET", "/api/tracks/{track_id}/distances") == "compute"
    assert limited_kind("POST", "/api/sing") == "compute"
    assert limited_kind("POST", "/api/playlists") == "write"
    assert limited_kind("DELETE", "/api/mixes/1") == "write"
    for path in ("/api/tracks", "/api/tracks/abc", "/api/tracks/abc/audio", "/api/stats",
                 "/", "/static/app.js", "/api/mixes/1/audio"):  # fmt: skip
        assert limited_kind("GET", path) is None, path


def test_rates_parse_or_fail_clearly():
    assert parse_rate("off") is None and parse_rate(None) is None and parse_rate("0") is None
    item = parse_rate("5/second")
    assert item.amount == 5 and item.get_expiry() == 1
    for bad in ("fast", "5 per", "-1/minute"):
        with pytest.raises(UsageError, match="bad rate"):
            parse_rate(bad)
    assert RateLimits.from_text("off", None) is None


def test_the_allowance_is_per_client_and_per_kind():
    limits = RateLimits.from_text("3/minute", "1/minute")
    assert [limits.retry_after_s("compute", "a") for _ in range(3)] == [None] * 3
    wait = limits.retry_after_s("compute", "a")
    assert wait is not None and 55 <= wait <= 60  # the first request leaves the window
    assert limits.retry_after_s("compute", "b") is None  # another client
    assert limits.retry_after_s("write", "a") is None  # another kind
    assert limits.retry_after_s("write", "a") is not None
    short = RateLimits.from_text("2/second", None)
    assert short.retry_after_s("compute", "a") is None
    assert short.retry_after_s("compute", "a") is None
    assert short.retry_after_s("compute", "a") == 1
    time.sleep(1.05)
    assert short.retry_after_s("compute", "a") is None  # the window moved on
    assert short.retry_after_s("write", "a") is None  # writes not limited here


def test_serve_turns_limits_on_beyond_loopback():
    parser = build_parser()

    def limits_of(*argv: str) -> RateLimits | None:
        return rate_limits(parser.parse_args(["serve", *argv]))

    assert limits_of() is None  # loopback: one person's machine
    exposed = limits_of("--host", "0.0.0.0")
    assert (str(exposed.compute), str(exposed.write)) == (
        str(parse_rate(DEFAULT_COMPUTE)), str(parse_rate(DEFAULT_WRITE)))  # fmt: skip
    mine = limits_of("--rate-limit", "10/second", "--write-limit", "off")
    assert mine.compute.amount == 10 and mine.write is None
    assert limits_of("--host", "0.0.0.0", "--rate-limit", "off", "--write-limit", "off") is None
    with pytest.raises(UsageError):
        limits_of("--rate-limit", "lots")


@pytest.fixture(scope="module")
def app_and_ids(tmp_path_factory):
    root = tmp_path_factory.mktemp("limits") / "lib"
    ids = build_synthetic_library(root, 20, seed=5)
    app = create_app(root)
    with TestClient(app) as client:
        yield app, client, ids


def test_a_client_over_its_allowance_gets_429_with_retry_after(app_and_ids):
    app, client, ids = app_and_ids
    similar = f"/api/tracks/{ids[0]}/similar?k=3"
    assert all(client.get(similar).status_code == 200 for _ in range(5))  # off by default
    app.state.rate_limits = RateLimits.from_text("3/minute", "2/minute")
    try:
        assert [client.get(similar).status_code for _ in range(3)] == [200] * 3
        over = client.get(f"/api/tracks/{ids[1]}/similar?k=4")
        assert over.status_code == 429
        assert 1 <= int(over.headers["retry-after"]) <= 60
        assert "too many requests" in over.json()["error"]
        assert over.headers["x-content-type-options"] == "nosniff"  # the contract's headers
        assert client.head(similar).status_code == 429  # HEAD counts as its GET
        # reading is never limited
        for path in ("/api/tracks?limit=5", f"/api/tracks/{ids[0]}", "/api/stats"):
            assert client.get(path).status_code == 200, path
        # writes have their own allowance
        body = {"name": "mine", "track_ids": ids[:3]}
        codes = [client.post("/api/playlists", json=body).status_code for _ in range(3)]
        assert codes[:2] == [200, 200] and codes[2] == 429
        # another client (another address) is not affected
        other = TestClient(app, client=("10.0.0.7", 50000))
        assert other.get(similar).status_code == 200
    finally:
        app.state.rate_limits = None


def test_openapi_declares_429_where_limits_apply(tmp_path):
    root = tmp_path / "lib"
    build_synthetic_library(root, 5, seed=6)
    app = create_app(root)
    app.state.rate_limits = RateLimits.from_text("10/minute", "5/minute")
    paths = TestClient(app).get("/openapi.json").json()["paths"]
    assert "429" in paths["/api/tracks/{track_id}/similar"]["get"]["responses"]
    assert "429" in paths["/api/playlists"]["post"]["responses"]
    assert "429" not in paths["/api/tracks"]["get"]["responses"]


def test_serve_keep_alive_option():
    from songscape.cli.serve_cmds import KEEP_ALIVE_S

    parser = build_parser()
    assert parser.parse_args(["serve"]).keep_alive == KEEP_ALIVE_S == 5.0
    assert parser.parse_args(["serve", "--keep-alive", "75"]).keep_alive == 75.0
    with pytest.raises(SystemExit):
        parser.parse_args(["serve", "--keep-alive", "0"])
