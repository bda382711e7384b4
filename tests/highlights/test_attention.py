"""The attention highlight model: trained with given tag targets, registered, then used."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torch")

from songscape.audio.song_forms import structured_song  # noqa: E402
from songscape.errors import TrainingError  # noqa: E402
from songscape.highlights.choose import analyze_highlights, attention_available, pick  # noqa: E402
from songscape.highlights.training import musicnn_tag_labels, train_attention_model  # noqa: E402
from songscape.ingest.structure_stages import HighlightStage  # noqa: E402
from songscape.models.highlight_attention import attention_curve  # noqa: E402


def test_train_register_and_use(models_env, tmp_path):
    paths, known = [], {}
    for i in range(4):
        song = structured_song(form="VC", tempo_bpm=120.0 + 5 * i, tonic=i, bars={"V": 4, "C": 4},
                               sr=16000, seed=i)  # fmt: skip
        path = tmp_path / f"s{i}.wav"
        sf.write(path, song.y, 16000)
        paths.append(str(path))
        known[str(path.resolve())] = {"rock": 0.9 - 0.6 * (i % 2), "pop": 0.2 + 0.5 * (i % 2),
                                      "jazz": 0.1}  # fmt: skip
    labels = musicnn_tag_labels(paths, top_k=1, known=known, cache_dir=tmp_path / "c")
    assert [lab[0] for lab in labels.labels] == ["rock", "pop", "rock", "pop"]
    version_before = HighlightStage().version
    assert not attention_available()
    summary = train_attention_model(paths, epochs=1, known_tags=known, chunks_per_track=1,
                                    cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert summary["name"] == "highlight-attention"
    assert attention_available()
    assert HighlightStage().version != version_before  # installing the model re-runs the stage
    y, _ = sf.read(paths[0], dtype="float32")
    curve = attention_curve(y)
    assert curve.attention.sum() == pytest.approx(1.0, abs=1e-4)
    assert len(curve.attention) == len(curve.mel_energy)
    assert curve.rate_hz * len(y) / 16000 == pytest.approx(len(curve.attention), rel=0.05)
    found = analyze_highlights(paths[0], length_s=10.0).highlights
    assert set(found) == {"signal", "attention", "fused"}
    assert pick(found, None).method == "fused"
    assert np.isclose(found["fused"].end_s - found["fused"].start_s, 10.0)


def test_too_few_tracks(models_env, tmp_path):
    with pytest.raises(TrainingError):
        train_attention_model([str(tmp_path / "missing.wav")], known_tags={})
