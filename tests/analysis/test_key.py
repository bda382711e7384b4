"""Key estimation: naming, the correlation core, synthetic progressions, one real clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songscape import notation as N
from songscape.analysis import key as K
from songscape.analysis.descriptors import compute_features
from songscape.audio import synth

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def test_names_use_sharps() -> None:
    assert N.key_name(6, "major") == "F# major"
    assert N.key_name("Bb", "minor") == "A# minor"
    assert N.key_name("db", "major") == "C# major"
    assert N.parse_key("G# minor") == (8, "minor")
    with pytest.raises(ValueError):
        N.pitch_class("H")
    with pytest.raises(ValueError):
        N.key_name(0, "dorian")


@pytest.mark.parametrize("profile", list(K.KEY_PROFILES))
def test_profile_itself_is_recognised_in_every_key(profile: str) -> None:
    major, minor = K.KEY_PROFILES[profile]
    for pc in range(12):
        for mode, prof in (("major", major), ("minor", minor)):
            key, conf = K.estimate_key(np.roll(prof, pc), profile=profile)
            assert key == N.key_name(pc, mode)
            assert conf == pytest.approx(1.0)  # r1 = 1: a perfect fit


def test_confidence_orders_clear_and_ambiguous() -> None:
    major, _ = K.KEY_PROFILES["krumhansl"]
    clear = K.key_confidence(K.key_scores(major))
    # Half C major, half G major: the two keys nearly tie.
    blurred = K.key_confidence(K.key_scores(major + np.roll(major, 7)))
    assert 0.0 <= blurred < clear <= 1.0
    assert blurred < 0.2


def test_no_pitch_information_gives_none() -> None:
    assert K.estimate_key(np.ones((12, 50))) == (None, None)
    assert K.estimate_key(np.zeros((12, 50))) == (None, None)
    assert K.estimate_key(np.zeros((12, 0))) == (None, None)


KEYS = [("C", "major"), ("G", "major"), ("F#", "major"), ("Bb", "major"), ("E", "major"),
        ("A", "minor"), ("C#", "minor"), ("D#", "minor"), ("F", "minor"), ("B", "minor")]


@pytest.mark.parametrize(("tonic", "mode"), KEYS)
def test_synthetic_progressions_exact(tonic: str, mode: str) -> None:
    s = synth.chord_progression(tonic, mode, duration_s=8.0, rolloff=1.0, seed=1)
    key, conf = K.estimate_key(compute_features(s.y, s.sr).chroma)
    assert key == s.key == N.key_name(tonic, mode)
    assert 0.0 < conf <= 1.0


@pytest.mark.parametrize(("tonic", "mode", "brightness"),
                         [("D", "major", 0.1), ("G#", "minor", 0.9), ("A#", "minor", 0.5)])
def test_synthetic_songs_with_drums_exact(tonic: str, mode: str, brightness: float) -> None:
    s = synth.demo_song(110.0, tonic, mode, 4, duration_s=12.0, brightness=brightness, seed=2)
    assert K.estimate_key(compute_features(s.y, s.sr).chroma)[0] == s.key


def test_mirex_weighted_score() -> None:
    assert K.mirex_key_score("C major", "C major") == 1.0
    assert K.mirex_key_score("G major", "C major") == 0.5  # fifth above
    assert K.mirex_key_score("A minor", "C major") == 0.3  # relative
    assert K.mirex_key_score("C minor", "C major") == 0.2  # parallel
    assert K.mirex_key_score("F# major", "C major") == 0.0
    assert K.mirex_key_score(None, "C major") == 0.0


def test_real_trumpet_loop_is_in_f() -> None:
    # librosa's trumpet example: credit text says the loop pack is "in F" (blues/dorian,
    # so only the tonic is asserted). A single 5 s clip: a smoke test, not an accuracy claim.
    path = DATA / "librosa_data" / "audio" / "sorohanro_-_solo-trumpet-06.ogg"
    if not path.exists():
        pytest.skip(f"shared data not found at {path}")
    y, sr = sf.read(path, dtype="float32")
    key, _ = K.estimate_key(compute_features(y, sr).chroma)
    assert key is not None and key.split()[0] == "F"
