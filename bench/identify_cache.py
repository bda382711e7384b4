"""Measure the fingerprint index saved in the library (issue 20): how long a CLI command
that identifies a clip takes when it builds the index from the catalog (as every command
did before) and when it reads the saved one.

The library: ``--tracks`` synthetic tracks (:func:`songscape.synthetic.catalogs.
build_synthetic_library`: catalog rows and vectors, no audio), of which the first 10
carry the real Chromaprint fingerprints of the 10 Jamendo songs of ``../shared/data``
and the others distractor fingerprints of 240 s made from those words
(:func:`identify.distractors`, as bench/identify.py's 10,000-track rows). The clip: 10 s
of the first Jamendo song from 60 s (WAV).

Timed, as wall-clock seconds of the whole process (``python -m songscape.cli``, one
thread), alternately with the saved index deleted first (*build*: read every fingerprint
from the catalog, sort the words, save the file) and with it present (*saved*):
``songscape identify CLIP --json`` (``--runs`` times each) and ``songscape similar --file
CLIP --json`` (once each, after one untimed run that builds the vector indexes; it
also runs the model on the clip). In-process: the
catalog read, the sort, the file's write and read, its size.

Result: ``bench/results/identify_cache.json``. Usage: ``python bench/identify_cache.py
[--tracks 10000] [--runs 3] [--out PATH]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np

from identify import DEFAULT_DATA, distractors
from record import machine, write_results
from songscape.audio.chromaprint import CHROMAPRINT_SAMPLE_RATE, ITEM_HOP_S, chromaprint_words
from songscape.audio.decode import load_audio
from songscape.catalog import fingerprints as fp_catalog
from songscape.catalog.store import LibraryStore
from songscape.ingest.fingerprint_stage import FINGERPRINT_ALGORITHM
from songscape.recordings.index import FingerprintIndex
from songscape.recordings.index_cache import (
    cache_path,
    content_key,
    read_index,
    stored_key,
    write_index,
)
from songscape.synthetic.catalogs import build_synthetic_library

SR = CHROMAPRINT_SAMPLE_RATE


def make_library(root: Path, data: Path, n_tracks: int) -> tuple[str, int]:
    """The library described above; returns the clip's track id and the word count."""
    songs = sorted((data / "jamendolyrics_subset10" / "audio").glob("*.ogg"))
    real = [chromaprint_words(load_audio(f, sr=SR, mono=True)[0], SR) for f in songs]
    ids = build_synthetic_library(root, n_tracks, seed=0)
    words = real + distractors(real, max(0, n_tracks - len(real)))
    with LibraryStore(root) as store, store.transaction() as conn:
        for track_id, w in zip(ids, words, strict=False):
            fp_catalog.put_fingerprint(conn, track_id, w, FINGERPRINT_ALGORITHM, ITEM_HOP_S,
                                       True, None)  # fmt: skip
    return ids[0], int(sum(len(w) for w in words))


def cli(root: Path, *args: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "songscape.cli", "--library", str(root), *args, "--json"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    return time.perf_counter() - t0, json.loads(out.stdout)


def in_process(root: Path) -> dict:
    with LibraryStore(root) as store:
        t0 = time.perf_counter()
        stored = fp_catalog.load_fingerprints(store.conn, FINGERPRINT_ALGORITHM)
        t1 = time.perf_counter()
        index = FingerprintIndex(stored)
        t2 = time.perf_counter()
        path = cache_path(root)
        write_index(path, stored_key(FINGERPRINT_ALGORITHM, stored), index)
        t3 = time.perf_counter()
        manifest = fp_catalog.fingerprint_manifest(store.conn, FINGERPRINT_ALGORITHM)
        key = content_key(FINGERPRINT_ALGORITHM, manifest)
        t4 = time.perf_counter()
        assert read_index(path, key) is not None
        t5 = time.perf_counter()
        size_mb = path.stat().st_size / 2**20
    return {"catalog_read_s": round(t1 - t0, 2), "sort_s": round(t2 - t1, 2),
            "write_s": round(t3 - t2, 2), "key_check_s": round(t4 - t3, 3),
            "read_s": round(t5 - t4, 2), "file_mb": round(size_mb, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument("--tracks", type=int, default=10_000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--out")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="identify-cache-") as tmp:
        root = Path(tmp) / "lib"
        t0 = time.perf_counter()
        truth, n_words = make_library(root, args.data_dir, args.tracks)
        made_s = time.perf_counter() - t0
        song = sorted((args.data_dir / "jamendolyrics_subset10" / "audio").glob("*.ogg"))[0]
        clip = Path(tmp) / "clip.wav"
        subprocess.run(["ffmpeg", "-v", "error", "-y", "-ss", "60", "-t", "10", "-i", str(song),
                        str(clip)], check=True)  # fmt: skip
        times: dict[str, list[float]] = {"identify_build": [], "identify_saved": [],
                                         "similar_build": [], "similar_saved": []}  # fmt: skip
        cli(root, "similar", "--file", str(clip), "--k", "5")  # builds the vector indexes
        answers = []
        for command, runs in (("identify", args.runs), ("similar", 1)):
            cmd = ("identify", str(clip)) if command == "identify" else (
                "similar", "--file", str(clip), "--k", "5")  # fmt: skip
            for _ in range(runs):
                cache_path(root).unlink(missing_ok=True)
                for kind in ("build", "saved"):
                    took, out = cli(root, *cmd)
                    times[f"{command}_{kind}"].append(round(took, 2))
                    answers.append(out["identified"])
                    print(command, kind, round(took, 2), out["identified"], file=sys.stderr)
        assert all(a is not None and a["id"] == truth for a in answers), answers
        results = {
            "tracks": args.tracks, "words": n_words, "library_made_s": round(made_s, 1),
            "clip_s": 10.0, "identified_right": len(answers),
            "cli_s": times, "in_process": in_process(root),
            "identify_ratio": round(float(np.median(times["identify_build"]))
                                    / float(np.median(times["identify_saved"])), 1),
            "similar_ratio": round(times["similar_build"][0] / times["similar_saved"][0], 2),
        }  # fmt: skip
    print(results, file=sys.stderr)
    conditions = machine(threads=1, data=str(args.data_dir))
    print(write_results(__file__, results, conditions, out=args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
