"""The map page's listening flows and the map that speaks, in a real browser (issue 17).

Debian's chromium driven by Playwright, as in ``test_e2e.py``, but on a synthetic library
(:func:`songscape.synthetic.catalogs.build_synthetic_library`: no audio analysis, seconds
to build) of 14 tracks with a 1 s WAV each, so a queue or the radio advances within a
second. The files sit in one folder per genre and all but two lose their genre tag, so the
map's genres come from the folder names. 14 tracks keep the map on PCA (no UMAP start-up).

The highlight, sections and energy curve of ``/api/tracks/{id}`` (issue 18's contract,
null when not computed) are added to the responses in the browser (Playwright routes),
so the page's player, hover preview and timeline are tested whether or not the library
has computed them.

Screenshots go to ``test-artifacts/`` (laptop 1366x800 and phone 390x844).
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from tests.engines import songscape_serve
from tests.helpers import REPO_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO_ROOT / "test-artifacts"
N_TRACKS = 14
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--use-gl=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
    "--autoplay-policy=no-user-gesture-required",
]
HIGHLIGHT = {"start_s": 0.25, "end_s": 0.75, "method": "test", "score": 0.9}
SECTIONS = [
    {"start_s": 0.0, "end_s": 0.4, "label": "A"},
    {"start_s": 0.4, "end_s": 0.8, "label": "B"},
    {"start_s": 0.8, "end_s": 1.0, "label": "A"},
]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if CHROMIUM is None:
        pytest.skip("no chromium binary: run scripts/install_browser.sh (Debian's chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from songscape.catalog import tracks
    from songscape.catalog.store import LibraryStore
    from songscape.synthetic.catalogs import build_synthetic_library

    root = tmp_path_factory.mktemp("flows")
    ids = build_synthetic_library(
        root / "lib", N_TRACKS, seed=17, audio_dir=root / "music", n_audio=N_TRACKS
    )
    with LibraryStore(root / "lib") as store, store.transaction() as conn:
        for track_id in ids[2:]:
            tracks.set_file_columns(conn, track_id, {"genre": None, "duration_s": 1.0})
        for track_id in ids[:2]:
            tracks.set_file_columns(conn, track_id, {"duration_s": 1.0})
    # Listening data for the "for you" panel: two listeners with plays of library tracks.
    from songscape.recommend.importer import import_events

    events = root / "plays.csv"
    rows = [f"ann,{t},{k + 1}" for k, t in enumerate(ids[:8])]
    rows += [f"bob,{t},2" for t in ids[5:]]
    events.write_text("user,item,count\n" + "\n".join(rows) + "\n", encoding="utf-8")
    with LibraryStore(root / "lib") as store:
        import_events(store, events, "csv")
    return root / "lib"


@pytest.fixture(scope="module")
def server(library: Path):
    with songscape_serve(library) as served:
        yield served.url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _with_highlights(route) -> None:
    """``/api/tracks/{id}`` with a highlight, sections and an energy curve added."""
    response = route.fetch()
    body = response.json()
    body["highlight"] = HIGHLIGHT
    body["sections"] = SECTIONS
    body["energy_curve"] = {
        "times_s": [k / 20 for k in range(21)],
        "values": [abs(((k % 10) - 5) / 5) for k in range(21)],
    }
    route.fulfill(response=response, body=json.dumps(body))


def _open(browser, url: str, width: int = 1366, height: int = 800, highlights: bool = True):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    if highlights:
        page.route(re.compile(r".*/api/tracks/[0-9a-f]+$"), _with_highlights)
    page.goto(url)
    page.wait_for_selector("body[data-map-ready=true]", timeout=60_000)
    return page, errors


def _wait(page, predicate: str, arg=None, timeout: float = 30.0) -> None:
    """Poll ``predicate`` (a JS function of ``arg``) until it is true.

    ``page.wait_for_function`` compiles its predicate with ``new Function`` inside the page,
    which the page's Content-Security-Policy (no ``'unsafe-eval'``) forbids; ``evaluate``
    goes through the DevTools protocol and is not subject to it.
    """
    deadline = time.monotonic() + timeout
    while True:
        if page.evaluate(f"(arg) => ({predicate})(arg)", arg):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {predicate}")
        page.wait_for_timeout(100)


def _state(page, expr: str):
    return page.evaluate(f"(() => {{ const s = window.songscape.state; return {expr}; }})()")


def _select(page, track_id: str) -> None:
    page.evaluate("(id) => window.songscape.selectId(id)", track_id)
    _wait_selected(page, track_id)


def _wait_selected(page, track_id: str) -> None:
    """Until ``track_id`` is selected, its nearest songs listed and its distances loaded."""
    _wait(
        page,
        "(id) => document.body.dataset.selected === id"
        " && document.getElementById('neighbours').dataset.for === id"
        " && !document.getElementById('distance').disabled",
        track_id,
    )


def _queue(page) -> list[str]:
    return page.eval_on_selector_all("#queue li[data-id]", "els => els.map(e => e.dataset.id)")


def _played(page) -> list[str]:
    return page.evaluate("window.songscapeListen.state.log")


def _player_src(page) -> str:
    return page.get_attribute("#player", "src") or ""


def _saved(page, name: str) -> dict:
    """The saved playlist ``name`` as the API serves it (through the page's origin)."""
    return page.evaluate(
        "(n) => fetch('/api/playlists/' + encodeURIComponent(n)).then(r => r.json())", name
    )


def _saved_ids(page, name: str) -> list[str]:
    return [t["id"] for t in _saved(page, name)["tracks"]]


def _list_ids(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(
        f"{selector} > li[data-id]", "els => els.map(e => e.dataset.id)"
    )


def _save_list(page, key: str, name: str) -> None:
    """Open ``#KEY-save-open``, type ``name``, press Save (no wait)."""
    page.click(f"#{key}-save-open")
    page.fill(f"#{key}-save-name", name)
    page.click(f"#{key}-save-form button[type=submit]")


def _overlap(a: dict, b: dict) -> bool:
    """Whether two bounding boxes (Playwright's x, y, width, height) intersect."""
    return (a["x"] < b["x"] + b["width"] and b["x"] < a["x"] + a["width"]
            and a["y"] < b["y"] + b["height"] and b["y"] < a["y"] + a["height"])  # fmt: skip


def test_the_map_speaks(server, browser):
    page, errors = _open(browser, server)
    m = page.evaluate("window.songscape.state.map")
    # Cluster names from the tags, written in the scene at the clusters' centres.
    names = m["cluster_names"]
    assert len(names) == m["n_clusters"] >= 2
    assert not any(re.fullmatch(r"cluster \d+", n) for n in names)
    labels = page.evaluate(
        "document.getElementById('map').data.find(t => t.meta === '__labels').text"
    )
    assert sorted(labels) == sorted(names)
    # Genres: two from tags, the others from the folder names, said so.
    sources = m["fields"]["genre_source"]
    assert sources.count("tag") == 2 and sources.count("folder") == N_TRACKS - 2
    assert all(g for g in m["fields"]["genre"])
    # The default colouring is the genre (every point has one), and its legend lists them.
    assert page.evaluate("document.body.dataset.colour") == "genre"
    legend = page.evaluate(
        "document.getElementById('map').data.filter(t => !String(t.meta).startsWith('__'))"
        ".map(t => t.name)"
    )
    genres = {g.lower() for g in m["fields"]["genre"]}
    assert {re.sub(r" \(\d+\)$", "", n) for n in legend} == genres
    assert "(folder name)" in " ".join(
        page.evaluate("document.getElementById('map').data.flatMap(t => t.text || [])")
    )
    # The colour control offers exactly what the server offers.
    options = page.eval_on_selector_all("#colour-by option", "els => els.map(e => e.value)")
    assert options == [f["name"] for f in m["colour_fields"]]
    # Keys are coloured around the circle of fifths: C and A minor share a hue, G is 30° on.
    page.select_option("#colour-by", "key")
    page.wait_for_timeout(300)
    hues = page.evaluate(
        """() => Object.fromEntries(['C major', 'A minor', 'G major', 'E minor', 'F# major']
             .map(k => [k, keyColour(k)]))"""
    )
    assert hues["C major"].startswith("hsl(0,") and hues["A minor"].startswith("hsl(0,")
    assert hues["G major"].startswith("hsl(30,") and hues["E minor"].startswith("hsl(30,")
    assert hues["F# major"].startswith("hsl(180,")
    page.select_option("#colour-by", "cluster")
    page.wait_for_timeout(300)
    legend = page.evaluate("document.getElementById('map').data.map(t => t.name)")
    assert all(any(name.startswith(n) for name in legend) for n in names)

    # Axes stay fixed while filtering: the N nearest songs and a legend category.
    ranges = (
        "['xaxis','yaxis','zaxis'].map(a => document.getElementById('map')._fullLayout"
        ".scene[a].range.map(v => Math.round(v * 1e6) / 1e6))"
    )
    before = page.evaluate(ranges)
    _select(page, m["ids"][0])
    page.evaluate(
        "() => { const el = document.getElementById('distance'); el.value = '3';"
        " el.dispatchEvent(new Event('input')); }"
    )
    page.wait_for_timeout(400)
    assert "3 nearest songs" in page.inner_text("#distance-value")
    visible = page.evaluate(
        "document.getElementById('map').data.filter(t => !String(t.meta).startsWith('__'))"
        ".reduce((n, t) => n + t.x.length, 0)"
    )
    assert visible == 4  # the selection and its 3 nearest songs
    assert page.evaluate(ranges) == before
    page.click("#reset")
    page.wait_for_timeout(300)
    assert page.evaluate(ranges) == before

    # Point size adapts to the screen: smaller on a phone.
    laptop_size = page.evaluate("markerSize()")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-flows-laptop.png"))
    assert errors == []
    page.close()
    phone, errors = _open(browser, server, 390, 844)
    assert phone.evaluate("markerSize()") < laptop_size
    phone.close()


def test_player_highlight_timeline_and_preview(server, browser):
    page, errors = _open(browser, server)
    ids = page.evaluate("window.songscape.state.map.ids")
    _select(page, ids[1])
    # The player starts at the highlight; the 0:00 button goes back to the start.
    assert page.evaluate("document.getElementById('player').dataset.start") == "0.25"
    assert "highlight at 0:00" in page.inner_text("#now-playing")
    label = page.get_attribute("#timeline-canvas", "aria-label")
    assert "sections A from 0:00, B from 0:00, A from 0:01" in label
    assert "highlight from 0:00 to 0:01" in label
    assert page.evaluate(
        "(() => { const c = document.getElementById('timeline-canvas').getContext('2d');"
        " const d = c.getImageData(0, 0, c.canvas.width, c.canvas.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 0; return n; })()"
    ) > 100  # drawn
    page.evaluate("document.getElementById('player').pause()")
    page.click("#from-start")
    assert page.evaluate("document.getElementById('player').currentTime") < 0.2
    # Hovering a point previews its highlight (debounced) while the player is paused.
    page.evaluate("document.getElementById('player').pause()")
    page.evaluate("(id) => window.previewHover(id)", ids[2])
    _wait(page, "(id) => document.body.dataset.preview === id", ids[2], timeout=5)
    assert page.get_attribute("#preview", "src") == f"/api/tracks/{ids[2]}/audio"
    page.evaluate("window.previewStop()")
    assert page.evaluate("document.body.dataset.preview") is None
    assert errors == []
    page.close()


def test_queue_radio_keys_and_shared_url(server, browser):
    page, errors = _open(browser, server)
    ids = page.evaluate("window.songscape.state.map.ids")
    _select(page, ids[0])
    # The URL names the selection; opening it restores the selection.
    assert parse_qs(urlparse(page.url).query)["track"] == [ids[0]]
    shared, shared_errors = _open(browser, page.url)
    _wait(shared, "(id) => document.body.dataset.selected === id", ids[0], timeout=60)
    assert shared.inner_text("#info-title") == page.inner_text("#info-title")
    assert shared_errors == []
    shared.close()
    # Keys: n moves to the nearest neighbour, p back.
    first_neighbour = page.get_attribute("#neighbours li:first-child", "data-id")
    page.focus("body")
    page.keyboard.press("n")
    _wait_selected(page, first_neighbour)
    page.keyboard.press("p")
    _wait_selected(page, ids[0])
    # The queue: two neighbours added with "+", played in order as each one ends (1 s files).
    page.evaluate("document.getElementById('player').pause()")  # no end starts the queue
    queued = page.eval_on_selector_all(
        "#neighbours li[data-id]", "els => els.slice(0, 2).map(e => e.dataset.id)"
    )
    page.click("#neighbours li:nth-child(1) button.queue-add")
    page.click("#neighbours li:nth-child(2) button.queue-add")
    assert _queue(page) == queued
    start = len(_played(page))
    page.click("#queue li:nth-child(1) button.pick")
    _wait(page, "([n, id]) => window.songscapeListen.state.log.slice(n).includes(id)",
          [start, queued[1]], timeout=20)
    log = _played(page)[start:]
    assert log.index(queued[0]) < log.index(queued[1])
    _wait(page, "(id) => document.querySelector('#queue li.current').dataset.id === id",
          queued[1])
    # Radio: when the queue ends, the nearest unplayed song plays next.
    page.check("#radio")
    _wait(page, "(n) => document.querySelectorAll('#queue li[data-id]').length > n", 2, timeout=15)
    radio_id = page.evaluate("window.songscapeListen.state.queue[2].id")
    assert radio_id not in queued and radio_id not in log
    _wait(page, "(id) => window.songscapeListen.state.log.includes(id)", radio_id, timeout=15)
    assert "Radio" in page.inner_text("#radio-status")
    page.uncheck("#radio")
    assert errors == []
    page.close()


def test_path_mode(server, browser):
    page, errors = _open(browser, server)
    ids = page.evaluate("window.songscape.state.map.ids")
    page.click("#path-mode")
    assert page.get_attribute("#path-mode", "aria-pressed") == "true"
    page.evaluate("(id) => window.songscape.selectId(id, {autoplay: false})", ids[3])
    _wait(page, "() => document.getElementById('path-help').textContent.includes('(B)')")
    page.evaluate("(id) => window.songscape.selectId(id, {autoplay: false})", ids[9])
    page.wait_for_selector("#path-list li[data-id]")
    path = page.eval_on_selector_all("#path-list li", "els => els.map(e => e.dataset.id)")
    assert path[0] == ids[3] and path[-1] == ids[9] and len(path) >= 3
    drawn = page.evaluate(
        "document.getElementById('map').data.find(t => t.meta === '__path').customdata"
    )
    assert [ids[i] for i in drawn] == path
    page.wait_for_timeout(300)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-flows-path.png"))
    # The path list saved as shown (its own "Save as playlist…", the suggested name).
    page.click("#path-save-open")
    assert page.input_value("#path-save-name").endswith(" to " + page.evaluate(
        "window.songscapeListen.state.path.at(-1).title"))
    page.fill("#path-save-name", "path list")
    page.click("#path-save-form button[type=submit]")
    page.wait_for_selector("#path-save-status[data-saved='path list']")
    assert _saved_ids(page, "path list") == path
    page.click("#path-play")
    _wait(page, "(id) => document.body.dataset.selected === id", path[0])
    assert _queue(page) == path
    # The queue saved as a playlist of the library, listed, and served back in order.
    page.fill("#playlist-name", "a to b")
    page.click("#playlist-save button[type=submit]")
    page.wait_for_selector("#playlists li[data-name='a to b']")
    saved = page.evaluate(
        "fetch('/api/playlists/' + encodeURIComponent('a to b')).then(r => r.json())"
    )
    assert [t["id"] for t in saved["tracks"]] == path
    assert errors == []
    page.close()


def test_search_results_in_view_on_a_phone(server, browser):
    page, errors = _open(browser, server, 390, 844, highlights=False)
    box = page.locator("#map").bounding_box()
    assert box["width"] <= 390 and box["height"] >= 300
    page.fill("#search-input", "jazz")
    page.press("#search-input", "Enter")
    page.wait_for_selector("#search-results li[data-id]")
    page.wait_for_timeout(300)
    panel = page.locator("#results-panel").bounding_box()
    assert 0 <= panel["y"] < 844 - 100  # in view, not ~1000 px below the map
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-flows-phone.png"))
    assert errors == []
    page.close()


def test_for_you_panel_and_radio(server, browser):
    page, errors = _open(browser, server)
    page.wait_for_selector("#foryou-panel:not([hidden])")
    users = page.eval_on_selector_all("#foryou-user option", "els => els.map(e => e.value)")
    assert sorted(users) == ["ann", "bob"]
    page.select_option("#foryou-user", "ann")
    _wait(page, "() => document.getElementById('foryou-status').textContent.includes('for ann')",
          timeout=60)
    listed = page.eval_on_selector_all("#foryou li[data-id]", "els => els.map(e => e.dataset.id)")
    assert listed and set(listed) <= set(page.evaluate("window.songscape.state.map.ids"))
    page.click("#foryou-play")
    _wait(page, "(id) => document.body.dataset.selected === id", listed[0])
    assert _queue(page) == listed
    assert errors == []
    page.close()


def test_save_shown_lists_as_playlists(server, browser):
    """"Save as playlist…" on the nearest songs and on search results: the playlist the
    API serves holds the shown tracks in the shown order; a taken name is refused with a
    message (nothing replaced) until "Replace it"; the M3U8 download lists every track."""
    page, errors = _open(browser, server, highlights=False)
    ids = page.evaluate("window.songscape.state.map.ids")
    _select(page, ids[0])
    near = _list_ids(page, "#neighbours")
    assert len(near) >= 3
    page.click("#neighbours-save-open")
    title = page.inner_text("#info-title")
    assert page.input_value("#neighbours-save-name") == f"Like {title}"
    page.fill("#neighbours-save-name", "near one")
    page.click("#neighbours-save-form button[type=submit]")
    page.wait_for_selector("#neighbours-save-status[data-saved='near one']")
    assert f"Saved “near one” ({len(near)} songs)" in page.inner_text("#neighbours-save-status")
    saved = _saved(page, "near one")
    assert [t["id"] for t in saved["tracks"]] == near and saved["source"] == f"similar:{ids[0]}"
    page.wait_for_selector("#playlists li[data-name='near one']")

    page.fill("#search-input", "jazz")
    page.press("#search-input", "Enter")
    page.wait_for_selector("#search-results li[data-id]")
    hits = _list_ids(page, "#search-results")
    _save_list(page, "search", "jazz list")
    page.wait_for_selector("#search-save-status[data-saved='jazz list']")
    saved = _saved(page, "jazz list")
    assert [t["id"] for t in saved["tracks"]] == hits and saved["source"] == "search:jazz"
    # The confirmation offers the M3U8 file: one #EXTINF per track, in order.
    href = page.get_attribute("#search-save-status a:text('M3U8')", "href")
    m3u = page.request.get(server.rstrip("/") + href)
    assert m3u.status == 200 and m3u.text().count("#EXTINF:") == len(hits)

    # A taken name: refused with a message, the old playlist untouched; then replaced.
    _save_list(page, "search", "near one")
    page.wait_for_selector("#search-save-status.error button.replace")
    assert "already exists" in page.inner_text("#search-save-status")
    assert _saved_ids(page, "near one") == near
    page.click("#search-save-status button.replace")
    page.wait_for_selector("#search-save-status[data-saved='near one']")
    assert _saved_ids(page, "near one") == hits
    # A name the API would refuse: said so before any request.
    _save_list(page, "search", "a/b")
    _wait(page, "() => document.getElementById('search-save-status').textContent"
                ".includes('cannot hold slashes')")
    assert "a/b" not in {p["name"] for p in page.evaluate(
        "fetch('/api/playlists').then(r => r.json())")["playlists"]}
    assert errors == []
    page.close()


def test_nothing_overlaps_the_player(server, browser):
    """At phone and laptop sizes the Sing button (static/sing.js) covers neither the player
    nor the top bar's title, summary and search form, wherever the page is scrolled; on a
    laptop the page itself does not scroll (hidden labels stay inside the side panel)."""
    for width, height in ((390, 844), (1366, 800)):
        page, errors = _open(browser, server, width, height, highlights=False)
        page.wait_for_selector(".sing-open")
        _select(page, page.evaluate("window.songscape.state.map.ids[0]"))
        for scroll in ("#player", "#queue-panel", ".topbar"):
            page.locator(scroll).scroll_into_view_if_needed()
            page.wait_for_timeout(100)
            sing = page.locator(".sing-open").bounding_box()
            assert sing["x"] >= 0 and sing["x"] + sing["width"] <= width
            for other in ("#player", "#search-form", ".brand h1", "#library-summary"):
                box = page.locator(other).bounding_box()
                assert not _overlap(sing, box), (width, scroll, other, sing, box)
        player = page.locator("#player").bounding_box()
        assert player["x"] >= 0 and player["x"] + player["width"] <= width
        if width >= 760:  # the side panel scrolls, the page does not (top bar stays put)
            assert page.evaluate("document.scrollingElement.scrollHeight") <= height + 1
        if width < 760:
            ARTIFACTS.mkdir(exist_ok=True)
            page.locator(".topbar").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "web-flows-phone-top.png"))
        assert errors == []
        page.close()
