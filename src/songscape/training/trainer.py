"""Train an encoder on your own music: supervised, contrastive or autoencoding.

:func:`train` runs one training job (``songscape train``):

1. the files are decoded once into the :class:`~songscape.datasets.AudioCache`
   (or, for ``musicnn-head``, embedded once by ``musicnn-msd`` into a
   :class:`~songscape.datasets.FeatureCache`);
2. a grouped, stratified, seeded train/validation split is drawn and recorded;
3. every epoch, each training file gives ``chunks_per_track`` random chunks of the
   encoder's input length (``encoder.chunk_samples``; with supervised augmentations
   when ``augment`` names some), shuffled into batches;
4. validation uses fixed, evenly spaced chunks per file and averages the chunk
   predictions per file: loss, accuracy (single label) or macro ROC-AUC / PR-AUC (tags);
5. the best epoch (lowest validation loss) is kept; training stops after ``patience``
   epochs without improvement; ``metrics.jsonl`` gets one line per epoch and
   ``last.pt`` the state to resume from (weights, optimizer, epoch, RNG states);
6. the best weights are saved as a registry model (:mod:`songscape.models.trained`).

Tasks: ``genre``/``classification`` (one label, cross-entropy), ``artist`` (one label
read from an artist column: artist classification as a representation-learning
proxy, ArtistNet-style), ``tags`` (multi-label, binary cross-entropy), ``moco``
(contrastive, unlabelled: :class:`~songscape.training.objectives.MoCo` on views made by
:func:`songscape.audio.augment`), ``tjae`` (the TJAE autoencoder's reconstruction loss,
unlabelled).

``musicnn-head`` (the "arch" for fine-tuning on your labels cheaply): the frozen
``musicnn-msd`` network gives each 3 s patch a 200-d penultimate embedding (computed
once, cached); a small MLP (200 -> 256 -> classes, dropout) is trained on them with the
same loop, patches playing the role of chunks. Its embedding is the 256-d hidden layer.
``musicnn-finetune`` goes one layer deeper: it caches the pooled mid-level features
(1506-d: max and mean over time of musicnn's 753 front-/mid-end channels) and trains
musicnn's own back-end (batch-norm, dense 200, ReLU, batch-norm), initialised from the
pretrained ``musicnn-msd`` weights, with a new linear head; its embedding is the
fine-tuned 200-d penultimate layer. (The convolutional front-end stays frozen, so the
features can be cached.)
"""

from __future__ import annotations

import copy
import json
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from songscape.datasets import (
    MULTI_LABEL_TASKS,
    SINGLE_LABEL_TASKS,
    TASKS,
    UNLABELLED_TASKS,
    AudioCache,
    DatasetError,
    FeatureCache,
    LabelSet,
    file_key,
    train_valid_split,
)
from songscape.errors import TrainingError
from songscape.models.architectures import ARCHITECTURES, build_encoder
from songscape.models.heads import (
    FEATURE_ARCHS,
    FEATURE_LAYERS,
    FEATURE_MODEL,
    FeatureMLP,
    MusicnnBackend,
    TrainedNet,
    musicnn_patch_features,
    net_from_checkpoint,
)

ALL_ARCHS = (*ARCHITECTURES, *FEATURE_ARCHS)


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved with the model).

    Attributes
    ----------
    arch : str
        One of :data:`ALL_ARCHS`.
    task : str
        ``genre``/``classification``, ``tags``, ``artist``, ``moco`` or ``tjae``.
    epochs : int
        Maximum epochs (with ``--resume``: the total, counting finished ones).
    batch_size : int
    lr, weight_decay : float
        AdamW settings.
    device : str
        ``cpu`` or ``cuda``.
    seed : int
        Seeds the split, the chunk sampling, augmentations and the weights.
    patience : int
        Epochs without a better validation loss before stopping.
    chunks_per_track : int
        Random training chunks per file per epoch.
    valid_chunks : int
        Fixed validation chunks per file (evenly spaced).
    augment : str
        Augmentation spec, e.g. ``"pitch_shift=negative,time_stretch=positive"``
        (:meth:`songscape.audio.augment.AugmentationPolicy.from_spec`); roles
        ``positive`` are used as supervised augmentations too.
    valid_fraction : float
        Fraction of groups held out for validation.
    num_threads : int or None
        ``torch.set_num_threads`` (None: leave as is).
    encoder : dict
        Overrides of the architecture's defaults (``build_encoder(arch, **encoder)``).
    hidden_dim, dropout : int, float
        ``musicnn-head`` MLP.
    moco_queue, moco_momentum, moco_temperature : int, float, float
        MoCo settings (small queue and faster momentum suit small sets).
    """

    arch: str
    task: str = "genre"
    epochs: int = 10
    batch_size: int = 16
    lr: float = 1e-3
    weight_decay: float = 1e-4
    device: str = "cpu"
    seed: int = 0
    patience: int = 5
    chunks_per_track: int = 4
    valid_chunks: int = 4
    augment: str = ""
    valid_fraction: float = 0.2
    num_threads: int | None = None
    encoder: dict = field(default_factory=dict)
    hidden_dim: int = 256
    dropout: float = 0.3
    moco_queue: int = 512
    moco_momentum: float = 0.99
    moco_temperature: float = 0.1

    def validate(self) -> None:
        if self.arch not in ALL_ARCHS:
            raise TrainingError(
                f"unknown architecture {self.arch!r}; choose from {', '.join(ALL_ARCHS)}"
            )
        if self.task not in TASKS:
            raise TrainingError(f"unknown task {self.task!r}; choose from {', '.join(TASKS)}")
        if self.task == "tjae" and self.arch != "tjae":
            raise TrainingError("task tjae trains the tjae architecture: use --arch tjae")
        if self.arch in FEATURE_ARCHS and self.task in UNLABELLED_TASKS:
            raise TrainingError(f"{self.arch} needs labels (task genre, tags or artist)")
        for name in ("epochs", "batch_size", "chunks_per_track", "valid_chunks"):
            if getattr(self, name) < 1:
                raise TrainingError(f"{name} must be at least 1")
        if self.patience < 1 or self.lr <= 0:
            raise TrainingError("patience must be at least 1 and lr positive")
        if self.device not in ("cpu", "cuda"):
            raise TrainingError(f"device must be cpu or cuda, got {self.device!r}")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise TrainingError("--device cuda: no CUDA device is available to torch")

    @property
    def supervised(self) -> bool:
        return self.task not in UNLABELLED_TASKS

    @property
    def multilabel(self) -> bool:
        return self.task in MULTI_LABEL_TASKS


def build_net(config: TrainConfig, n_outputs: int) -> TrainedNet:
    if config.arch == "musicnn-head":
        encoder = FeatureMLP(200, config.hidden_dim, config.dropout)
        return TrainedNet(encoder, n_outputs, dropout=config.dropout)
    if config.arch == "musicnn-finetune":
        backend = MusicnnBackend(1506, 200, config.dropout)
        backend.load_pretrained(FEATURE_MODEL)
        return TrainedNet(backend, n_outputs, dropout=config.dropout)
    try:
        encoder = build_encoder(config.arch, **config.encoder)
    except ValueError as err:
        raise TrainingError(str(err)) from err
    return TrainedNet(encoder, n_outputs)


# ---- data sources -------------------------------------------------------------------------


class _WaveSource:
    """Random/fixed chunks from cached audio, with optional augmentation."""

    def __init__(self, cache: AudioCache, keys: list[str], n_samples: int, policy: Any = None):
        self.cache, self.keys, self.n = cache, keys, int(n_samples)
        self.sr = cache.sample_rate
        self.policy = policy

    def audio(self, i: int) -> np.ndarray:
        return np.asarray(self.cache.get(self.keys[i]), dtype=np.float32)

    def _crop(self, y: np.ndarray, start: int) -> np.ndarray:
        out = np.zeros(self.n, dtype=np.float32)
        piece = y[start : start + self.n]
        out[: len(piece)] = piece
        return out

    def random(self, i: int, rng: np.random.Generator) -> np.ndarray:
        y = self.cache.get(self.keys[i])
        if self.policy is not None:  # a random crop with the positive augmentations
            out = self.policy.augment_supervised(np.asarray(y, np.float32), self.sr, self.n, rng)
            return np.asarray(out, dtype=np.float32)
        start = int(rng.integers(0, max(1, len(y) - self.n + 1)))
        return self._crop(np.asarray(y[start : start + self.n], dtype=np.float32), 0)

    def fixed(self, i: int, count: int) -> np.ndarray:
        y = self.cache.get(self.keys[i])
        starts = np.unique(np.linspace(0, max(0, len(y) - self.n), count).round().astype(int))
        return np.stack([self._crop(np.asarray(y[s : s + self.n], dtype=np.float32), 0)
                         for s in starts])  # fmt: skip


class _FeatureSource:
    """Rows of per-patch features (``musicnn-head``)."""

    def __init__(self, features: list[np.ndarray]):
        self.features = features

    def random(self, i: int, rng: np.random.Generator) -> np.ndarray:
        f = self.features[i]
        return f[int(rng.integers(0, len(f)))]

    def fixed(self, i: int, count: int) -> np.ndarray:
        f = self.features[i]
        rows = np.unique(np.linspace(0, len(f) - 1, min(count, len(f))).round().astype(int))
        return f[rows]


# ---- helpers ------------------------------------------------------------------------------


def hardware_string(device: str = "cpu") -> str:
    """``"<CPU model>, N threads"`` or the CUDA device name."""
    if device == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{model}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs"


def _seed_all(seed: int) -> None:
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def _policy(spec: str) -> Any:
    if not spec:
        return None
    from songscape.audio.augment import AugmentationPolicy

    try:
        return AugmentationPolicy.from_spec(spec)
    except ValueError as err:
        raise TrainingError(f"--augment: {err}") from err


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    return value


@dataclass
class TrainResult:
    name: str
    folder: Path
    metadata: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        m = self.metadata
        return _jsonable({
            "name": self.name, "arch": m["arch"], "task": m["task"],
            "epochs_run": m["epochs_run"], "best_epoch": m["best_epoch"],
            "stopped_early": m["stopped_early"], "train_s": m["train_s"],
            "valid_metrics": m["valid_metrics"], "n_train": len(m["split"]["train"]),
            "n_valid": len(m["split"]["valid"]), "labels": m["labels"],
            "embedding_dim": m["embedding_dim"], "checkpoint": str(self.folder / "model.pt"),
            "metrics_log": str(self.folder / "metrics.jsonl"), "device": m["device"],
            "hardware": m["hardware"], "version": f"trained-{m['checkpoint_sha1'][:12]}",
        })  # fmt: skip


# ---- the loop -----------------------------------------------------------------------------


def train(
    config: TrainConfig,
    data: LabelSet,
    name: str,
    models_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: Any = None,
    register: bool = True,
) -> TrainResult:
    """Train, save and register a model (see the module docstring).

    Parameters
    ----------
    config : TrainConfig
    data : LabelSet
        Files (and labels for supervised tasks).
    name : str
        Registry name of the result.
    models_dir, cache_dir : path or None
        Defaults: :func:`songscape.config.default_models_dir`, ``default_cache_dir``.
    resume : bool
        Continue from ``<name>/last.pt`` (same data and configuration apart from
        ``epochs``, ``patience`` and ``device``).
    overwrite : bool
        Replace an existing model of that name.
    progress : object or None
        ``phase(name, total)`` / ``advance(n)`` callbacks (the CLI's progress bar).
    register : bool
        Re-scan the registry afterwards so the model can be loaded at once.

    Raises
    ------
    TrainingError, DatasetError
    """
    from songscape.config import default_cache_dir
    from songscape.models import trained

    config.validate()
    try:
        trained.check_name(name)
    except ValueError as err:
        raise TrainingError(str(err)) from err
    root = trained.models_dir(models_dir)
    folder = root / name
    if resume:
        if not (folder / trained.LAST).is_file():
            raise TrainingError(f"--resume: no {trained.LAST} in {folder}")
    elif folder.exists() and any(folder.iterdir()):
        if not overwrite:
            raise TrainingError(
                f"model {name!r} already exists in {root}: use --overwrite to replace it "
                "or --resume to continue training it"
            )
        shutil.rmtree(folder)
    if config.supervised and not data.labelled:
        raise TrainingError(f"task {config.task} needs labels (--labels CSV)")
    if config.supervised and data.multilabel != config.multilabel:
        raise TrainingError("the label set does not match the task (multi-label vs single)")
    if config.num_threads:
        torch.set_num_threads(int(config.num_threads))
    device = torch.device(config.device)
    started = time.perf_counter()

    # split (recorded with the model)
    train_idx, valid_idx = train_valid_split(data, config.valid_fraction, config.seed)
    if len(train_idx) == 0:
        raise TrainingError("no training files after the split")

    # data
    labels = list(data.classes) if config.supervised else []
    n_out = len(labels)
    _seed_all(config.seed)
    net = build_net(config, n_out).to(device)
    cache_root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    policy = _policy(config.augment)
    if config.arch in FEATURE_ARCHS:
        from songscape.models.registry import get_spec

        spec = get_spec(FEATURE_MODEL)
        audio = AudioCache(cache_root, spec.sample_rate)
        keys = audio.ensure(data.paths, progress)
        layer = FEATURE_LAYERS[config.arch]
        feats = FeatureCache(cache_root, f"{FEATURE_MODEL}-{layer}-patches-{spec.version}")
        features = feats.ensure(
            keys,
            lambda i: musicnn_patch_features(
                np.asarray(audio.get(keys[i]), np.float32), layer=layer
            )[0],
            progress,
            phase="musicnn",
        )
        source: Any = _FeatureSource(features)
        sample_rate, chunk_samples = spec.sample_rate, None
    else:
        encoder = net.encoder
        audio = AudioCache(cache_root, encoder.sample_rate)
        keys = audio.ensure(data.paths, progress)
        source = _WaveSource(audio, keys, encoder.chunk_samples, policy)
        sample_rate, chunk_samples = encoder.sample_rate, encoder.chunk_samples
    if config.supervised:
        targets = data.multi_hot() if config.multilabel else data.class_index()
    else:
        targets = None

    moco = None
    if config.task == "moco":
        from songscape.training.objectives import MoCo

        moco = MoCo(net.encoder, queue_size=config.moco_queue, momentum=config.moco_momentum,
                    temperature=config.moco_temperature).to(device)  # fmt: skip
        module: nn.Module = moco
    else:
        module = net
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)

    history: list[dict[str, Any]] = []
    best: dict[str, Any] = {"epoch": 0, "valid_loss": math.inf, "metrics": {}}
    best_state = copy.deepcopy(net.state_dict())
    bad_epochs, start_epoch, elapsed_before = 0, 1, 0.0
    split = {"train": [str(data.paths[i]) for i in train_idx],
             "valid": [str(data.paths[i]) for i in valid_idx]}  # fmt: skip
    if resume:
        state = torch.load(folder / trained.LAST, map_location=device, weights_only=True)
        saved_cfg = dict(state["config"])
        for key in ("epochs", "patience", "device", "num_threads"):
            saved_cfg.pop(key, None)
        now_cfg = {k: v for k, v in asdict(config).items()
                   if k not in ("epochs", "patience", "device", "num_threads")}  # fmt: skip
        if _jsonable(saved_cfg) != _jsonable(now_cfg) or state["split"] != split:
            raise TrainingError(
                "--resume: the configuration or the data differ from the interrupted run "
                "(use the same --arch/--task/--labels/--seed/... options)"
            )
        module.load_state_dict(state["module_state"])
        optimizer.load_state_dict(state["optimizer_state"])
        best_state = state["best_net_state"]
        best = json.loads(state["best"])
        history = json.loads(state["history"])
        bad_epochs = int(state["bad_epochs"])
        start_epoch = int(state["epoch"]) + 1
        elapsed_before = float(state["elapsed_s"])
        rng.bit_generator.state = json.loads(state["numpy_rng"])
        torch.set_rng_state(state["torch_rng"].cpu())
        if bad_epochs >= config.patience:
            start_epoch = config.epochs + 1  # had stopped early: nothing left to do
    folder.mkdir(parents=True, exist_ok=True)

    stopped_early = False
    for epoch in range(start_epoch, config.epochs + 1):
        t0 = time.perf_counter()
        train_loss = _train_epoch(config, module, net, moco, optimizer, source, targets,
                                  train_idx, rng, device, progress, epoch, policy)  # fmt: skip
        metrics = {"epoch": epoch, "train_loss": train_loss}
        if len(valid_idx):
            metrics.update(_validate(config, net, source, targets, valid_idx, device, progress,
                                     moco, policy))  # fmt: skip
        monitor = metrics.get("valid_loss", train_loss)
        improved = monitor < best["valid_loss"] - 1e-6
        if improved:
            best = {"epoch": epoch, "valid_loss": monitor,
                    "metrics": {k: v for k, v in metrics.items() if k != "epoch"}}  # fmt: skip
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in net.state_dict().items()})
            bad_epochs = 0
        else:
            bad_epochs += 1
        metrics["epoch_s"] = time.perf_counter() - t0
        metrics["best"] = improved
        history.append(_jsonable(metrics))
        with open(folder / trained.METRICS, "a") as fh:
            fh.write(json.dumps(_jsonable(metrics)) + "\n")
        torch.save({
            "config": _jsonable(asdict(config)), "split": split, "epoch": epoch,
            "module_state": module.state_dict(), "optimizer_state": optimizer.state_dict(),
            "best_net_state": best_state, "best": json.dumps(_jsonable(best)),
            "history": json.dumps(history), "bad_epochs": bad_epochs,
            "elapsed_s": elapsed_before + time.perf_counter() - started,
            "numpy_rng": json.dumps(rng.bit_generator.state),
            "torch_rng": torch.get_rng_state(),
        }, folder / (trained.LAST + ".tmp"))  # fmt: skip
        os.replace(folder / (trained.LAST + ".tmp"), folder / trained.LAST)
        if progress is not None and hasattr(progress, "epoch_done"):
            progress.epoch_done(history[-1])
        if bad_epochs >= config.patience:
            stopped_early = True
            break

    train_s = elapsed_before + time.perf_counter() - started
    kind = "features" if config.arch in FEATURE_ARCHS else "waveform"
    encoder_cfg = net.encoder.config
    checkpoint = {
        "format": trained.FORMAT, "format_version": trained.FORMAT_VERSION, "name": name,
        "arch": config.arch, "task": config.task, "kind": kind,
        "encoder_config": _jsonable(encoder_cfg), "head": n_out > 0,
        "labels": labels, "multilabel": config.multilabel,
        "sample_rate": int(sample_rate),
        "chunk_samples": int(chunk_samples) if chunk_samples else 47872,
        "patch_duration_s": 2.992 if kind == "features" else chunk_samples / sample_rate,
        "feature_model": FEATURE_MODEL if kind == "features" else None,
        "feature_layer": FEATURE_LAYERS.get(config.arch),
        "embedding_dim": int(net.encoder.embedding_dim),
        "train_config": _jsonable(asdict(config)),
        "data": {"source": data.source, "label_column": data.label_column,
                 "group_source": data.group_source, "skipped": data.skipped,
                 "n_files": len(data)},
        "split": split, "epochs_run": len(history), "best_epoch": best["epoch"],
        "stopped_early": stopped_early, "valid_metrics": _jsonable(best["metrics"]),
        "history": history, "device": config.device, "hardware": hardware_string(config.device),
        "train_s": round(train_s, 2), "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "torch_version": str(torch.__version__),
        "net_state": {k: v.detach().cpu() for k, v in best_state.items()},
    }  # fmt: skip
    meta = trained.save_checkpoint(folder, checkpoint)
    if register:
        trained.refresh(models_dir)
    return TrainResult(name, folder, meta)


def _batches(train_idx: np.ndarray, per_track: int, batch_size: int,
             rng: np.random.Generator) -> list[np.ndarray]:  # fmt: skip
    order = rng.permutation(np.repeat(train_idx, per_track))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def _supervised_loss(config: TrainConfig, logits: Tensor, y: Tensor) -> Tensor:
    from songscape.training.objectives import classification_loss, multilabel_loss

    return multilabel_loss(logits, y) if config.multilabel else classification_loss(logits, y)


def _moco_batch(source: _WaveSource, idx: np.ndarray, rng: np.random.Generator, policy: Any):
    from songscape.audio.augment import make_views

    anchors, positives, negatives = [], [], []
    for i in idx:
        views = make_views(source.audio(int(i)), source.sr, source.n, rng, policy=policy)
        anchors.append(views.anchor)
        positives.append(views.positive)
        if views.negatives is not None and len(views.negatives):
            negatives.append(np.asarray(views.negatives, dtype=np.float32))
    x_q = torch.from_numpy(np.stack(anchors).astype(np.float32))
    x_k = torch.from_numpy(np.stack(positives).astype(np.float32))
    neg = None
    if negatives and len(negatives) == len(idx):
        neg = torch.from_numpy(np.stack(negatives))
    return x_q, x_k, neg


def _train_epoch(config, module, net, moco, optimizer, source, targets, train_idx, rng, device,
                 progress, epoch, policy) -> float:  # fmt: skip
    module.train()
    batches = _batches(train_idx, config.chunks_per_track, config.batch_size, rng)
    if progress is not None:
        progress.phase(f"epoch {epoch}/{config.epochs}", len(batches))
    total, count = 0.0, 0
    for idx in batches:
        if config.task == "moco":
            x_q, x_k, neg = _moco_batch(source, idx, rng, policy)
            out = moco(x_q.to(device), x_k.to(device),
                       None if neg is None else neg.to(device))  # fmt: skip
            loss = out["loss"]
        else:
            x = torch.from_numpy(np.stack([source.random(int(i), rng) for i in idx]))
            out = net(x.to(device))
            if config.task == "tjae":
                loss = out["loss"]
            else:
                y = torch.from_numpy(targets[idx]).to(device)
                loss = _supervised_loss(config, out["logits"], y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        count += len(idx)
        if progress is not None:
            progress.advance(1)
    return total / max(count, 1)


@torch.no_grad()
def _validate(config, net, source, targets, valid_idx, device, progress, moco, policy):
    from songscape.evaluation.metrics import multilabel_auc

    net.eval()
    if progress is not None:
        progress.phase("validate", len(valid_idx))
    losses, probs = [], []
    vrng = np.random.default_rng(10_000 + config.seed)  # same views every epoch
    for i in valid_idx:
        i = int(i)
        if config.task == "moco":
            moco.eval()
            x_q, x_k, neg = _moco_batch(source, np.array([i]), vrng, policy)
            out = moco(x_q.to(device), x_k.to(device), None if neg is None else neg.to(device))
            losses.append(float(out["loss"]))
            moco.train()
        else:
            x = torch.from_numpy(np.ascontiguousarray(source.fixed(i, config.valid_chunks)))
            out = net(x.to(device))
            if config.task == "tjae":
                losses.append(float(out["loss"]))
            else:
                logits = out["logits"].float()
                t = torch.from_numpy(targets[[i] * len(x)]).to(device)
                losses.append(float(_supervised_loss(config, logits, t)))
                p = torch.sigmoid(logits) if config.multilabel else torch.softmax(logits, -1)
                probs.append(p.mean(0).cpu().numpy())
        if progress is not None:
            progress.advance(1)
    net.train()
    metrics: dict[str, Any] = {"valid_loss": float(np.mean(losses))}
    if probs:
        p = np.stack(probs)
        truth = targets[valid_idx]
        if config.multilabel:
            try:
                auc = multilabel_auc(truth, p)
                metrics.update(valid_roc_auc=auc["roc_auc"], valid_pr_auc=auc["pr_auc"])
            except ValueError:
                metrics.update(valid_roc_auc=None, valid_pr_auc=None)
        else:
            metrics["valid_accuracy"] = float(np.mean(p.argmax(1) == truth))
            metrics["n_valid"] = len(valid_idx)
    return metrics


def task_label_set_kind(task: str) -> str:
    """``"single"``, ``"multi"`` or ``"none"``: what labels a task reads."""
    if task in SINGLE_LABEL_TASKS:
        return "single"
    return "multi" if task in MULTI_LABEL_TASKS else "none"


__all__ = [
    "ALL_ARCHS",
    "DatasetError",
    "TrainConfig",
    "TrainResult",
    "TrainedNet",
    "TrainingError",
    "build_net",
    "file_key",
    "hardware_string",
    "musicnn_patch_features",
    "net_from_checkpoint",
    "task_label_set_kind",
    "train",
]
