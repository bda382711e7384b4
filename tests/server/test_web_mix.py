"""The page's Mix panel in a real browser (issue 13): mix the queue, watch it render, play
it with its timeline (segments named, transitions marked and coloured by kind, hover text
with tempo ratio, key relation and cost), seek by clicking the timeline, download it;
"Mix from here" and "Mix path A→B" enable with what they need.

Debian's chromium driven by Playwright, as in ``test_web_flows.py``; the server is the app
under uvicorn in a thread, on the real three-clip library of tests/server/mix_library.py.
The screenshot goes to ``test-artifacts/web-mix.png`` (docs/img/web-mix.png is the same view
on a library of twelve clips).
"""

from __future__ import annotations

import shutil
import socket
import threading
import time

import pytest

from songscape.catalog.store import LibraryStore
from tests.helpers import REPO_ROOT
from tests.server.mix_library import mix_library

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist", "--autoplay-policy=no-user-gesture-required",
]  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory, worker_id):
    if CHROMIUM is None:
        pytest.skip("no chromium binary: run scripts/install_browser.sh (Debian's chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    import uvicorn

    from songscape.server.app import create_app

    root = mix_library(tmp_path_factory, worker_id, tmp_path_factory.mktemp("mixweb") / "lib")
    with LibraryStore(root) as store:
        ids = [r["id"] for r in store.conn.execute("SELECT id FROM tracks ORDER BY path")]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(create_app(root), log_level="error", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/", ids, root
    server.should_exit = True
    thread.join(timeout=15)


def _wait(page, predicate: str, arg=None, timeout: float = 60.0) -> None:
    """Poll a JS predicate through ``evaluate`` (the page's CSP forbids the ``new
    Function`` that ``wait_for_function`` uses)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"(arg) => ({predicate})(arg)", arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {predicate}")
        page.wait_for_timeout(100)


def test_mix_panel(served):
    from playwright.sync_api import sync_playwright

    url, ids, root = served
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1366, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(url)
        page.wait_for_selector("#mix-panel")
        _wait(page, "() => !!window.songscapeListen")
        # Nothing to mix yet: the buttons say what they need.
        assert page.is_disabled("#mix-queue") and page.is_disabled("#mix-path")
        assert "two or more" in page.get_attribute("#mix-queue", "title")
        # The queue: three songs, mixed in that order, highlights, crossfades.
        page.evaluate("(ids) => window.songscapeListen.enqueue(ids.map((id) => ({id})))", ids)
        _wait(page, "() => !document.getElementById('mix-queue').disabled")
        page.select_option("#mix-segments", "highlight")
        page.click("#mix-queue")
        _wait(page, "() => ['rendering', 'queued', 'done'].includes("
                    "document.getElementById('mix-panel').dataset.status)")  # fmt: skip
        _wait(page, "() => document.getElementById('mix-panel').dataset.status === 'done'")
        job = page.evaluate("window.songscapeMix.state.job")
        assert [s["track_id"] for s in job["plan"]["segments"]] == ids
        assert (root / "mixes" / f"{job['id']}.ogg").is_file()
        # The player has the mix; the timeline names each segment and marks each transition.
        assert page.get_attribute("#mix-player", "src") == job["audio_url"]
        names = page.eval_on_selector_all(".mix-seg span", "els => els.map(e => e.textContent)")
        assert len(names) == 3 and names[0].startswith("1. disco.00000")
        marks = page.eval_on_selector_all(
            ".mix-tr", "els => els.map(e => [e.dataset.kind, e.title])")  # fmt: skip
        kinds = [t["kind"] for t in job["plan"]["transitions"]]
        assert [k for k, _ in marks] == kinds and set(kinds) == {"beatmatched", "fade"}
        for (kind, title), t in zip(marks, job["plan"]["transitions"], strict=True):
            assert "key:" in title and "cost" in title
            if kind == "beatmatched":
                assert f"tempo ratio {t['tempo_ratio']:.3f}" in title and "bars" in title
            else:
                assert "fade" in title
        colours = page.eval_on_selector_all(
            ".mix-tr", "els => els.map(e => getComputedStyle(e).borderLeftColor)")  # fmt: skip
        assert len(set(colours)) == 2  # beat-matched and faded look different
        # Clicking the timeline seeks the mix: at 3/4 of the width, 3/4 of the way in.
        _wait(page, "() => document.getElementById('mix-player').readyState >= 1")
        box = page.locator("#mix-timeline").bounding_box()
        page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + 2)
        target = 0.75 * job["plan"]["duration_s"]
        # The seek may wait until the browser can reach that far into the file.
        _wait(page, "() => Math.abs(document.getElementById('mix-player').currentTime - "
                    f"{target}) < 1.5", timeout=20)  # fmt: skip
        t = page.evaluate("document.getElementById('mix-player').currentTime")
        # It plays (the mix's own player, the page's player paused).
        page.evaluate("document.getElementById('mix-player').play()")
        _wait(page, "() => document.getElementById('mix-player').currentTime > "
                    f"{t + 0.3}", timeout=20)  # fmt: skip
        # A download link to the file, by the name the CUE sheet uses.
        link = page.locator("#mix-download")
        assert link.get_attribute("href") == job["audio_url"]
        assert link.get_attribute("download") == f"{job['id']}.ogg"
        size = page.evaluate("(u) => fetch(u, {method: 'HEAD'}).then(r => "
                             "+r.headers.get('content-length'))", job["audio_url"])  # fmt: skip
        assert size == (root / "mixes" / f"{job['id']}.ogg").stat().st_size
        # Earlier mixes are listed; the tracklist can be saved as a playlist.
        _wait(page, "(id) => !!document.querySelector(`#mix-list li[data-mix='${id}']`)", job["id"])
        assert not page.is_disabled("#mix-save-open")
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#mix-panel").scroll_into_view_if_needed()
        page.wait_for_timeout(200)
        page.screenshot(path=str(ARTIFACTS / "web-mix.png"))
        # "Mix from here" follows the selection; "Mix path A→B" the two ends of a path.
        page.evaluate("(id) => window.songscape.selectId(id, {autoplay: false})", ids[1])
        _wait(page, "() => !document.getElementById('mix-here').disabled")
        page.evaluate("() => window.songscapeListen.setPathMode(true)")
        page.evaluate("(ids) => { const L = window.songscapeListen.state; "
                      "L.pathA = {id: ids[0]}; L.pathB = {id: ids[2]}; "
                      "window.songscapeMix.refreshButtons(); }", ids)  # fmt: skip
        assert not page.is_disabled("#mix-path")
        page.fill("#mix-count", "2")
        page.click("#mix-here")
        _wait(page, "() => { const j = window.songscapeMix.state.job; return j && "
                    f"j.plan.segments[0].track_id === '{ids[1]}'; }}")  # fmt: skip
        assert len(page.evaluate("window.songscapeMix.state.job.plan.segments")) == 2
        _wait(page, "() => document.getElementById('mix-panel').dataset.status === 'done'")
        page.click("#mix-path")
        _wait(page, "() => { const j = window.songscapeMix.state.job; return j && "
                    f"j.plan.segments[0].track_id === '{ids[0]}'; }}")  # fmt: skip
        last = page.evaluate("window.songscapeMix.state.job.plan.segments.at(-1).track_id")
        assert last == ids[2]
        browser.close()
    assert not errors, errors
