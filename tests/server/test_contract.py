"""The HTTP contract every route gets (server/contract.py): declared errors, HEAD, 304,
range units, security headers, gzip, offline docs, token auth."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from songscape.errors import LibraryError
from songscape.server.app import create_app
from songscape.server.contract import DOCS_CSP, PAGE_CSP
from songscape.synthetic.catalogs import build_synthetic_library


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> tuple[Path, str]:
    base = tmp_path_factory.mktemp("contract")
    ids = build_synthetic_library(base / "lib", 20, seed=5, audio_dir=base / "audio", n_audio=2)
    return base / "lib", ids[0]


@pytest.fixture(scope="module")
def client(library):
    with TestClient(create_app(library[0])) as c:
        yield c


def test_every_operation_declares_its_errors(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["schemas"]["Error"]["required"] == ["error"]
    ops = [(p, m, op) for p, item in schema["paths"].items() for m, op in item.items()]
    assert len(ops) >= 8
    for path, method, op in ops:
        for code in ("404", "503"):
            assert code in op["responses"], (path, method, code)
        if op.get("parameters") or "requestBody" in op:
            assert {"400", "422"} <= set(op["responses"]), (path, method)
        if "requestBody" in op:
            assert "413" in op["responses"], (path, method)
        ref = op["responses"]["404"]["content"]["application/json"]["schema"]["$ref"]
        assert ref == "#/components/schemas/Error"


def test_security_headers_everywhere(client):
    for url in ("/", "/api/stats", "/static/app.js", "/api/tracks/nope", "/no/such/route"):
        r = client.get(url)
        assert r.headers["x-content-type-options"] == "nosniff", url
        assert r.headers["content-security-policy"] == PAGE_CSP, url
        assert r.headers["x-frame-options"] == "DENY"
    assert client.get("/docs").headers["content-security-policy"] == DOCS_CSP
    assert "frame-ancestors 'none'" in PAGE_CSP and "object-src 'none'" in PAGE_CSP


def test_page_satisfies_its_policy(client):
    """The page loads scripts and styles only from its own origin (no inline script, no
    CDN): what PAGE_CSP allows."""
    html = client.get("/").text
    assert "<script>" not in html.replace(" ", "") and "http://" not in html
    assert "https://" not in html
    for src in [s.split('"')[1] for s in html.split("src=")[1:]]:
        assert src.startswith("/"), src


def test_head_works_wherever_get_does(client, library):
    _, track_id = library
    for url in ("/api/stats", f"/api/tracks/{track_id}", "/", "/static/app.js", "/docs",
                "/openapi.json", f"/api/tracks/{track_id}/audio"):  # fmt: skip
        get, head = client.get(url), client.head(url)
        assert head.status_code == get.status_code == 200, url
        assert head.content == b"" and head.headers["content-type"] == get.headers["content-type"]


def test_audio_304_and_unknown_range_units(client, library):
    _, track_id = library
    url = f"/api/tracks/{track_id}/audio"
    first = client.get(url)
    etag = first.headers["etag"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(url, headers={"If-None-Match": f'W/{etag}, "x"'}).status_code == 304
    items = client.get(url, headers={"Range": "items=0-1"})
    assert items.status_code == 200 and items.content == first.content


def test_static_assets_are_compressed_audio_is_not(client, library):
    _, track_id = library
    r = client.get("/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    raw = client.get(f"/api/tracks/{track_id}/audio", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in raw.headers
    big = client.get("/docs-assets/swagger-ui-bundle.js", headers={"Accept-Encoding": "gzip"})
    assert big.status_code == 200 and big.headers["content-encoding"] == "gzip"
    assert len(gzip.compress(big.content)) < 0.5 * len(big.content)  # worth compressing


def test_docs_and_redoc_work_offline(client):
    for url in ("/docs", "/redoc"):
        html = client.get(url).text
        assert "cdn" not in html.lower() and "/docs-assets/" in html, url
        for asset in [s.split('"')[0] for s in html.split("/docs-assets/")[1:]]:
            assert client.get("/docs-assets/" + asset).status_code == 200, asset


def test_token_auth_when_exposed(library):
    app = create_app(library[0])
    app.state.auth_token = "s3cret-token"
    with TestClient(app) as c:
        r = c.get("/api/stats")
        assert r.status_code == 401 and "token" in r.json()["error"]
        assert r.headers["content-security-policy"] == PAGE_CSP
        assert c.get("/api/stats", headers={"Authorization": "Bearer wrong"}).status_code == 401
        ok = c.get("/api/stats", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200
        page = c.get("/?token=s3cret-token")
        assert page.status_code == 200 and "HttpOnly" in page.headers["set-cookie"]
        assert c.get("/api/stats").status_code == 200  # the cookie the page got
        assert "401" in c.get("/openapi.json").json()["paths"]["/api/stats"]["get"]["responses"]


def test_a_catalog_that_cannot_be_opened_is_not_served(tmp_path):
    (tmp_path / "lib").mkdir()
    with pytest.raises(LibraryError, match="no library"):
        create_app(tmp_path / "lib")


def test_serve_requires_a_token_beyond_loopback():
    from songscape.cli.parser import build_parser
    from songscape.cli.serve_cmds import auth_token
    from songscape.errors import UsageError

    def token(*argv: str) -> str | None:
        return auth_token(build_parser().parse_args(["serve", *argv]))

    assert token() is None and token("--host", "::1") is None
    generated = token("--host", "0.0.0.0")
    assert generated and len(generated) >= 24 and generated != token("--host", "0.0.0.0")
    assert token("--host", "0.0.0.0", "--no-auth") is None
    assert token("--token", "x" * 16) == "x" * 16  # on loopback too, when asked
    for bad in (("--token", "short"), ("--token", "x" * 16, "--no-auth")):
        with pytest.raises(UsageError):
            token(*bad)
