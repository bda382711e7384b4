"""Train the attention highlight model with musicnn's tags as targets (no labels needed).

As in Ha et al. (2017), a tagging network with attention over time is trained on the
collection's own songs; its attention then says which moments carry the song's
character. Targets: for each file, the ``top_k`` most probable of ``musicnn-msd``'s 50
tags (track-level mean over its 3 s patches; a library's stored tags when it has
them). Network: the ``self-attention`` architecture at a small width (about 60 k
parameters) on 15 s chunks, trained with ``songscape.training.trainer.train`` (task
``tags``) and registered as :data:`~songscape.models.highlight_attention.DEFAULT_ATTENTION_MODEL`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songscape.audio.decode import load_audio
from songscape.config import default_cache_dir
from songscape.datasets import LabelSet
from songscape.errors import TrainingError
from songscape.models.highlight_attention import DEFAULT_ATTENTION_MODEL
from songscape.models.registry import get_spec, load_model

#: Tag model whose predictions are the targets.
TARGET_MODEL = "musicnn-msd"
#: Tags per file used as targets.
TOP_K = 5
#: The network: self-attention back-end, narrow, 15 s chunks at 16 kHz, 32 ms mel hop.
ENCODER = {"sample_rate": 16000, "chunk_samples": 16000 * 15, "hop_length": 512,
           "n_fft": 1024, "n_mels": 64, "channels": [16, 16, 32, 32], "time_pools": 2,
           "d_model": 32, "n_heads": 2, "n_layers": 2, "d_ff": 64, "embedding_dim": 32}  # fmt: skip


def tag_cache_path(cache_dir: str | Path | None = None) -> Path:
    """Where per-file musicnn tag probabilities are cached (JSON, keyed by path, size, mtime)."""
    root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    return root / f"highlight-targets-{TARGET_MODEL}.json"


def musicnn_tag_labels(
    paths: Sequence[str | Path],
    top_k: int = TOP_K,
    model: str = TARGET_MODEL,
    progress: Any = None,
    known: dict[str, dict[str, float]] | None = None,
    cache_dir: str | Path | None = None,
) -> LabelSet:
    """A multi-label set: each file's ``top_k`` most probable tags of ``model``.

    ``known`` maps a path to tag probabilities already computed (a library's stored
    ``musicnn-msd`` tags); other files are tagged now, and the result is cached
    (:func:`tag_cache_path`). Files that cannot be decoded are skipped (counted in
    ``skipped["undecodable"]``).
    """
    cache_file = tag_cache_path(cache_dir)
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    known = dict(known or {})
    kept, labels, skipped, tagger = [], [], 0, None
    if progress is not None:
        progress.phase("tag", len(paths))
    for path in paths:
        path = Path(path).resolve()
        probs = known.get(str(path))
        if probs is None:
            try:
                st = path.stat()
                key = f"{path}|{st.st_size}|{st.st_mtime_ns}"
                probs = cache.get(key)
                if probs is None:
                    if tagger is None:
                        tagger = load_model(model)
                    y, _ = load_audio(path, sr=get_spec(model).sample_rate, mono=True)
                    out = tagger.run(y)
                    mean = np.asarray(out.taggram, dtype=float).mean(axis=0)
                    probs = cache[key] = {t: round(float(p), 5)
                                          for t, p in zip(out.labels, mean, strict=True)}
            except Exception:  # noqa: BLE001 - a bad file is skipped, not fatal
                skipped += 1
                probs = None
        if probs:
            top = sorted(probs, key=lambda t: -probs[t])[:top_k]
            kept.append(path)
            labels.append(tuple(sorted(top)))
        if progress is not None:
            progress.advance(1)
    if tagger is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        cache_file.write_text(json.dumps(cache))
    classes = tuple(sorted({t for lab in labels for t in lab}))
    return LabelSet(
        paths=kept, labels=labels, groups=np.array([str(p) for p in kept]), classes=classes,
        multilabel=True, source=f"{model} top-{top_k} tags", label_column="tags",
        skipped={"undecodable": skipped} if skipped else {},
    )  # fmt: skip


def train_attention_model(
    paths: Sequence[str | Path],
    name: str = DEFAULT_ATTENTION_MODEL,
    epochs: int = 8,
    seed: int = 0,
    overwrite: bool = False,
    progress: Any = None,
    models_dir: str | None = None,
    cache_dir: str | None = None,
    known_tags: dict[str, dict[str, float]] | None = None,
    chunks_per_track: int = 16,
) -> dict:
    """Tag ``paths`` with musicnn (``known_tags``: probabilities already stored, by path),
    train the attention model on them, register it.

    Returns the trainer's summary (``TrainResult.to_json()``).

    Raises
    ------
    TrainingError
        Fewer than 4 usable files, or the trainer's own errors.
    """
    from songscape.training.trainer import TrainConfig, train

    data = musicnn_tag_labels(paths, progress=progress, known=known_tags, cache_dir=cache_dir)
    if len(data) < 4:
        raise TrainingError(f"the attention model needs at least 4 decodable tracks, "
                            f"got {len(data)}")  # fmt: skip
    config = TrainConfig(
        arch="self-attention", task="tags", epochs=epochs, batch_size=8, lr=2e-3, seed=seed,
        patience=4, chunks_per_track=chunks_per_track, valid_chunks=4, valid_fraction=0.2,
        encoder=ENCODER,
    )  # fmt: skip
    result = train(config, data, name, models_dir=models_dir, cache_dir=cache_dir,
                   overwrite=overwrite, progress=progress)  # fmt: skip
    return result.to_json()
