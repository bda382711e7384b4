"""Embedding speed and memory of every registered model, on one CPU core.

For each model a fresh Python process (this script re-invoked with ``--one MODEL``, so
peak memory is that model's alone) with ``OMP_NUM_THREADS=1`` and
``torch.set_num_threads(1)``:

1. loads the model and runs it once on the first file (warm-up, untimed);
2. ``--repeats`` times, for each file: decodes it to mono 16 kHz
   (:func:`songscape.audio.decode.load_audio`: Ogg Vorbis decode + soxr resampling) and
   runs ``model.run(y)`` (log-mel features + the network + pooling);
3. prints one JSON line.

Real-time factors are audio seconds per wall second on that one core (higher is faster):
``rtf_decode`` (decoding alone), ``rtf_network_per_core`` (``model.run``: features and
network), ``rtf_total_per_core`` (both) -- each the median over the repeats, with the
range of the total. ``rtf_total_per_cpu_s`` divides by the process's CPU time instead of
wall time: on a machine shared with other jobs it is the closer figure for one core of
its own (the two agree on an idle machine). ``rtf_features_per_core`` times the log-mel
front end alone (part of ``model.run``). ``peak_rss_mb`` is the child's ``ru_maxrss``;
``rss_before_model_mb``, ``rss_after_load_mb`` and ``rss_after_warmup_mb`` are the same
peak after the imports, after building the model and after the warm-up run.
``loadavg_1min`` records how busy the machine was.

Files: the 8 music recordings of ``librosa_data`` (about 8.5 minutes).

Result: ``bench/results/embed.json`` (``--out``), the rows also printed as JSON lines.
(Speed only: embedding quality is ``bench/probe.py``'s, through the evaluation harness.)

Usage: ``python bench/embed.py [--models NAME ...] [--repeats N] [--limit N] [--data DIR]
[--out PATH]``
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

# One BLAS/OpenMP thread, set before numpy and torch are imported (lazily, in measure_one).
os.environ["OMP_NUM_THREADS"] = "1"
os.environ["MKL_NUM_THREADS"] = "1"
os.environ["OPENBLAS_NUM_THREADS"] = "1"

from record import machine, write_results

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE_RATE = 16000


def music_files(data: Path, limit: int = 0) -> list[Path]:
    root = data / "librosa_data"
    with (root / "labels.csv").open(newline="", encoding="utf-8") as fh:
        files = [root / r["path"] for r in csv.DictReader(fh) if r["label"] == "music"]
    return files[:limit] if limit else files


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)  # KiB on Linux


def measure_one(model_name: str, files: list[Path], repeats: int) -> dict:
    """Runs in the child process: time one model over ``files``."""
    import numpy as np
    import torch

    from songscape.audio.decode import load_audio
    from songscape.audio.features import musicnn_log_mel
    from songscape.models.registry import get_spec, load_model

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    loadavg = os.getloadavg()[0]
    rss_before = _rss_mb()
    spec = get_spec(model_name)
    if spec.sample_rate != SAMPLE_RATE:
        raise SystemExit(f"{model_name}: expected a {SAMPLE_RATE} Hz model")
    started = time.perf_counter()
    model = load_model(model_name)
    load_s = time.perf_counter() - started
    rss_loaded = _rss_mb()
    y, _ = load_audio(files[0], sr=SAMPLE_RATE)
    model.run(y)  # warm-up
    rss_warm = _rss_mb()

    decode_s, network_s, total_rtf, cpu_rtf = [], [], [], []
    audio_s = 0.0
    for _ in range(repeats):
        audio_s, dec, net = 0.0, 0.0, 0.0
        cpu0 = time.process_time()
        for path in files:
            t0 = time.perf_counter()
            y, _ = load_audio(path, sr=SAMPLE_RATE)
            t1 = time.perf_counter()
            model.run(y)
            t2 = time.perf_counter()
            audio_s += len(y) / SAMPLE_RATE
            dec += t1 - t0
            net += t2 - t1
        decode_s.append(dec)
        network_s.append(net)
        total_rtf.append(audio_s / (dec + net))
        cpu_rtf.append(audio_s / (time.process_time() - cpu0))
    features_s = 0.0
    for path in files:
        y, _ = load_audio(path, sr=SAMPLE_RATE)
        t0 = time.perf_counter()
        musicnn_log_mel(np.asarray(y))
        features_s += time.perf_counter() - t0

    return {
        "model": model_name,
        "files": len(files),
        "audio_s": round(audio_s, 1),
        "repeats": repeats,
        "rtf_total_per_core": round(statistics.median(total_rtf), 1),
        "rtf_total_range": [round(min(total_rtf), 1), round(max(total_rtf), 1)],
        "rtf_total_per_cpu_s": round(statistics.median(cpu_rtf), 1),
        "rtf_network_per_core": round(audio_s / statistics.median(network_s), 1),
        "rtf_decode": round(audio_s / statistics.median(decode_s), 1),
        "rtf_features_per_core": round(audio_s / features_s, 1),
        "ms_per_audio_s_total": round(1000 / statistics.median(total_rtf), 2),
        "load_s": round(load_s, 2),
        "peak_rss_mb": _rss_mb(),
        "rss_before_model_mb": rss_before,
        "rss_after_load_mb": rss_loaded,
        "rss_after_warmup_mb": rss_warm,
        "threads": torch.get_num_threads(),
        "loadavg_1min": round(loadavg, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--models", nargs="+", default=None, help="default: every registered")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes over the files")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N files")
    parser.add_argument("--out", type=Path, default=None, help="result JSON")
    parser.add_argument("--one", metavar="MODEL", help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args()
    files = music_files(args.data, args.limit)
    if not files:
        sys.exit(f"no librosa_data music files under {args.data}")
    if args.one:
        print(json.dumps(measure_one(args.one, files, args.repeats)), flush=True)
        return

    from songscape.models.registry import get_spec, list_models

    models = args.models or [spec.name for spec in list_models()]
    for name in models:
        get_spec(name)  # fails early, listing the known models
    rows = []
    for name in models:
        cmd = [sys.executable, __file__, "--one", name, "--data", str(args.data),
               "--repeats", str(args.repeats), "--limit", str(args.limit)]  # fmt: skip
        child = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if child.returncode != 0:
            sys.exit(f"{name}: child failed ({child.returncode}):\n{child.stderr}")
        line = child.stdout.strip().splitlines()[-1]
        rows.append(json.loads(line))
        print(line, flush=True)
    conditions = machine(threads=1, repeats=args.repeats, files=len(files))
    print(json.dumps({"written": str(write_results(__file__, rows, conditions, args.out))}))


if __name__ == "__main__":
    main()
