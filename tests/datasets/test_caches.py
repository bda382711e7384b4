"""The decoded-audio and feature caches: each file decoded (or embedded) once, and a
broken cache rebuilt with a warning rather than trusted or fatal."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from songscape.datasets import AudioCache, FeatureCache, read_labels
from tests.helpers import tiny_csv


def test_audio_cache_decodes_each_file_once(tmp_path: Path, monkeypatch) -> None:
    import songscape.audio.decode as decode

    data = read_labels(tiny_csv(tmp_path), label_column="genre")
    calls = []
    real = decode.load_audio
    monkeypatch.setattr(decode, "load_audio", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    cache = AudioCache(tmp_path / "cache", 8000)
    keys = cache.ensure(data.paths[:2])
    assert len(calls) == 2
    y = cache.get(keys[0])
    assert y.dtype == np.float16 and 8000 * 10 < len(y) < 8000 * 40
    again = AudioCache(tmp_path / "cache", 8000)  # a new process: the index on disk
    assert again.ensure(data.paths[:2]) == keys and len(calls) == 2
    np.testing.assert_array_equal(again.get(keys[1]), cache.get(keys[1]))


def test_an_unreadable_audio_index_is_logged_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = read_labels(tiny_csv(tmp_path), label_column="genre")
    keys = AudioCache(tmp_path / "cache", 8000).ensure(data.paths[:1])
    (tmp_path / "cache" / "index-8000.json").write_text("{truncated")
    with caplog.at_level(logging.WARNING, logger="songscape.datasets.caches"):
        cache = AudioCache(tmp_path / "cache", 8000)
    assert "index-8000.json unreadable" in caplog.text and cache.index == {}
    assert cache.ensure(data.paths[:1]) == keys and cache.decoded == 1
    assert AudioCache(tmp_path / "cache", 8000).get(keys[0]).shape == cache.get(keys[0]).shape


def test_feature_cache_computes_once_and_survives_a_broken_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []

    def compute(i: int) -> np.ndarray:
        calls.append(i)
        return np.full((2, 3), i, dtype=np.float32)

    cache = FeatureCache(tmp_path, "model-v1")
    first = cache.ensure(["a", "b"], compute)
    again = FeatureCache(tmp_path, "model-v1").ensure(["a", "b"], compute)
    assert calls == [0, 1] and all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    cache.path.write_bytes(cache.path.read_bytes()[:40])  # a truncated .npz
    with caplog.at_level(logging.WARNING, logger="songscape.datasets.caches"):
        broken = FeatureCache(tmp_path, "model-v1")
    assert "unreadable" in caplog.text and broken.arrays == {}
    assert broken.ensure(["a"], compute)[0].tolist() == [[0, 0, 0], [0, 0, 0]]
    assert calls == [0, 1, 0]


def _dead_pid() -> int:
    """The pid of a process that was killed with SIGKILL (and reaped)."""
    import subprocess

    proc = subprocess.Popen(["sleep", "30"])
    proc.kill()
    proc.wait()
    return proc.pid


def test_temp_files_of_killed_writers_are_removed(tmp_path: Path) -> None:
    """A decode or feature run killed while writing leaves ``<name>.<pid>.tmp``; the next
    cache of the same folder deletes those of dead processes (not a running writer's)."""
    import os

    data = read_labels(tiny_csv(tmp_path), label_column="genre")
    root = tmp_path / "cache"
    keys = AudioCache(root, 8000).ensure(data.paths[:1])
    dead, alive = _dead_pid(), os.getppid()
    left = root / f"index-8000.json.{dead}.tmp"
    left.write_text('{"half-written')
    running = root / f"index-8000.json.{alive}.tmp"
    running.write_text("{}")
    FeatureCache(root, "model-v1").ensure(["a"], lambda i: np.zeros(2, dtype=np.float32))
    npz_left = root / "features" / f"model-v1.npz.{dead}.tmp.npz"
    npz_left.write_bytes(b"PK")
    cache = AudioCache(root, 8000)
    assert not left.exists() and running.exists()
    assert cache.ensure(data.paths[:1]) == keys and cache.decoded == 0
    assert FeatureCache(root, "model-v1").arrays.keys() == {"a"} and not npz_left.exists()
    assert sorted(p.name for p in root.iterdir()) == sorted(
        ["audio-8000.f16", "audio-8000.lock", "index-8000.json", running.name, "features"]
    )


def test_two_caches_of_one_folder_keep_each_others_entries(tmp_path: Path) -> None:
    """Two runs (here two instances, as two processes) filling one cache: the second to
    write keeps the first one's entries instead of replacing the index with its own."""
    data = read_labels(tiny_csv(tmp_path), label_column="genre")
    root = tmp_path / "cache"
    first, second = AudioCache(root, 8000), AudioCache(root, 8000)
    [k2] = second.ensure(data.paths[1:2])
    [k1] = first.ensure(data.paths[:1])
    fresh = AudioCache(root, 8000)
    assert fresh.ensure(data.paths[:2]) == [k1, k2] and fresh.decoded == 0
    np.testing.assert_array_equal(fresh.get(k2), second.get(k2))
    np.testing.assert_array_equal(fresh.get(k1), first.get(k1))
