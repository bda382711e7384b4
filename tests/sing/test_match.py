"""Range fit, transposition, timbre fusion and explanations on hand-made songs."""

from __future__ import annotations

import numpy as np
import pytest

from songscape.errors import QueryError
from songscape.sing.match import (
    DEFAULT_WEIGHTS,
    TRANSPOSITIONS,
    SongVocals,
    best_transpositions,
    histogram_medians,
    match_songs,
    note_name,
    parse_weights,
    range_fit_matrix,
    transposed_key,
)

LOW, BINS = 24, 84


def hist(notes, seconds=1.0):
    h = np.zeros(BINS, dtype=np.float32)
    for n in notes:
        h[n - LOW] += seconds
    return h


def songs(hists, keys=None, embeddings=None):
    n = len(hists)
    return SongVocals(
        ids=[f"id{i}" for i in range(n)], titles=[f"song {i}" for i in range(n)],
        artists=[None] * n, keys=keys or ["C major"] * n,
        ranges=np.array([[min(np.flatnonzero(h)) + LOW, max(np.flatnonzero(h)) + LOW]
                         for h in hists], dtype=float),
        note_hist=np.stack(hists), hist_low=LOW, embeddings=embeddings or {},
    )  # fmt: skip


def test_note_names_and_keys():
    assert note_name(60) == "C4" and note_name(57.4) == "A3" and note_name(47.6) == "C3"
    assert transposed_key("A minor", 3) == "C minor"
    assert transposed_key("B major", 1) == "C major" and transposed_key(None, 2) is None


def test_best_transposition_brings_the_song_into_the_range():
    comfortable = (48.0, 60.0)  # C3-C4
    song = hist(range(53, 66))  # F3-F4: 5 semitones too high at the top
    fit = range_fit_matrix(song[None], LOW, comfortable)
    best, shift = best_transpositions(fit)
    assert shift[0] == -5 and best[0] == pytest.approx(1.0)
    assert fit[0, list(TRANSPOSITIONS).index(0)] == pytest.approx(8 / 13)


def test_transposing_the_voice_moves_the_suggestion_the_other_way():
    song = hist([50, 52, 53, 55, 57, 55, 53, 52, 57, 59])
    base = best_transpositions(range_fit_matrix(song[None], LOW, (49.0, 58.0)))[1][0]
    for k in (-4, -2, 2, 4):
        shifted = best_transpositions(range_fit_matrix(song[None], LOW, (49.0 + k, 58.0 + k)))
        assert shifted[1][0] == base + k


def test_near_equal_keys_centre_the_song_on_the_voice():
    # a narrow line (E3-A3) inside a wide comfortable range: every key from -6 to +6 fits
    # fully, so the key that puts its median (G3 = 55) on the singer's tessitura wins
    song = hist([52, 55, 55, 57])[None]
    fit = range_fit_matrix(song, LOW, (40.0, 75.0))
    assert np.allclose(fit, 1.0)
    assert histogram_medians(song, LOW)[0] == 55
    for voice_centre, expected in [(55.0, 0), (58.2, 3), (51.0, -4), (70.0, 6)]:
        best, shift = best_transpositions(fit, histogram_medians(song, LOW), voice_centre)
        assert shift[0] == expected and best[0] == pytest.approx(1.0)
    # a clearly better fit is not traded for centring (beyond NEAR_BEST_FIT)
    fit = range_fit_matrix(hist([50, 52, 53, 55, 57, 59])[None], LOW, (49.0, 58.0))
    best, shift = best_transpositions(fit, np.array([55.0]), 62.0)  # +7 would centre it
    assert best[0] == pytest.approx(1.0) and shift[0] == -1  # the only full fit


def test_shifting_a_song_moves_its_key_the_other_way_on_a_flat_fit():
    singer = (45.0, 70.0)
    base = hist([55, 57, 59, 60, 62])
    chosen = {}
    for k in (-4, -2, 0, 2, 4):
        moved = np.roll(base, k)[None]
        chosen[k] = best_transpositions(range_fit_matrix(moved, LOW, singer),
                                        histogram_medians(moved, LOW), 57.3)[1][0]  # fmt: skip
    assert all(chosen[k] == chosen[0] - k for k in chosen)


def test_histogram_medians():
    h = np.stack([hist([50, 52, 60]), np.zeros(BINS, dtype=np.float32), hist([48], 3.0)])
    med = histogram_medians(h, LOW)
    assert med[0] == 52 and np.isnan(med[1]) and med[2] == 48


def test_ties_prefer_the_original_key():
    fit = best_transpositions(range_fit_matrix(hist([60, 62])[None], LOW, (40.0, 80.0)))
    assert fit[1][0] == 0


def test_results_are_ranked_and_explained():
    lib = songs([hist(range(48, 61)), hist(range(60, 73)), hist(range(36, 49))],
                keys=["C major", "A minor", None])  # fmt: skip
    results = match_songs((48.0, 60.0), {}, lib, k=3)
    assert [r["id"] for r in results][0] == "id0"
    top = results[0]
    assert top["range_fit"] == 1.0 and top["transpose_semitones"] == 0
    assert top["timbre_similarity"] is None
    assert "your comfortable range C3–C4" in top["explanation"]
    assert "this song's vocal line C3–C4" in top["explanation"]
    assert "100% of its notes fit" in top["explanation"]
    by_id = {r["id"]: r for r in results}
    assert by_id["id1"]["transpose_semitones"] == -6 and by_id["id1"]["sung_key"] == "D# minor"
    assert "sing it -6 semitones (in D# minor)" in by_id["id1"]["explanation"]


def test_timbre_similarity_breaks_ties_and_is_fused_by_weight():
    rng = np.random.default_rng(0)
    vecs = rng.standard_normal((6, 8)).astype(np.float32)
    emb = {"musicnn": (vecs, np.ones(6, dtype=bool))}
    lib = songs([hist(range(50, 58))] * 6, embeddings=emb)
    query = {"musicnn": vecs[4] + 0.05 * rng.standard_normal(8).astype(np.float32)}
    results = match_songs((48.0, 60.0), query, lib, k=6)
    assert results[0]["id"] == "id4" and results[0]["timbre_similarity"] > 0.9
    assert results[0]["timbre_by_kind"].keys() == {"musicnn"}
    # only range counts when the timbre weight is 0
    flat = match_songs((48.0, 60.0), query, lib, k=6, weights={"range": 1.0, "musicnn": 0.0})
    assert {r["score"] for r in flat} == {1.0}


def test_parse_weights():
    w = parse_weights("range=0.5, musicnn=0.3,moco:vocal-timbre=1")
    assert w["range"] == 0.5 and w["musicnn"] == 0.3 and w["moco:vocal-timbre"] == 1.0
    assert w["mfcc"] == DEFAULT_WEIGHTS["mfcc"]
    for bad in ("range", "range=-1", "range=x", "=2"):
        with pytest.raises(QueryError):
            parse_weights(bad)


def test_empty_library_gives_no_results():
    empty = SongVocals([], [], [], [], np.zeros((0, 2)), np.zeros((0, BINS)), LOW, {})
    assert match_songs((48.0, 60.0), {}, empty, k=3) == []


def test_songs_without_singing_are_not_offered():
    lib = songs([hist(range(48, 61)), hist(range(50, 55))])
    lib.note_hist[1] = 0.0
    assert [r["id"] for r in match_songs((48.0, 60.0), {}, lib, k=5)] == ["id0"]
