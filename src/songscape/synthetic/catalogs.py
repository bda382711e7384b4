"""A synthetic library for tests and benchmarks of the web app (no audio analysis).

Tracks, descriptors, embeddings of the default model and tags are written straight
into the catalog (through its table functions, as ingest would store them), so a
10,000-track library takes seconds instead of hours of ingest.
The embeddings are clustered (one centre per genre plus noise), so maps, clusters and
similar-track queries have structure to find. Optionally, the first tracks get a short
real WAV file, so audio streaming can be exercised too.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import numpy as np

from songscape.catalog import analysis, model_outputs, schema, tracks
from songscape.catalog.store import STATUS_OK, LibraryStore
from songscape.models.registry import DEFAULT_MODEL, get_spec
from songscape.notation import key_name

GENRES = ("rock", "jazz", "classical", "electronic", "folk", "metal", "soul", "ambient")


def synthetic_id(seed: int, i: int) -> str:
    """The 16-hex-digit track id of synthetic track ``i``."""
    return hashlib.blake2b(f"synthetic-{seed}-{i}".encode(), digest_size=8).hexdigest()


def _write_wav(path: Path, seed: int, seconds: float = 1.0, sr: int = 8000) -> int:
    import soundfile as sf

    t = np.arange(int(seconds * sr)) / sr
    freq = 220.0 * 2 ** ((seed % 12) / 12)
    y = (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, y, sr, subtype="PCM_16")
    return path.stat().st_size


def build_synthetic_library(
    root: str | os.PathLike,
    n: int,
    *,
    seed: int = 0,
    model: str = DEFAULT_MODEL,
    audio_dir: str | os.PathLike | None = None,
    n_audio: int = 0,
    n_tags: int | None = None,
    noise: float = 0.6,
) -> list[str]:
    """Create (or extend) a library of ``n`` synthetic tracks; returns their ids.

    Parameters
    ----------
    root : path-like
        Library directory (created if needed).
    n : int
        Tracks to insert.
    seed : int
        Seed of everything random; also part of the ids, so two calls with different
        seeds add different tracks.
    model : str
        Embedding model whose name, version and dimension the vectors get; its tag
        vocabulary (if any) is used for the tags.
    audio_dir : path-like, optional
        Where to write the WAV files of the first ``n_audio`` tracks (1 s sine tones).
    n_audio : int
        How many tracks get a real file; the others point at paths that do not exist.
    n_tags : int, optional
        Tags stored per track (default: the whole vocabulary, as ingest does).
    noise : float
        Spread of each track around its genre's centre (centres have unit scale).
    """
    rng = np.random.default_rng(seed)
    spec = get_spec(model)
    dim = spec.embedding_dim
    centres = rng.standard_normal((len(GENRES), dim)).astype(np.float32)
    labels = list(spec.labels or ())
    audio_root = Path(audio_dir) if audio_dir is not None else Path(root) / "no-audio"
    now = time.time()
    ids = []
    records = []
    n_artists = max(1, n // 8)
    for i in range(n):
        track_id = synthetic_id(seed, i)
        ids.append(track_id)
        g = int(rng.integers(len(GENRES)))
        genre = GENRES[g]
        artist_no = int(rng.integers(n_artists))
        artist = f"Artist {artist_no:04d}"
        album = f"Album {artist_no:04d}-{int(rng.integers(3))}"
        path = audio_root / genre / f"{track_id}.wav"
        size = None
        if i < n_audio:
            size = _write_wav(path, seed + i)
        # the draws stay in this order: the same seed gives the same library as before
        file_columns = {
            "format": "WAV/PCM_16", "sample_rate": 8000, "channels": 1,
            "duration_s": float(rng.uniform(60, 420)), "title": f"Song {i:05d}",
            "artist": artist, "album": album, "genre": genre,
            "year": 2000 + int(rng.integers(25)), "track_number": int(rng.integers(1, 13)),
        }  # fmt: skip
        descriptors = {
            "analysis_sample_rate": 22050, "tempo_bpm": float(rng.uniform(60, 180)),
            "beats_per_bar": 4,
            "key": key_name(int(rng.integers(12)), ("major", "minor")[int(rng.integers(2))]),
            "key_confidence": float(rng.uniform(0.3, 1)),
            "loudness_lufs": float(rng.uniform(-24, -6)), "energy_rate_hz": 43.07,
            "spectral_centroid_hz": float(rng.uniform(800, 4000)),
            "onset_rate_hz": float(rng.uniform(0.5, 6)), "rhythm_method": None,
        }  # fmt: skip
        vector = centres[g] + noise * rng.standard_normal(dim).astype(np.float32)
        tags: list[tuple[str, float]] = []
        if labels:
            probs = rng.uniform(0.0, 0.15, len(labels))
            if genre in labels:
                probs[labels.index(genre)] = rng.uniform(0.4, 0.9)
            order = np.argsort(-probs)[: n_tags or len(labels)]
            tags = [(labels[j], float(probs[j])) for j in order]
        records.append((track_id, str(path), size, file_columns, descriptors, vector, tags))
    with LibraryStore(root, create=True) as store, store.transaction() as conn:
        for track_id, path, size, file_columns, descriptors, vector, tags in records:
            tracks.upsert_track(conn, track_id, content_hash=f"hash-{track_id}", path=path,
                                size_bytes=size, mtime=now, status=STATUS_OK, error=None,
                                now=now)  # fmt: skip
            tracks.set_file_columns(conn, track_id, file_columns)
            analysis.put_descriptors(conn, track_id, descriptors)
            model_outputs.put_embedding(conn, track_id, spec.name, spec.version, vector)
            model_outputs.replace_tags(conn, track_id, spec.name, tags)
        schema.bump_catalog_version(conn)
    return ids
