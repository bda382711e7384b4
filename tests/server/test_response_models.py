"""The OpenAPI document as a contract (issue 16): every success body of every operation has
a schema — a typed object for JSON (a response model), a string for files — so that a
route added without a response model fails here. ``tests/server/test_schemathesis.py``
checks the real answers against these schemas."""

from __future__ import annotations

from typing import Any

import pytest

from songscape.server.app import create_app
from songscape.synthetic.catalogs import build_synthetic_library


@pytest.fixture(scope="module")
def document(tmp_path_factory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("openapi") / "lib"
    build_synthetic_library(root, 3, seed=1)
    app = create_app(root)
    try:
        return app.openapi()
    finally:
        app.state.songscape.close()


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def untyped(doc: dict[str, Any], schema: dict[str, Any] | None) -> str | None:
    """Why a JSON body schema says nothing a client can rely on, or None when it is typed:
    an object with named properties, or a map or list whose values are typed."""
    if not schema:
        return "no schema"
    schema = _resolve(doc, schema)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        if schema.get("properties"):
            return None
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and (extra.get("type") or "$ref" in extra):
            return None
        return "an object with no properties"
    if kind == "array":
        return untyped(doc, schema.get("items")) and "an array of untyped items"
    if kind in ("string", "number", "integer", "boolean"):
        return None
    return f"no type ({sorted(schema)})"


def contract_gaps(doc: dict[str, Any]) -> list[str]:
    """``METHOD path status: why`` for every success body without a usable schema."""
    gaps = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for code, response in op["responses"].items():
                if not code.startswith("2"):
                    continue
                content = response.get("content")
                if not content:
                    gaps.append(f"{method.upper()} {path} {code}: no content declared")
                    continue
                for media_type, body in content.items():
                    if media_type == "application/json":
                        why = untyped(doc, body.get("schema"))
                    elif (body.get("schema") or {}).get("type") != "string":
                        why = "a file body without a string schema"
                    else:
                        why = None
                    if why:
                        gaps.append(f"{method.upper()} {path} {code} {media_type}: {why}")
    return gaps


def test_every_success_body_has_a_typed_schema(document):
    assert contract_gaps(document) == []
    # what is checked: the API's operations, each with a success answer
    operations = [(m, p) for p, item in document["paths"].items() for m in item]
    assert len(operations) >= 25 and ("get", "/api/map") in operations


def test_the_check_catches_a_route_without_a_model():
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/plain")
    def plain() -> dict:
        return {}

    @app.get("/bare", response_model=dict[str, Any])
    def bare() -> dict:
        return {}

    @app.get("/typed", response_model=list[int])
    def typed() -> list[int]:
        return []

    assert contract_gaps(app.openapi()) == [
        "GET /plain 200 application/json: an object with no properties",
        "GET /bare 200 application/json: an object with no properties",
    ]


def test_path_model_keeps_its_from_key(document):
    props = _resolve(document, {"$ref": "#/components/schemas/PathOut"})["properties"]
    assert {"from", "to", "path"} <= set(props)


def _model_enum(doc: dict[str, Any], path: str, method: str = "get") -> list[str] | None:
    for param in doc["paths"][path][method].get("parameters", []):
        if param["name"] == "model":
            for branch in param["schema"].get("anyOf", [param["schema"]]):
                if "enum" in branch:
                    return branch["enum"]
    return None


def test_model_parameters_enumerate_the_registry(document):
    from songscape.models.registry import list_models

    specs = list_models()
    names = [s.name for s in specs]
    taggers = [s.name for s in specs if s.labels]
    assert _model_enum(document, "/api/map") == names
    assert _model_enum(document, "/api/tracks/{track_id}/similar") == names
    assert _model_enum(document, "/api/identify", "post") == names
    assert _model_enum(document, "/api/tracks/{track_id}/taggram") == taggers
    # the recommenders keep their own list
    assert "musicnn-msd" not in _model_enum(document, "/api/recommend")
