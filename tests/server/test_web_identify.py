"""The page's Identify panel in a real browser (issue 20): pick a clip, see the library
recording it was cut from and where (or "not in the library"), then the similar songs with
how they matched and their window; a click plays from that window in the page's player.

Debian's chromium driven by Playwright, as in ``test_web_flows.py``; the real
``songscape serve`` (:func:`tests.engines.songscape_serve`) on the three real excerpts of
:mod:`tests.library.identify_library`. The screenshots go to
``test-artifacts/web-identify.png`` (the page) and ``web-identify-panel.png`` (the panel,
as in docs/img/web-identify.png).
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request

import pytest

from tests.built_once import copy_library
from tests.engines import songscape_serve
from tests.helpers import REPO_ROOT
from tests.library.identify_library import INSIDE_OFFSET_S, identify_library

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip
PLAYING = ("(id) => document.getElementById('player').dataset.trackId === id"
           " && document.getElementById('player').readyState >= 1")  # fmt: skip
AT = "(t) => Math.abs(document.getElementById('player').currentTime - t) < 1.5"


@pytest.fixture(scope="module")
def served(tmp_path_factory, worker_id):
    if CHROMIUM is None:
        pytest.skip("no chromium binary: run scripts/install_browser.sh (Debian's chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    built = identify_library(tmp_path_factory, worker_id)
    root = copy_library(built / "lib", tmp_path_factory.mktemp("identify-web") / "lib")
    with songscape_serve(root) as server:
        yield server.url, built / "clips"


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as res:
        return json.loads(res.read())


def _wait(page, predicate: str, arg=None, timeout: float = 90.0) -> None:
    """Poll a JS predicate through ``evaluate`` (the page's CSP forbids the ``new
    Function`` that ``wait_for_function`` uses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"(arg) => ({predicate})(arg)", arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {predicate}")
        page.wait_for_timeout(100)


def _identify(page, clip) -> dict:
    """Pick ``clip`` in the panel's file input; wait for and return the API's answer."""
    page.evaluate("() => { document.getElementById('identify-panel').dataset.status = 'idle'; }")
    page.set_input_files("#identify-file", str(clip))
    # The server analyses the clip as `similar --file` does (all stages; the first request
    # also loads the models): minutes on a loaded 2-core machine.
    answered = ("() => ['done', 'error'].includes("
                "document.getElementById('identify-panel').dataset.status)")  # fmt: skip
    _wait(page, answered, timeout=300)
    assert page.get_attribute("#identify-panel", "data-status") == "done", page.inner_text(
        "#identify-status"
    )
    return page.evaluate("window.songscapeIdentify.state.answer")


def test_identify_panel(served):
    from playwright.sync_api import sync_playwright

    url, clips = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 1100})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        page.wait_for_selector("#identify-panel")
        _wait(page, "() => document.body.dataset.mapReady === 'true'", timeout=180)

        # A 10 s clip cut from song a, 6 s into the library's file: named, with its offset.
        answer = _identify(page, clips / "inside.wav")
        found = answer["identified"]
        track = _get(f"{url}api/tracks/{found['id']}")
        assert track["filename"] == "a.flac"
        assert abs(found["offset_s"] - INSIDE_OFFSET_S) < 0.5, found
        box = page.inner_text("#identify-found")
        assert "In your library" in box and track["display_title"] in box
        assert f"{found['offset_s']:.1f} s" in box and f"{found['matched_s']:.1f} s" in box
        assert page.get_attribute("#identify-found", "data-id") == found["id"]
        assert page.locator("#identify-none").count() == 0
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#identify-panel").screenshot(path=str(ARTIFACTS / "web-identify-found.png"))
        # "Play from 0:06" selects the song and plays it from where the clip sits.
        page.click("#identify-play")
        _wait(page, PLAYING, found["id"])
        _wait(page, AT, found["offset_s"])
        assert page.evaluate("document.body.dataset.selected") == found["id"]

        # 15 s of song a from outside the library's excerpt: not in the library; similar
        # songs by their windows (the clip's own two windows), each with its window.
        answer = _identify(page, clips / "outside.wav")
        assert answer["identified"] is None and answer["matched_by"] == "segment"
        assert page.locator("#identify-found").count() == 0
        assert "Not in the library" in page.inner_text("#identify-none")
        items = page.locator("#identify-similar > li")
        assert items.count() == len(answer["similar"]) == 3
        assert page.get_attribute("#identify-similar", "data-matched-by") == "segment"
        for i, r in enumerate(answer["similar"]):
            w = r["window"]
            assert "query_start_s" in w  # compared by the clip's own windows (a 15 s clip)
            text = items.nth(i).inner_text()
            assert "segment" in text and "window" in text and r["display_title"] in text
            start = float(items.nth(i).get_attribute("data-start"))
            assert start == pytest.approx(w["start_s"])
        page.locator("#identify-panel").scroll_into_view_if_needed()
        page.wait_for_timeout(200)
        page.screenshot(path=str(ARTIFACTS / "web-identify.png"))
        page.locator("#identify-panel").screenshot(path=str(ARTIFACTS / "web-identify-panel.png"))
        # Clicking a result plays that song from its window's start.
        target = next((r for r in answer["similar"] if r["window"]["start_s"] > 0),
                      answer["similar"][0])  # fmt: skip
        page.click(f"#identify-similar > li[data-id='{target['id']}'] .pick")
        _wait(page, PLAYING, target["id"])
        _wait(page, AT, target["window"]["start_s"])
        assert "matching window" in page.inner_text("#now-playing") or (
            target["window"]["start_s"] == 0
        )
        assert not errors, errors
        browser.close()
