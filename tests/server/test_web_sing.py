"""The page's Sing panel in a real browser (issue 14): upload a recording or record one
with the microphone (Chromium's fake capture device playing a sung melody), see the
voice's range on a keyboard and the songs with their key and fit; "hear it in my key"
fetches the transposed preview.

Debian's chromium driven by Playwright, as in ``test_web_identify.py``; the real
``songscape serve`` on a synthetic library whose vocal lines are known (C3–C4 voice:
the line A2–A3 fits best moved up). The screenshot goes to ``test-artifacts/web-sing.png``.
"""

from __future__ import annotations

import shutil
import time

import pytest
import soundfile as sf

from songscape.audio.voice_synth import note_contour, sing_melody
from songscape.synthetic.catalogs import build_synthetic_library
from songscape.synthetic.vocals import add_synthetic_vocals
from tests.engines import songscape_serve
from tests.helpers import REPO_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARTIFACTS = REPO_ROOT / "test-artifacts"
SR = 22050
MELODY = [48, 50, 52, 53, 55, 57, 59, 60, 59, 57, 55, 53, 52, 50, 48, 52]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("no chromium binary: run scripts/install_browser.sh (Debian's chromium)")
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    base = tmp_path_factory.mktemp("sing-web")
    root = base / "lib"
    ids = build_synthetic_library(root, 5, seed=3, audio_dir=base / "audio", n_audio=5)
    add_synthetic_vocals(root, ids[:4], ranges=[(48, 60), (45, 57), (60, 72), (52, 64)], seed=1)
    voice = base / "voice.wav"
    sf.write(voice, sing_melody(note_contour(MELODY, 0.45, SR), SR), SR, subtype="PCM_16")
    with songscape_serve(root) as server:
        yield server.url, voice, ids


def _wait(page, predicate: str, timeout: float = 120.0) -> None:
    """Poll a JS predicate (the page's CSP forbids ``wait_for_function``'s eval)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => ({predicate})()"):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {predicate}")
        page.wait_for_timeout(100)


RESULTS = "() => document.querySelectorAll('.sing-results li').length > 0"


def test_sing_panel_upload_and_record(served):
    from playwright.sync_api import sync_playwright

    url, voice, ids = served
    args = ["--no-sandbox", "--autoplay-policy=no-user-gesture-required",
            "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={voice}"]  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        context = browser.new_context(viewport={"width": 1280, "height": 900},
                                      permissions=["microphone"])  # fmt: skip
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url)
        page.click(".sing-open")
        assert page.is_visible(".sing-panel")

        # upload a file
        page.set_input_files(".sing-panel input[type=file]", str(voice))
        _wait(page, RESULTS)
        text = page.inner_text(".sing-out")
        assert "Your range C3–C4" in text or "Your range B2–C4" in text, text
        assert page.locator(".sing-out svg").count() == 1  # the keyboard
        items = page.locator(".sing-results li")
        assert items.count() == 4  # the four songs with a vocal line
        assert "your comfortable range" in items.first.inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.locator(".sing-panel").screenshot(path=str(ARTIFACTS / "web-sing.png"))

        # "hear it in my key": the server's transposed preview is fetched and plays
        with page.expect_response(lambda r: "/key-preview?transpose=" in r.url) as res:
            items.first.locator("button").click()
        assert res.value.status == 200
        assert res.value.headers["content-type"] == "audio/wav"

        # record with the microphone: Chromium's fake device plays the same melody
        page.evaluate("() => document.querySelector('.sing-out').replaceChildren()")
        record = page.locator(".sing-panel button", has_text="Record")
        record.click()
        page.wait_for_timeout(9000)
        page.locator(".sing-panel button", has_text="Stop").click()
        _wait(page, RESULTS)
        assert "Your range" in page.inner_text(".sing-out")
        assert not errors, errors
        browser.close()
