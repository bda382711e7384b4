"""``POST /api/sing``: raw and multipart uploads, limits, and the refusals."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from songscape.audio.voice_synth import note_contour, sing_melody
from songscape.server.app import create_app
from songscape.server.routers import sing as sing_route
from songscape.synthetic.catalogs import build_synthetic_library
from songscape.synthetic.vocals import add_synthetic_vocals

SR = 22050


def wav_bytes(y: np.ndarray) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, y, SR, format="WAV")
    return buf.getvalue()


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("singapi") / "lib"
    ids = build_synthetic_library(root, 4, seed=7)
    add_synthetic_vocals(root, ids[:3], ranges=[(48, 60), (55, 67), (40, 52)], seed=2)
    with TestClient(create_app(root)) as c:
        yield c


@pytest.fixture(scope="module")
def voice() -> bytes:
    notes = [48, 50, 52, 53, 55, 57, 59, 60, 59, 57, 55, 53, 52, 50]
    return wav_bytes(sing_melody(note_contour(notes, 0.45, SR), SR))


def test_multipart_upload_gives_the_sing_json(client, voice, tmp_path):
    before = set(tmp_path.parent.iterdir())
    r = client.post("/api/sing?k=2", files={"file": ("me.wav", voice, "audio/wav")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["voice"]) >= {"range_midi", "comfortable_midi", "tessitura_midi", "voiced_s"}
    assert len(body["results"]) == 2
    top = body["results"][0]
    assert set(top) >= {"id", "score", "range_fit", "transpose_semitones",
                        "timbre_similarity", "explanation"}  # fmt: skip
    assert body["songs_without_vocals"] == 1
    assert set(tmp_path.parent.iterdir()) == before  # nothing kept


def test_bad_uploads(client, monkeypatch):
    r = client.post("/api/sing", content=b"")
    assert r.status_code == 400
    r = client.post("/api/sing", content=b"this is not audio" * 100,
                    headers={"content-type": "audio/wav"})  # fmt: skip
    assert r.status_code == 415 and "decode" in r.json()["error"]
    silent = wav_bytes(np.zeros(6 * SR, dtype=np.float32))
    r = client.post("/api/sing", content=silent, headers={"content-type": "audio/wav"})
    assert r.status_code == 422 and "silent" in r.json()["error"]
    r = client.post("/api/sing?weights=range%3Dx", content=silent)
    assert r.status_code == 400
    monkeypatch.setattr(sing_route, "MAX_UPLOAD_BYTES", 1000)
    r = client.post("/api/sing", files={"file": ("big.wav", silent, "audio/wav")})
    assert r.status_code == 413
    monkeypatch.setattr(sing_route, "MAX_UPLOAD_BYTES", 16 * 1024 * 1024)
    monkeypatch.setattr(sing_route, "MAX_UPLOAD_S", 3.0)
    r = client.post("/api/sing", content=silent, headers={"content-type": "audio/wav"})
    assert r.status_code == 413 and "too long" in r.json()["error"]


@pytest.fixture(scope="module")
def audio_client(tmp_path_factory):
    root = tmp_path_factory.mktemp("keypreview") / "lib"
    ids = build_synthetic_library(root, 3, seed=4, audio_dir=root.parent / "audio", n_audio=1)
    with TestClient(create_app(root)) as c:
        yield c, ids


def test_key_preview_moves_the_song_and_keeps_its_length(audio_client):
    c, ids = audio_client
    r = c.get(f"/api/tracks/{ids[0]}/key-preview?transpose=3")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "audio/wav"
    y, sr = sf.read(io.BytesIO(r.content), dtype="float32")
    assert y.shape[1] == 2 and abs(len(y) / sr - 1.0) < 0.01  # the 1 s song, not 20 s
    same, _ = sf.read(io.BytesIO(c.get(f"/api/tracks/{ids[0]}/key-preview").content),
                      dtype="float32")  # fmt: skip

    def peak(x):
        spec = np.abs(np.fft.rfft(x[sr // 4 : 3 * sr // 4, 0]))
        return np.fft.rfftfreq(sr // 2, 1 / sr)[spec.argmax()]

    assert abs(12 * np.log2(peak(y) / peak(same)) - 3) < 0.3


def test_key_preview_refusals(audio_client):
    c, ids = audio_client
    assert c.get(f"/api/tracks/{ids[0]}/key-preview?transpose=13").status_code == 422
    assert c.get(f"/api/tracks/{ids[0]}/key-preview?duration_s=0").status_code == 422
    assert c.get("/api/tracks/0123456789abcdef/key-preview").status_code == 404
    assert c.get(f"/api/tracks/{ids[1]}/key-preview").status_code == 404  # no file


def test_the_voice_is_embedded_with_the_librarys_vocal_encoders(client, voice, monkeypatch):
    from songscape.errors import VoiceCheckError
    from songscape.library import sing as library_sing

    seen = {}

    def fake_analysis(y, sr, encoders=()):
        seen["encoders"] = list(encoders)
        raise VoiceCheckError("stop here")

    monkeypatch.setattr(library_sing, "library_vocal_models", lambda conn: ["moco-test"])
    monkeypatch.setattr(sing_route, "analyze_voice", fake_analysis)
    r = client.post("/api/sing", content=voice, headers={"content-type": "audio/wav"})
    assert r.status_code == 422 and seen["encoders"] == ["moco-test"]


@pytest.mark.parametrize("suffix, codec, content_type", [(".webm", "libopus", "audio/webm"),
                                                          (".ogg", "libopus", "audio/ogg")])
def test_browser_recordings_are_decoded(client, voice, tmp_path, suffix, codec, content_type):
    # what MediaRecorder uploads: Opus in WebM (Chrome, Firefox) or in Ogg
    from tests.helpers import ffmpeg

    wav, out = tmp_path / "voice.wav", tmp_path / f"voice{suffix}"
    wav.write_bytes(voice)
    ffmpeg("-i", str(wav), "-c:a", codec, "-b:a", "48k", str(out))
    r = client.post("/api/sing?k=1",
                    files={"file": (f"blob{suffix}", out.read_bytes(), content_type)})  # fmt: skip
    assert r.status_code == 200, r.text
    assert abs(r.json()["voice"]["range_midi"][0] - 48) <= 1
