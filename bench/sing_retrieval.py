"""Singer retrieval for bench/sing.py: baselines and the trained vocal encoders.

``mir1k_retrieval``
    mir1k_half, per singer (songs = the ``<singer>_<song>`` prefixes, in name order):
    the *query* clips are ``--queries-per-singer`` clips of the singer's last songs
    (isolated voice, right channel); the *catalog* is the first ``--catalog-per-singer``
    clips of the other songs (mixtures, both channels summed) and the *training* clips
    the next ``--train-per-singer`` clips of those other songs (mixtures). Catalog and
    training clips are analysed exactly as the ``vocals`` stage does (its sung regions
    included); the encoders are trained by ``songscape.training.trainer.train`` on the
    sung regions of catalog + training clips (the "library"), which share no clip and
    no song with the queries. The query's embedding is taken over its voiced regions
    (as ``sing`` does). Top-1/top-3: the best (three best) catalog clips include one
    sung by the query's singer (tammy has one song: catalog and training only).
``jamendo_retrieval``
    The 10 Jamendo songs (10 lead singers): each song is enrolled on its sung lines
    (line annotations) that end in its first half, and queried with the sung lines of
    its second half, in segments of about ``segment_s`` seconds of singing (up to
    ``max_queries`` per song). Vectors over the vocal-dominant signal (or the mix, for
    an encoder trained on the mix), separated on the concatenated sung lines of each
    part. Encoders trained on the enrolment halves only (the same variants and settings).
"""

from __future__ import annotations

import csv
import hashlib
import pickle
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from songscape.analysis.vocals import active_regions, sung_audio
from songscape.audio.decode import load_audio
from songscape.datasets import LabelSet
from songscape.evaluation.intervals import wilson_interval
from songscape.ingest.vocals_stage import analyze_song_vocals
from songscape.models import trained
from songscape.models.pitch import track_pitch
from songscape.models.registry import get_spec, load_model
from songscape.models.spleeter import melody_signal
from songscape.models.vocal_timbre import (
    VOCAL_TRAINING_SOURCE,
    baseline_vocal_embeddings,
    trained_vocal_embedding,
    vocal_kind,
)
from songscape.sing.match import DEFAULT_WEIGHTS, fused_timbre
from songscape.sing.vocal_training import MAX_SUNG_S_PER_TRACK, spread_regions, write_vocal_segments
from songscape.sing.voice import VOICE_MAX_PATCHES
from songscape.training.trainer import TrainConfig, train

SR = 22050
HOP = 0.02
#: The encoders trained (a priori settings, small enough for a CPU in minutes).
ENCODER = {"chunk_samples": 32000, "channels": [16, 16, 32, 32, 32, 32, 64],
           "embedding_dim": 64}  # fmt: skip
TJAE_ENCODER = {"chunk_samples": 32000, "channels": 32, "skip_channels": 32, "n_layers": 5,
                "embedding_dim": 64, "n_mels": 64}  # fmt: skip
VARIANTS = {
    # name: (task, arch, augment, signal, encoder overrides)
    "timbre": ("moco", "shortchunk-cnn", "pitch_shift=negative,time_stretch=positive",
               "dominant", ENCODER),
    "timbre-expression": ("moco", "shortchunk-cnn", "pitch_shift=negative,time_stretch=negative",
                          "dominant", ENCODER),
    "mood": ("tjae", "tjae", "", "dominant", TJAE_ENCODER),
    "timbre-mix": ("moco", "shortchunk-cnn", "pitch_shift=negative,time_stretch=positive",
                   "mix", ENCODER),
}  # fmt: skip


def mir1k_split(data: Path, catalog_per: int, train_per: int,
                queries_per: int) -> list[tuple[str, Path, str]]:  # fmt: skip
    """(singer, path, role) with role ``catalog``, ``train`` or ``query`` (module docstring)."""
    by_singer: dict[str, list[Path]] = {}
    with open(data / "mir1k_half" / "labels.csv", newline="") as f:
        for row in csv.DictReader(f):
            by_singer.setdefault(row["singer"], []).append(data / "mir1k_half" / row["path"])
    out = []
    for singer in sorted(by_singer):
        paths = sorted(by_singer[singer])
        songs = sorted({p.stem.rsplit("_", 1)[0] for p in paths})
        query_songs: list[str] = []
        queries: list[Path] = []
        for song in reversed(songs[1:]):  # the last songs, never the first
            if len(queries) >= queries_per:
                break
            query_songs.append(song)
            queries += [p for p in paths if p.stem.rsplit("_", 1)[0] == song]
        queries = queries[:queries_per]
        rest = [p for p in paths if p.stem.rsplit("_", 1)[0] not in query_songs]
        out += [(singer, p, "catalog") for p in rest[:catalog_per]]
        out += [(singer, p, "train") for p in rest[catalog_per: catalog_per + train_per]]
        out += [(singer, p, "query") for p in queries]
    return out


def _cached(cache: Path, key: str, fn):
    path = cache / (hashlib.sha1(key.encode()).hexdigest()[:16] + ".pkl")
    if path.is_file():
        return pickle.loads(path.read_bytes())
    value = fn()
    path.write_bytes(pickle.dumps(value))
    return value


def analyse_mixture(path: Path, tagger, labels) -> dict:
    """The ``vocals`` stage's analysis of a mir1k mixture (no trained encoder yet)."""
    y, _ = load_audio(path, sr=SR, mono=False)
    mix = y.mean(axis=0)
    t0 = time.perf_counter()
    y16, _ = load_audio(path, sr=16000, mono=True)
    tags = tagger.run(y16)
    payload = analyze_song_vocals(mix, SR, tags.taggram, labels, tags.patch_times_s,
                                  tags.patch_duration_s, encoders={})  # fmt: skip
    return {"embeddings": {k: v for k, (_, v) in payload.embeddings.items()},
            "regions": payload.regions, "seconds": len(mix) / SR,
            "stage_s": time.perf_counter() - t0}  # fmt: skip


def analyse_voice(path: Path) -> dict:
    """A query: the isolated voice, measured as ``sing`` measures a recording."""
    y, _ = load_audio(path, sr=SR, mono=False)
    voice = y[1]
    track = track_pitch(voice, SR, hop_s=0.04)
    active = np.isfinite(track.midi)
    emb = baseline_vocal_embeddings(voice, SR, track.times_s, active, VOICE_MAX_PATCHES)
    return {"embeddings": {k: v for k, (_, v) in emb.items()},
            "regions": active_regions(track.times_s, active, 0.04)}  # fmt: skip


def train_variants(items: list[tuple[str, str, np.ndarray]], names: list[str], work: Path,
                   library: str, epochs: int, chunks: int) -> dict:  # fmt: skip
    """Train each variant on the sung regions of ``items``; {variant: (model, record)}."""
    datasets = {
        signal: write_vocal_segments(
            [(i, p, spread_regions(r, MAX_SUNG_S_PER_TRACK)) for i, p, r in items],
            work / "segments" / signal, signal, f"{VOCAL_TRAINING_SOURCE}:{signal}:{library}")
        for signal in {VARIANTS[v][3] for v in names}
    }  # fmt: skip
    return train_on(datasets, names, work, epochs, chunks)


def train_on(datasets: dict, names: list[str], work: Path, epochs: int, chunks: int) -> dict:
    """Train each variant on ``datasets[its signal]``; {variant: (model, record)}."""
    models_dir = work / "models"
    # scan the default models directory now: a first scan after train() would drop the
    # models it registered from ``models_dir``
    trained.ensure_scanned()
    out = {}
    for variant in names:
        task, arch, augment, signal, encoder = VARIANTS[variant]
        data = datasets[signal]
        config = TrainConfig(arch=arch, task=task, epochs=epochs, batch_size=8, lr=1e-3,
                             chunks_per_track=chunks, valid_chunks=2, augment=augment,
                             valid_fraction=0.2, num_threads=1, encoder=dict(encoder),
                             patience=epochs, moco_queue=64, moco_momentum=0.99)  # fmt: skip
        name = f"bench-vocal-{variant}"
        t0 = time.perf_counter()
        result = train(config, data, name, models_dir=models_dir, cache_dir=work / "cache",
                       overwrite=True)  # fmt: skip
        out[variant] = (name, {
            "model": name, "task": task, "arch": arch, "augment": augment, "signal": signal,
            "encoder": encoder, "epochs": epochs, "chunks_per_track": chunks,
            "n_files": len(data), "train_s": round(time.perf_counter() - t0, 1),
            "valid_metrics": result.metadata["valid_metrics"]})  # fmt: skip
    trained.refresh(models_dir)
    return out


def top_k_scores(catalog: list[tuple[str, dict]], queries: list[tuple[str, dict]],
                 kinds: list[str], weights: dict | None) -> dict:  # fmt: skip
    """Top-1/top-3 accuracy (with Wilson 95 % intervals) of a kind or a fusion."""
    songs = {}
    for k in kinds:
        songs[k] = (np.stack([c[1][k] for c in catalog]), np.ones(len(catalog), dtype=bool))
    labels = np.array([c[0] for c in catalog])
    hits1 = hits3 = 0
    for singer, q in queries:
        w = weights if weights is not None else {kinds[0]: 1.0}
        sims, _ = fused_timbre({k: q[k] for k in kinds}, songs, w, len(catalog))
        order = np.argsort(-sims, kind="stable")
        hits1 += labels[order[0]] == singer
        hits3 += singer in labels[order[:3]]
    n = len(queries)
    return {"top1": hits1 / n, "top3": hits3 / n, "n": n,
            "top1_ci95": list(wilson_interval(int(hits1), n)),
            "top3_ci95": list(wilson_interval(int(hits3), n))}  # fmt: skip


def score_all(catalog, queries, trained_kinds: list[str]) -> dict:
    base = ["mfcc", "musicnn"]
    out = {k: top_k_scores(catalog, queries, [k], None) for k in base + trained_kinds}
    out["fusion (baselines)"] = top_k_scores(catalog, queries, base, DEFAULT_WEIGHTS)
    if trained_kinds:
        out["fusion"] = top_k_scores(catalog, queries, base + trained_kinds, DEFAULT_WEIGHTS)
    return out


def mir1k_retrieval(data: Path, work: Path, catalog_per: int, train_per: int, queries_per: int,
                    variants: list[str], epochs: int, chunks: int) -> dict:  # fmt: skip
    files = mir1k_split(data, catalog_per, train_per, queries_per)
    cache = work / "analysis"
    cache.mkdir(parents=True, exist_ok=True)
    spec = get_spec("musicnn-mtt")
    tagger = load_model("musicnn-mtt")
    rows = []
    for singer, path, role in tqdm(files, desc="mir1k analysis"):
        fn = (lambda p=path: analyse_voice(p)) if role == "query" else (
            lambda p=path: analyse_mixture(p, tagger, spec.labels))
        rows.append((singer, path, role, _cached(cache, f"{role}|{path.name}|v3", fn)))
    library = [(p.stem, str(p), a["regions"]) for _, p, role, a in rows if role != "query"]
    t0 = time.perf_counter()
    models = train_variants(library, variants, work, "mir1k-bench", epochs, chunks)
    train_s = time.perf_counter() - t0
    kinds = {variant: vocal_kind(name) for variant, (name, _) in models.items()}
    for _, path, role, a in tqdm(rows, desc="embed (trained)"):
        y, _ = load_audio(path, sr=SR, mono=False)
        signals = {"voice": y[1]} if role == "query" else {"mix": y.mean(axis=0)}
        for variant, (name, _) in models.items():
            signal = "voice" if role == "query" else VARIANTS[variant][3]
            if signal == "dominant" and "dominant" not in signals:
                signals["dominant"] = melody_signal(signals["mix"], SR)
            a["embeddings"][kinds[variant]] = trained_vocal_embedding(
                name, signals[signal], SR, a["regions"])[1]  # fmt: skip
    kinds = list(kinds.values())
    catalog = [(s, a["embeddings"]) for s, _, role, a in rows if role == "catalog"]
    queries = [(s, a["embeddings"]) for s, _, role, a in rows if role == "query"]
    stage = [a for _, _, role, a in rows if role != "query"]
    return {
        "summary": score_all(catalog, queries, kinds),
        "n_catalog": len(catalog), "n_queries": len(queries),
        "n_singers": len({s for s, _ in catalog}), "chance_top1": 1 / len({s for s, _ in catalog}),
        "clips": {role: sorted(p.name for _, p, r, _ in rows if r == role)
                  for role in ("catalog", "train", "query")},
        "encoders": {v: rec for v, (_, rec) in models.items()}, "training_s": round(train_s, 1),
        "vocals_stage_realtime_factor": sum(a["seconds"] for a in stage)
        / sum(a["stage_s"] for a in stage),
    }  # fmt: skip


def jamendo_lines(data: Path, song: Path) -> np.ndarray:
    path = data / "jamendolyrics_subset10" / "annotations" / "lines" / f"{song.stem}.csv"
    with open(path, newline="") as f:
        return np.array([[float(r["start_time"]), float(r["end_time"])]
                         for r in csv.DictReader(f)]).reshape(-1, 2)  # fmt: skip


def query_segments(regions: np.ndarray, segment_s: float, max_queries: int) -> list[np.ndarray]:
    """Consecutive groups of regions of about ``segment_s`` seconds of singing each."""
    out, current, total = [], [], 0.0
    for a, b in regions:
        current.append([a, b])
        total += b - a
        if total >= segment_s:
            out.append(np.array(current))
            current, total = [], 0.0
            if len(out) >= max_queries:
                break
    return out


def _embeddings(sig: np.ndarray) -> dict:
    times = np.arange(0, len(sig) / SR, HOP)
    active = np.ones(len(times), dtype=bool)
    return {k: v for k, (_, v) in baseline_vocal_embeddings(sig, SR, times, active).items()}


def jamendo_retrieval(data: Path, work: Path, variants: list[str], epochs: int, chunks: int,
                      segment_s: float, max_queries: int) -> dict:  # fmt: skip
    """See the module docstring. The vocal-dominant separation runs on the concatenated
    sung lines of each part (enrolment, each query) rather than on the whole song: a
    quarter of the cost, and the background still repeats within the lines."""
    songs = sorted((data / "jamendolyrics_subset10" / "audio").glob("*.ogg"))
    cache = work / "jamendo"
    cache.mkdir(parents=True, exist_ok=True)
    parts = []
    for song in tqdm(songs, desc="jamendo"):
        def analyse(song=song):
            y, _ = load_audio(song, sr=SR, mono=True)
            lines = jamendo_lines(data, song)
            half = len(y) / SR / 2
            enrol = sung_audio(y, SR, lines[lines[:, 1] <= half])
            queries = [sung_audio(y, SR, q) for q in
                       query_segments(lines[lines[:, 0] >= half], segment_s, max_queries)]
            signals = {"enrol": {"mix": enrol, "dominant": melody_signal(enrol, SR)},
                       "queries": [{"mix": q, "dominant": melody_signal(q, SR)}
                                   for q in queries]}  # fmt: skip
            return {"signals": signals, "enrol_s": len(enrol) / SR,
                    "enrol_emb": _embeddings(signals["enrol"]["dominant"]),
                    "query_emb": [_embeddings(q["dominant"]) for q in signals["queries"]]}
        parts.append((song, _cached(cache, f"{song.name}|v3|{segment_s}|{max_queries}", analyse)))
    train_dir = work / "jamendo-train"
    datasets = {}
    for signal in {VARIANTS[v][3] for v in variants}:
        folder = train_dir / "segments" / signal
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for song, a in parts:
            path = folder / f"{song.stem}.wav"
            sf.write(path, a["signals"]["enrol"][signal], SR, subtype="PCM_16")
            paths.append(path.resolve())
        datasets[signal] = LabelSet(
            paths=paths, labels=[()] * len(paths), groups=np.array([p.stem for p in paths]),
            classes=(), source=f"{VOCAL_TRAINING_SOURCE}:{signal}:jamendo-first-halves",
            group_source="track")  # fmt: skip
    models = train_on(datasets, variants, train_dir, epochs, chunks)
    kinds = {variant: vocal_kind(name) for variant, (name, _) in models.items()}
    for _, a in parts:
        for variant, (name, _) in models.items():
            signal = VARIANTS[variant][3]
            a["enrol_emb"][kinds[variant]] = trained_vocal_embedding(
                name, a["signals"]["enrol"][signal], SR)[1]  # fmt: skip
            for q, e in zip(a["signals"]["queries"], a["query_emb"], strict=True):
                e[kinds[variant]] = trained_vocal_embedding(name, q[signal], SR)[1]
    kinds = list(kinds.values())
    catalog = [(s.stem, a["enrol_emb"]) for s, a in parts]
    queries = [(s.stem, e) for s, a in parts for e in a["query_emb"]]
    return {
        "summary": score_all(catalog, queries, kinds),
        "n_catalog": len(catalog), "n_queries": len(queries), "chance_top1": 1 / len(catalog),
        "enrol_s": {s.stem: round(a["enrol_s"], 1) for s, a in parts},
        "segment_s": segment_s,
        "encoders": {v: rec for v, (_, rec) in models.items()},
    }  # fmt: skip
