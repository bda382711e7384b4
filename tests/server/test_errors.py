"""The table from songscape's exception classes to HTTP statuses, and the JSON bodies."""

from __future__ import annotations

import inspect

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from songscape import errors as songscape_errors
from songscape.errors import (
    CatalogBusyError,
    NoEventsError,
    QueryError,
    TrackNotFoundError,
    UnknownModelError,
    UnknownWordsError,
)
from songscape.server.errors import (
    ERROR_STATUS,
    ApiError,
    install_error_handlers,
    plain_errors_as,
    status_of,
)


class _SubQueryError(QueryError):
    pass


def _app(raise_it) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom(n: int = 0) -> dict:
        raise_it()
        return {}

    return TestClient(app, raise_server_exceptions=False)


def test_the_table_holds_songscape_errors_only():
    for cls, status in ERROR_STATUS.items():
        assert inspect.getmodule(cls) is songscape_errors, cls
        # the client's fault (4xx), or a catalog busy with a long write (503: try again)
        assert 400 <= status < 500 or (cls is CatalogBusyError and status == 503), cls


@pytest.mark.parametrize(
    ("exc", "status", "message"),
    [(TrackNotFoundError("no track 'x'"), 404, "no track 'x'"),
     (UnknownModelError("unknown model 'y'"), 400, "unknown model 'y'"),
     (NoEventsError("no events"), 404, "no events"),  # a ValueError, answered as not found
     (UnknownWordsError("no such words"), 404, "no such words"),
     (_SubQueryError("bad filter"), 400, "bad filter")],  # a subclass gets its base's status
)  # fmt: skip
def test_songscape_errors_answer_with_their_status(exc, status, message):
    def raise_it():
        raise exc

    r = _app(raise_it).get("/boom")
    assert r.status_code == status and r.json() == {"error": message}


def test_api_errors_keep_their_headers_and_other_errors_are_500():
    def range_error():
        raise ApiError(416, "bad range", headers={"Content-Range": "bytes */10"})

    r = _app(range_error).get("/boom")
    assert r.status_code == 416 and r.json() == {"error": "bad range"}
    assert r.headers["content-range"] == "bytes */10"

    def bug():
        raise KeyError("a bug")

    assert _app(bug).get("/boom").status_code == 500


def test_framework_errors_have_the_same_shape():
    client = _app(lambda: None)
    r = client.get("/nowhere")
    assert r.status_code == 404 and r.json() == {"error": "not found: /nowhere"}
    r = client.post("/boom")
    assert r.status_code == 405 and r.json() == {"error": "Method Not Allowed"}
    r = client.get("/boom", params={"n": "x"})
    assert r.status_code == 422 and r.json()["error"].startswith("bad parameter — n: ")
    assert r.json()["detail"][0]["loc"] == ["query", "n"]


def test_plain_errors_as_translates_built_ins_only():
    with pytest.raises(ApiError) as caught, plain_errors_as({LookupError: 404, ValueError: 400}):
        raise KeyError("no such thing")
    assert caught.value.status_code == 404 and caught.value.detail == "no such thing"
    with pytest.raises(ApiError) as caught, plain_errors_as({LookupError: 404, ValueError: 400}):
        raise ValueError("give at least one word")
    assert caught.value.status_code == 400
    # songscape's own classes keep theirs (NoEventsError is a ValueError but means 404)
    with pytest.raises(NoEventsError), plain_errors_as({ValueError: 400}):
        raise NoEventsError("no events")
    assert status_of(NoEventsError()) == 404 and status_of(ValueError()) is None
    with pytest.raises(RuntimeError), plain_errors_as({ValueError: 400}):
        raise RuntimeError("not translated")
