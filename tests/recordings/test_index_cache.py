"""The fingerprint index saved in the library (issue 20): written once, reused by the next
process without reading the fingerprints, rebuilt when a track is ingested or removed,
and when the file is corrupt. On a private copy of the real excerpts of
:mod:`tests.library.identify_library`.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from songscape.catalog import fingerprints as fp_catalog
from songscape.ingest.fingerprint_stage import FINGERPRINT_ALGORITHM
from songscape.ingest.pipeline import IngestOptions
from songscape.library.library import Library
from songscape.recordings import index_cache
from songscape.recordings.index_cache import cache_path, content_key, read_index
from tests.built_once import copy_library
from tests.helpers import ffmpeg, only_stages, shared_data
from tests.library.identify_library import INSIDE_OFFSET_S, identify_library


@pytest.fixture
def lib_copy(tmp_path_factory, worker_id, tmp_path):
    built = identify_library(tmp_path_factory, worker_id)
    root = copy_library(built / "lib", tmp_path / "lib")
    shutil.rmtree(root / index_cache.CACHE_DIR, ignore_errors=True)
    return root, built / "clips"


def _current_key(lib: Library) -> str:
    manifest = fp_catalog.fingerprint_manifest(lib.store.conn, FINGERPRINT_ALGORITHM)
    return content_key(FINGERPRINT_ALGORITHM, manifest)


def _identify(root, clip) -> dict:
    with Library(root) as lib:
        return lib.identify(clip)


def test_saved_once_then_reused_without_reading_the_fingerprints(lib_copy, monkeypatch):
    root, clips = lib_copy
    path = cache_path(root)
    first = _identify(root, clips / "inside.wav")
    assert first["path"].endswith("a.flac")
    assert abs(first["offset_s"] - INSIDE_OFFSET_S) < 0.5
    assert path.is_file() and not list(path.parent.glob("*.tmp"))
    with Library(root) as lib:
        saved = read_index(path, _current_key(lib))
        assert saved is not None and len(saved) == 3
        built = fp_catalog.load_fingerprints(lib.store.conn, FINGERPRINT_ALGORITHM)
        assert saved.track_ids == built.track_ids
        assert np.array_equal(saved.stored.words, built.words)
    stat = path.stat()

    def no_catalog_words(*args, **kwargs):
        raise AssertionError("the fingerprints were read again: the saved index was not used")

    monkeypatch.setattr(index_cache.fp_catalog, "load_fingerprints", no_catalog_words)
    assert _identify(root, clips / "inside.wav") == first  # a new process's Library
    assert path.stat().st_mtime_ns == stat.st_mtime_ns  # not rewritten


def test_rebuilt_when_a_track_is_ingested_or_removed(lib_copy, tmp_path):
    root, clips = lib_copy
    _identify(root, clips / "inside.wav")
    path = cache_path(root)
    with Library(root) as lib:
        key_before = _current_key(lib)
    # A new song: its clip was not identified before, is after the next ingest.
    music = tmp_path / "new"
    music.mkdir()
    src = shared_data("jamendolyrics_subset10", "audio", "Mes_Larmes_-_kobzx2z.ogg")
    ffmpeg("-i", str(src), "-ss", "50", "-t", "20", "-c:a", "flac", str(music / "d.flac"))
    ffmpeg("-i", str(music / "d.flac"), "-ss", "4", "-t", "10", str(tmp_path / "d_clip.wav"))
    assert _identify(root, tmp_path / "d_clip.wav") is None
    with Library(root) as lib, only_stages("metadata", "fingerprint"):
        report = lib.ingest([music], IngestOptions(workers=1, embed_models=(), tag_models=()))
        assert report.added == 1 and report.failed == 0
    found = _identify(root, tmp_path / "d_clip.wav")
    assert found is not None and found["path"].endswith("d.flac")
    assert abs(found["offset_s"] - 4.0) < 0.5
    with Library(root) as lib:
        key_after = _current_key(lib)
        assert key_after != key_before
        assert read_index(path, key_before) is None  # the old key no longer matches
        assert len(read_index(path, key_after)) == 4  # the saved index holds the new song
        lib.remove(found["id"])
        assert lib.identify(tmp_path / "d_clip.wav") is None  # same process: rebuilt
    assert _identify(root, tmp_path / "d_clip.wav") is None  # next process: rebuilt too
    with Library(root) as lib:
        assert len(read_index(path, _current_key(lib))) == 3


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped byte", "unsorted"])
def test_a_corrupt_file_is_ignored_and_rebuilt(lib_copy, damage):
    root, clips = lib_copy
    first = _identify(root, clips / "inside.wav")
    path = cache_path(root)
    data = bytearray(path.read_bytes())
    if damage == "garbage":
        data = bytearray(b"not an index" * 10)
    elif damage == "truncated":
        data = data[: len(data) // 2]
    elif damage == "flipped byte":  # inside the words array: the zip CRC catches it
        data[len(data) // 3] ^= 0xFF
    else:  # a consistent file whose sort order is wrong
        with np.load(path) as z:
            arrays = {k: z[k] for k in z.files}
        arrays["order"] = arrays["order"][::-1].copy()
        path.unlink()
        np.savez(path, **arrays)
        data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data))
    with Library(root) as lib:
        assert read_index(path, _current_key(lib)) is None
    assert _identify(root, clips / "inside.wav") == first
    with Library(root) as lib:  # and the file is whole again
        assert read_index(path, _current_key(lib)) is not None
