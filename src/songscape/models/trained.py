"""Models trained with ``songscape train``: saved checkpoints, found by the registry.

A trained model lives in ``<models dir>/<name>/`` (:func:`~songscape.config.
default_models_dir`: ``$SONGSCAPE_MODELS``, else ``$XDG_DATA_HOME/songscape/models``,
else ``~/.local/share/songscape/models``):

* ``model.pt``: ``torch.save`` of a dict: encoder architecture, configuration and
  weights, classifier/tag head (if any), label names, the training configuration, the
  split (file paths per part), per-epoch metrics, hardware and training time;
* ``model.json``: the same minus the weights, plus ``checkpoint_sha1`` (the hash of
  ``model.pt``): read by the registry without importing torch;
* ``metrics.jsonl``: one JSON object per epoch; ``last.pt``: the state to ``--resume``.

Files are written to a temporary name and renamed, so a crash never leaves half a
checkpoint. :func:`register_trained_models` (called by the registry on first use)
registers every ``<name>/model.json`` as a :class:`~songscape.models.registry.ModelSpec`
whose version is the checkpoint hash; a broken or conflicting one is skipped with a
warning. The loader returns a :class:`TrainedModel`, an
:class:`~songscape.models.registry.AudioModel`: audio is cut into the encoder's
training chunks (the last zero-padded), each chunk is embedded (and, with a head,
classified), and the track embedding is the mean over chunks.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from songscape.config import default_models_dir
from songscape.errors import TrainedModelError
from songscape.models import pretrained
from songscape.models.spec import (
    ModelOutput,
    ModelSpec,
    register_model,
    registered_names,
    unregister_model,
)

CHECKPOINT = "model.pt"
METADATA = "model.json"
LAST = "last.pt"
METRICS = "metrics.jsonl"
FORMAT = "songscape-trained-model"
FORMAT_VERSION = 1
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

#: Names registered from the models directory (so a rescan can drop them).
_TRAINED: dict[str, Path] = {}


def models_dir(path: str | os.PathLike[str] | None = None) -> Path:
    return Path(path).expanduser() if path is not None else default_models_dir()


def builtin_names() -> set[str]:
    """Registry names not coming from the models directory (pretrained ports)."""
    pretrained.ensure_registered()
    return set(registered_names()) - set(_TRAINED)


def check_name(name: str) -> str:
    """Validate a new model name (lower-case letters, digits, ``.``, ``_``, ``-``)."""
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"bad model name {name!r}: use lower-case letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit)"
        )
    if name in builtin_names():
        raise ValueError(f"{name!r} is a built-in model; choose another name")
    return name


def sha1_file(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha1").hexdigest()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``.<name>.<pid>.tmp``, fsync it, rename it to ``path`` and fsync
    the folder: a crash (or SIGKILL) leaves the old file or the new one, never part of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_folder(path.parent)


def fsync_folder(folder: Path) -> None:
    """Make a rename or removal in ``folder`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory: the rename itself is atomic
    finally:
        os.close(fd)


def is_temp_name(name: str) -> bool:
    """Whether a file name is one of :func:`write_atomic`'s temporary names (a leftover of a
    killed writer when no writer runs)."""
    return name.startswith(".") and name.endswith(".tmp")


def save_checkpoint(folder: Path, checkpoint: dict[str, Any]) -> dict[str, Any]:
    """Write ``model.pt`` then ``model.json`` (each atomically); returns the metadata.

    ``model.json`` is the registry's record of the model, so an older one is removed
    first: until the new one is written the folder holds no registered model, and a
    ``model.json`` never describes another ``model.pt`` than the one beside it.
    """
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    data = buffer.getvalue()
    (folder / METADATA).unlink(missing_ok=True)
    write_atomic(folder / CHECKPOINT, data)
    meta = {k: v for k, v in checkpoint.items() if not k.endswith("_state")}
    meta["checkpoint_sha1"] = hashlib.sha1(data).hexdigest()
    meta["checkpoint_bytes"] = len(data)
    write_atomic(folder / METADATA, json.dumps(meta, indent=1, allow_nan=False).encode())
    return meta


def read_metadata(folder: Path) -> dict[str, Any]:
    """The ``model.json`` of a trained model, checked for the fields the registry needs."""
    path = folder / METADATA
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise TrainedModelError(f"{path}: unreadable ({err})") from err
    required = ("format", "name", "arch", "task", "sample_rate", "chunk_samples",
                "embedding_dim", "labels", "checkpoint_sha1")  # fmt: skip
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise TrainedModelError(f"{path}: not a songscape trained model")
    missing = [k for k in required if k not in meta]
    if missing:
        raise TrainedModelError(f"{path}: missing {', '.join(missing)}")
    if not (folder / CHECKPOINT).is_file():
        raise TrainedModelError(f"{folder / CHECKPOINT}: missing")
    return meta


def spec_from_metadata(meta: dict[str, Any], folder: Path | None = None) -> ModelSpec:
    """The registry entry of a trained model (``folder``: where its loader looks)."""
    labels = tuple(meta["labels"])
    metrics = {k: float(v) for k, v in (meta.get("valid_metrics") or {}).items()
               if k.startswith("valid_") and isinstance(v, int | float)
               and not isinstance(v, bool)}  # fmt: skip
    for key in ("roc_auc", "pr_auc"):  # what `songscape models` shows (held-out figures)
        if f"valid_{key}" in metrics:
            metrics[key] = metrics[f"valid_{key}"]
    created = str(meta.get("created", ""))[:10]
    n_train = len((meta.get("split") or {}).get("train", []))
    return ModelSpec(
        name=meta["name"],
        version=f"trained-{meta['checkpoint_sha1'][:12]}",
        description=f"trained {meta['arch']} ({meta['task']}) on {n_train} files, {created}",
        sample_rate=int(meta["sample_rate"]),
        embedding_layer="embedding",
        layers={"embedding": int(meta["embedding_dim"])},
        tag_source=meta["name"] if labels else None,
        labels=labels,
        loader=_loader(folder),
        metrics=metrics,
        patch_duration_s=float(meta["chunk_samples"]) / float(meta["sample_rate"])
        if meta.get("kind") != "features"
        else float(meta.get("patch_duration_s", 3.0)),
    )


_SCANNED = False


def ensure_scanned() -> None:
    """Register the models directory's trained models on first use (see :func:`refresh`)."""
    global _SCANNED
    if not _SCANNED:
        _SCANNED = True
        register_trained_models()


def register_trained_models(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Register every trained model under the models directory; returns their names.

    Models registered by an earlier scan are dropped first (so a deleted or replaced
    checkpoint is noticed). Broken ones are skipped with a :class:`UserWarning`.
    """
    for name in list(_TRAINED):
        unregister_model(name)
        del _TRAINED[name]
    root = models_dir(path)
    if not root.is_dir():
        return []
    names = []
    builtins = set(registered_names()) - set(_TRAINED)
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name[0] != "."):
        if not (folder / METADATA).exists():
            continue  # cache/, a model still training, or one whose save was cut short
        try:
            meta = read_metadata(folder)
            if meta["name"] != folder.name:
                raise TrainedModelError(f"{folder}: holds model {meta['name']!r}")
            if meta["name"] in builtins:
                raise TrainedModelError(f"{folder}: name clashes with the built-in model")
            register_model(spec_from_metadata(meta, folder), replace=True)
        except (TrainedModelError, KeyError, TypeError, ValueError) as err:
            warnings.warn(f"skipping trained model {folder.name}: {err}", stacklevel=2)
            continue
        _TRAINED[meta["name"]] = folder
        names.append(meta["name"])
    return names


def refresh(path: str | os.PathLike[str] | None = None) -> list[str]:
    """Re-scan the models directory (after training, or with another ``$SONGSCAPE_MODELS``).

    The scan counts as the first one (:func:`ensure_scanned` does not scan again), so the
    models of a ``path`` other than the default stay registered.
    """
    global _SCANNED
    pretrained.ensure_registered()
    _SCANNED = True
    return register_trained_models(path)


def is_trained(name: str) -> bool:
    return name in _TRAINED


def trained_metadata(name: str, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """``model.json`` of a trained model (registered, or in ``path``)."""
    folder = models_dir(path) / name if path is not None else _TRAINED.get(name)
    return read_metadata(folder if folder is not None else models_dir() / name)


def _loader(folder: Path | None):
    def load(spec: ModelSpec) -> TrainedModel:
        return TrainedModel.from_folder(folder or models_dir() / spec.name, spec)

    return load


class TrainedModel:
    """A trained network behind the :class:`~songscape.models.registry.AudioModel` API.

    Parameters
    ----------
    spec : ModelSpec
    net : torch.nn.Module
        :class:`songscape.models.heads.TrainedNet` in eval mode.
    meta : dict
        The checkpoint's metadata.
    batch_chunks : int
        Chunks per forward pass.
    """

    def __init__(self, spec: ModelSpec, net: Any, meta: dict[str, Any], batch_chunks: int = 8):
        self.spec = spec
        self.net = net
        self.meta = meta
        self.batch_chunks = int(batch_chunks)
        self.kind = meta.get("kind", "waveform")
        self.multilabel = bool(meta.get("multilabel"))

    @classmethod
    def from_folder(cls, folder: Path, spec: ModelSpec | None = None) -> TrainedModel:
        import torch  # torch only when a trained model is loaded, not when specs are listed

        from songscape.models.heads import net_from_checkpoint

        meta = read_metadata(folder)
        path = folder / CHECKPOINT
        digest = sha1_file(path)
        if digest != meta["checkpoint_sha1"]:
            raise TrainedModelError(f"{path}: does not match {METADATA} (hash differs)")
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
            net = net_from_checkpoint(checkpoint)
        except Exception as err:  # noqa: BLE001 - any failure means a broken checkpoint
            raise TrainedModelError(f"{path}: cannot load ({err})") from err
        return cls(spec or spec_from_metadata(meta, folder), net, meta)

    def _chunks(self, y: np.ndarray, hop_s: float | None) -> tuple[np.ndarray, np.ndarray]:
        n = int(self.meta["chunk_samples"])
        sr = int(self.meta["sample_rate"])
        hop = n if hop_s is None else max(1, int(round(hop_s * sr)))
        y = np.asarray(y, dtype=np.float32)
        starts = np.arange(0, max(1, len(y) - n + hop), hop) if len(y) > n else np.array([0])
        starts = starts[starts < max(1, len(y))]
        chunks = np.zeros((len(starts), n), dtype=np.float32)
        for i, s in enumerate(starts):
            piece = y[s : s + n]
            chunks[i, : len(piece)] = piece
        return chunks, starts / sr

    def embed_chunks(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(embeddings, probabilities or None) for a batch of network inputs."""
        import torch

        embeddings, probs = [], []
        with torch.inference_mode():
            for start in range(0, len(x), self.batch_chunks):
                out = self.net(
                    torch.from_numpy(np.ascontiguousarray(x[start : start + self.batch_chunks]))
                )
                embeddings.append(out["embedding"].float().numpy())
                if "logits" in out:
                    logits = out["logits"].float()
                    p = torch.sigmoid(logits) if self.multilabel else torch.softmax(logits, -1)
                    probs.append(p.numpy())
        emb = np.concatenate(embeddings).astype(np.float32)
        return emb, (np.concatenate(probs).astype(np.float32) if probs else None)

    def run(self, y: np.ndarray, hop_s: float | None = None) -> ModelOutput:
        """Embed (and tag) mono audio at ``spec.sample_rate`` Hz, chunk by chunk.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
        hop_s : float or None
            Seconds between chunk starts; None: no overlap.
        """
        if self.kind == "features":
            from songscape.models.heads import musicnn_patch_features

            layer = self.meta.get("feature_layer") or "penultimate"
            x, times = musicnn_patch_features(y, self.meta["feature_model"], hop_s, layer)
        else:
            x, times = self._chunks(y, hop_s)
        emb, probs = self.embed_chunks(x)
        taggram = probs if probs is not None else np.zeros((len(emb), 0), dtype=np.float32)
        return ModelOutput(
            model=self.spec.name,
            version=self.spec.version,
            labels=self.spec.labels,
            taggram=taggram,
            patch_times_s=np.asarray(times, dtype=np.float64),
            patch_duration_s=self.spec.patch_duration_s,
            embeddings={"embedding": emb.mean(axis=0).astype(np.float32)},
            embedding_layer="embedding",
            patch_embeddings=emb,
        )
