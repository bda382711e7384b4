"""The figure tables of README.md and docs/ say what bench/results says (no benchmark runs).

When this fails after a benchmark run, ``make figures`` re-renders the tables; when it
fails after a hand edit of a table, edit the bench script or its result instead.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _load_figures():
    spec = importlib.util.spec_from_file_location("bench_figures", ROOT / "bench" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


figures = _load_figures()


@pytest.mark.parametrize("path", figures.documents(), ids=lambda p: p.name)
def test_every_figure_table_matches_the_results(path: Path) -> None:
    text = path.read_text()
    fresh = figures.render(text)
    if fresh != text:
        diff = figures.stale().get(path, "")
        pytest.fail(f"{path.name}: figure tables differ from bench/results (run `make figures`):\n"
                    f"{diff}")


def test_every_table_is_rendered_exactly_once() -> None:
    names = [name for path in figures.documents() for name in figures.blocks(path.read_text())]
    assert sorted(names) == sorted(set(names)), "a figure block appears twice"
    assert set(names) == set(figures.TABLES), "a renderer without a block, or a block without one"


def test_a_changed_figure_is_caught_and_restored() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- figures:readme -->\n(.*?)<!-- /figures:readme -->", readme, re.S)
    assert block is not None
    body = block[1]
    number = re.search(r"\d\.\d{3}", body)[0]
    tampered = readme.replace(body, body.replace(number, "0.999", 1))
    assert tampered != readme
    assert figures.render(tampered) == readme


def test_every_readme_figure_names_its_script() -> None:
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- figures:readme -->\n(.*?)<!-- /figures:readme -->", readme, re.S)
    rows = [line for line in block[1].splitlines() if line.startswith("|")][2:]
    assert rows
    for row in rows:
        script = row.rstrip(" |").rsplit("|", 1)[1]
        named = re.search(r"`((?:bench|tests)/[\w/]+\.py)`", script)
        assert named, f"no script named in: {row}"
        assert (ROOT / named[1]).is_file(), f"{named[1]} does not exist"


@pytest.mark.parametrize("path", sorted((ROOT / "bench" / "results").glob("*.json")),
                         ids=lambda p: p.name)
def test_result_files_have_the_documented_envelope(path: Path) -> None:
    data = json.loads(path.read_text())
    assert set(data) == {"format", "script", "command", "provenance", "conditions", "results"}
    assert data["format"] == 1
    assert data["script"] == f"bench/{path.stem}.py" and (ROOT / data["script"]).is_file()
    assert data["command"].startswith(f"python bench/{path.stem}.py")
    assert data["conditions"]["date"] and data["provenance"]
