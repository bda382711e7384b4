"""The map page in a real browser: Debian's chromium driven by Playwright.

The library is built once for the module from ../shared/data: 2 GTZAN clips of each of 8
genres and 2 tagged librosa_data songs, each cut to its first 8 seconds (so ingest
stays short) and written as OGG with Vorbis comments (GTZAN: title = clip name, genre =
GTZAN label; librosa: the original title/artist/album/genre), plus librosa's 5 s trumpet
loop as is: 19 tracks, enough for a UMAP map.

The server is the real command, ``songscape serve --port 0 --no-browser``, in a
subprocess; the test reads the URL it prints.

Clicking a point: a 3D scatter has no DOM element per point, so the test projects the
points to the screen with the scene's camera matrices (Plotly keeps them on
``gd._fullLayout.scene._scene.glplot.cameraParams``), moves the real mouse there until
Plotly's ``plotly_hover`` event reports a point under the cursor, then presses and
releases the mouse button, as a person would; the page's ``plotly_click`` handler does
the rest. Should the projection fail (Plotly internals change), a grid scan of the plot
takes over.

Screenshots go to ``test-artifacts/`` at the repository root (laptop 1366x800 and phone
390x844). Skipped when no ``chromium`` binary is found (``scripts/install_browser.sh``
installs it) or Playwright is missing.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songscape.ingest.pipeline import IngestOptions
from songscape.library.library import Library
from tests.engines import songscape_serve
from tests.helpers import REPO_ROOT, gtzan_clips, shared_data

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO_ROOT / "test-artifacts"
GENRES = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "reggae")
LIBROSA_TAGGED = ("Kevin_MacLeod_-_Vibe_Ace.ogg", "Karissa_Hobbs_-_Lets_Go_Fishin.ogg")
CLIP_S = 8.0
CHROMIUM_ARGS = [
    "--no-sandbox",  # tests may run as root
    "--use-gl=swiftshader",  # WebGL (Plotly's 3D scatter) without a GPU
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
    "--autoplay-policy=no-user-gesture-required",
]


def _cut(src: Path, dest: Path, tags: dict[str, str]) -> None:
    """The first CLIP_S seconds of ``src`` as OGG/Vorbis with ``tags`` as Vorbis comments."""
    from mutagen.oggvorbis import OggVorbis

    y, sr = sf.read(src, dtype="float32", frames=-1)
    y = y[: int(CLIP_S * sr)]
    dest.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dest, y, sr, format="OGG", subtype="VORBIS")
    if tags:
        ogg = OggVorbis(dest)
        for key, value in tags.items():
            ogg[key] = [value]
        ogg.save()


def _build_music(folder: Path) -> int:
    from mutagen import File as MutagenFile

    n = 0
    for clip in gtzan_clips(2 * len(GENRES), GENRES):
        genre = clip.parent.name
        _cut(clip, folder / "gtzan" / f"{clip.stem}.ogg", {"title": clip.stem, "genre": genre})
        n += 1
    for name in LIBROSA_TAGGED:
        src = shared_data("librosa_data", "audio", name)
        original = MutagenFile(src)
        tags = {k: original[k][0] for k in ("title", "artist", "album", "genre") if k in original}
        _cut(src, folder / "librosa" / name, tags)
        n += 1
    trumpet = shared_data("librosa_data", "audio", "sorohanro_-_solo-trumpet-06.ogg")
    shutil.copy2(trumpet, folder / "librosa" / trumpet.name)
    return n + 1


@pytest.fixture(scope="module")
def library_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    if CHROMIUM is None:
        pytest.skip("no chromium binary: run scripts/install_browser.sh (Debian's chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    root = tmp_path_factory.mktemp("e2e")
    n = _build_music(root / "music")
    with Library(root / "lib", create=True) as lib:
        report = lib.ingest([root / "music"], IngestOptions(workers=1))
    assert report.added == n and report.failed == 0
    return root / "lib", n


@pytest.fixture(scope="module")
def server(library_dir):
    lib, n = library_dir
    with songscape_serve(lib) as served:
        yield served.url, n


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, url: str, width: int, height: int):
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(url)
    page.wait_for_selector("body[data-map-ready=true]", timeout=60_000)
    return page, errors


def _wait(page, predicate: str, arg=None, timeout: float = 30.0) -> None:
    """Poll ``predicate`` (a JS function of ``arg``) until it is true. Not
    ``page.wait_for_function``: it compiles its predicate with ``new Function`` in the page,
    which the page's Content-Security-Policy (no ``'unsafe-eval'``) forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"(arg) => ({predicate})(arg)", arg):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {predicate}")
        page.wait_for_timeout(100)


def _visible_points(page) -> int:
    """Points drawn in the colour traces (overlays such as "nearest 3" excluded)."""
    return page.evaluate(
        """() => document.getElementById('map').data
             .filter(t => !String(t.meta || '').startsWith('__') || t.meta === '__other')
             .filter(t => t.visible !== 'legendonly')
             .reduce((n, t) => n + t.x.length, 0)"""
    )


def _overlay(page, name: str) -> list[int]:
    return page.evaluate(
        "(name) => { const t = document.getElementById('map').data.find(t => t.name === name);"
        " return t ? t.customdata : []; }",
        name,
    )


# Screen positions of the drawn points: Plotly's 3D scene keeps its camera matrices
# (column-major, gl-matrix) and per-axis data scale; project data -> clip -> CSS pixels.
_PROJECT_JS = """() => {
  const gd = document.getElementById('map');
  const scene = gd._fullLayout.scene._scene;
  const cam = scene.glplot.cameraParams;
  const mul = (m, v) => [0, 1, 2, 3].map(
    r => m[r] * v[0] + m[4 + r] * v[1] + m[8 + r] * v[2] + m[12 + r] * v[3]);
  const rect = scene.glplot.canvas.getBoundingClientRect();
  const out = [];
  for (const t of gd.data) {
    if (String(t.meta || '').startsWith('__') && t.meta !== '__other') continue;
    t.x.forEach((x, k) => {
      const p = [x * scene.dataScale[0], t.y[k] * scene.dataScale[1],
                 t.z[k] * scene.dataScale[2], 1];
      const c = mul(cam.projection, mul(cam.view, mul(cam.model, p)));
      out.push({i: t.customdata[k], x: rect.left + (c[0] / c[3] + 1) / 2 * rect.width,
                y: rect.top + (1 - c[1] / c[3]) / 2 * rect.height});
    });
  }
  return out;
}"""


def _candidates(page) -> list[tuple[float, float]]:
    """Where to put the mouse: projected points (nearest the centre first), then a grid."""
    box = page.locator("#map").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    try:
        projected = [(p["x"], p["y"]) for p in page.evaluate(_PROJECT_JS)]
    except Exception:  # noqa: BLE001 - Plotly internals changed: the grid still works
        projected = []
    grid = [(cx + dx, cy + dy) for dx in np.arange(-0.4, 0.41, 0.025) * box["width"]
            for dy in np.arange(-0.4, 0.41, 0.025) * box["height"]]  # fmt: skip
    inside = [
        p for p in projected
        if box["x"] + 0.25 * box["width"] < p[0] < box["x"] + 0.95 * box["width"]
        and box["y"] + 0.05 * box["height"] < p[1] < box["y"] + 0.95 * box["height"]
    ]  # fmt: skip (the legend covers the left quarter)
    def by_centre(p: tuple[float, float]) -> float:
        return (p[0] - cx) ** 2 + (p[1] - cy) ** 2

    return sorted(inside, key=by_centre) + sorted(grid, key=by_centre)


def _click_a_point(page) -> int:
    """Put the real mouse on a point and click it; returns the clicked point's index.

    The mouse goes to the projected screen positions of the points (then, should that
    fail, over a grid) until Plotly's ``plotly_hover`` reports a point under it. Plotly
    picks the point under the cursor while it redraws, so the test holds still, then
    presses and releases the button; if no ``plotly_click`` reached the page (a redraw in
    between), it tries again.
    """
    page.evaluate(
        """() => { window.__hovered = null; window.__clicked = null;
             const gd = document.getElementById('map');
             gd.on('plotly_hover', e => { window.__hovered = e.points[0].customdata; });
             gd.on('plotly_unhover', () => { window.__hovered = null; });
             gd.on('plotly_click', e => { window.__clicked = e.points[0].customdata; }); }"""
    )
    for x, y in _candidates(page):
        page.mouse.move(x, y)
        page.wait_for_timeout(30)
        if page.evaluate("window.__hovered") is None:
            page.wait_for_timeout(120)  # give the redraw (and the pick) a moment
            if page.evaluate("window.__hovered") is None:
                continue
        for _ in range(4):
            page.wait_for_timeout(300)  # hold still over the point
            if page.evaluate("window.__hovered") is None:
                break
            page.mouse.down()
            page.wait_for_timeout(80)
            page.mouse.up()
            try:
                _wait(page, "() => window.__clicked !== null", timeout=2)
            except Exception:  # noqa: BLE001 - no click event yet: hold still and retry
                continue
            return int(page.evaluate("window.__clicked"))
    pytest.fail("no point of the 3D scatter could be clicked with the mouse")


class _Steps:
    """Prints how long each step took (shown with ``pytest -s``)."""

    def __init__(self) -> None:
        self.t = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        print(f"e2e step {name}: {now - self.t:.1f} s")
        self.t = now


def test_the_map_page_in_a_browser(server, browser):
    url, n = server
    step = _Steps()
    ARTIFACTS.mkdir(exist_ok=True)
    page, errors = _open(browser, url, 1366, 800)
    step("page ready")
    assert page.evaluate("document.body.dataset.points") == str(n)
    assert _visible_points(page) == n
    assert "UMAP" in page.inner_text("#map-status")
    offered = page.evaluate("window.songscape.state.map.colour_fields.map(f => f.name)")
    assert page.eval_on_selector_all("#colour-by option", "els => els.map(e => e.value)") == offered

    # Click a point: the info panel, the player and the 5 nearest songs follow.
    index = _click_a_point(page)
    step("point clicked")
    state = page.evaluate(
        "(i) => ({id: window.songscape.state.map.ids[i],"
        " title: window.songscape.state.map.fields.title[i]})",
        index,
    )
    _wait(page, "(id) => document.getElementById('neighbours').dataset.for === id", state["id"])
    assert page.locator("#neighbours li[data-id]").count() == 5
    assert page.inner_text("#info-title") == state["title"]
    info = page.inner_text("#info-panel")
    for label in ("Album", "Tempo", "Key", "Loudness", "Top tags"):
        assert label in info
    assert page.locator("#info-panel .tags li").count() >= 3
    src = page.get_attribute("#player", "src")
    assert src == f"/api/tracks/{state['id']}/audio"
    # The browser loads the audio through the API (Range requests) and knows its length.
    _wait(page, "() => document.getElementById('player').duration > 0", timeout=15)
    assert abs(page.evaluate("document.getElementById('player').duration") - CLIP_S) < 3.5
    step("info panel, neighbours, audio")
    status = page.evaluate(
        "(src) => fetch(src, {headers: {Range: 'bytes=0-15'}}).then(r => r.status)", src
    )
    assert status == 206
    neighbours = page.eval_on_selector_all("#neighbours li", "els => els.map(e => e.dataset.id)")
    assert state["id"] not in neighbours and len(set(neighbours)) == 5
    _wait(page, "() => document.getElementById('map').data.some(t => t.name === 'nearest')")
    marked = _overlay(page, "nearest")
    ids = page.evaluate("window.songscape.state.map.ids")
    assert sorted(ids[i] for i in marked) == sorted(neighbours)
    assert _overlay(page, "selected") == [index]

    # Each neighbour is playable.
    page.click("#neighbours li:nth-child(2) button.play")
    assert page.get_attribute("#player", "src") == f"/api/tracks/{neighbours[1]}/audio"
    assert "Playing" in page.inner_text("#now-playing")

    # "N nearest songs": keyboard Home = 1 keeps the selection and its nearest song; at 3,
    # the selection and its 3 nearest songs (the first 3 of the list).
    _wait(page, "() => !document.getElementById('distance').disabled")
    page.focus("#distance")
    page.keyboard.press("Home")
    page.wait_for_timeout(300)
    assert _visible_points(page) == 2
    assert "1 nearest song" in page.inner_text("#distance-value")
    page.evaluate(
        """() => { const el = document.getElementById('distance'); el.value = '3';
             el.dispatchEvent(new Event('input')); }"""
    )
    page.wait_for_timeout(300)
    assert _visible_points(page) == 4
    visible_ids = page.evaluate(
        """() => document.getElementById('map').data
             .filter(t => !String(t.meta || '').startsWith('__'))
             .flatMap(t => t.customdata.map(i => window.songscape.state.map.ids[i]))"""
    )
    assert set(neighbours[:3]) <= set(visible_ids)
    assert "3 nearest songs" in page.inner_text("#distance-value")
    page.click("#reset")
    page.wait_for_timeout(300)
    assert _visible_points(page) == n
    step("distance slider, reset")

    # Colour by genre: the legend has the 8 GTZAN genres (+ the librosa songs' genres).
    page.select_option("#colour-by", "genre")
    page.wait_for_timeout(300)
    legend = page.evaluate("document.getElementById('map').data.map(t => t.name)")
    assert all(any(name.startswith(f"{g} (") for name in legend) for g in GENRES)

    # Search: the hits are listed and marked in the plot.
    page.fill("#search-input", "jazz")
    page.press("#search-input", "Enter")
    page.wait_for_selector("#search-results li[data-id]")
    hits = page.eval_on_selector_all("#search-results li", "els => els.map(e => e.dataset.id)")
    assert hits and sorted(ids[i] for i in _overlay(page, "search hits")) == sorted(hits)
    assert "understood as" in page.inner_text("#search-intent")
    page.evaluate("document.getElementById('side').scrollTop = 0")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "web-laptop.png"))
    step("colour, search, screenshot")

    # Keyboard: a search result is a real button; Enter selects its song.
    page.focus("#search-results li:first-child button.pick")
    page.keyboard.press("Enter")
    # Wait for the player too: when the hit is the song selected before, the selection
    # already matches while the new one is still loading (the player then holds the
    # neighbour played above).
    _wait(page, "(id) => window.songscape.state.selectedTrack && "
          "window.songscape.state.selectedTrack.id === id && "
          "document.getElementById('player').dataset.trackId === id", hits[0])
    assert page.get_attribute("#player", "src") == f"/api/tracks/{hits[0]}/audio"
    assert errors == []
    page.close()


def test_the_map_page_on_a_phone(server, browser):
    url, n = server
    ARTIFACTS.mkdir(exist_ok=True)
    page, errors = _open(browser, url, 390, 844)
    assert _visible_points(page) == n
    map_box = page.locator("#map").bounding_box()
    assert map_box["width"] <= 390 and map_box["height"] >= 300
    side = page.locator("#side").bounding_box()
    assert side["y"] >= map_box["y"] + map_box["height"] - 1  # stacked under the map
    page.fill("#search-input", "classical")
    page.press("#search-input", "Enter")
    page.wait_for_selector("#search-results li[data-id]")
    page.click("#search-results li:first-child button.pick")
    _wait(page, "() => document.getElementById('neighbours').dataset.for")
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "web-phone.png"), full_page=True)
    assert errors == []
    page.close()
