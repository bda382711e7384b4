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

The parts live in their own modules: :mod:`~songscape.training.config` (what a run is,
the network it builds), :mod:`~songscape.training.sources` (steps 1 and 3's inputs),
:mod:`~songscape.training.loop` (one epoch, one validation pass),
:mod:`~songscape.training.checkpoints` (``last.pt`` and ``model.pt``); this module runs
them in order.

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
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from songscape.config import default_cache_dir
from songscape.datasets import LabelSet, train_valid_split
from songscape.errors import TrainingError
from songscape.models import trained
from songscape.training.checkpoints import (
    RunState,
    hardware_string,
    jsonable,
    model_checkpoint,
    resume_state,
    save_last,
    write_metrics,
)
from songscape.training.config import TrainConfig, augmentation_policy, build_net
from songscape.training.loop import train_epoch, validate
from songscape.training.objectives import MoCo
from songscape.training.run_lock import training_lock
from songscape.training.sources import open_source

# TrainConfig, TrainingError and hardware_string are imported from here by the CLI,
# bench/train.py and the tests: the trainer is the one module they need to know.
__all__ = ["TrainConfig", "TrainResult", "TrainingError", "hardware_string", "train"]

log = logging.getLogger(__name__)


@dataclass
class TrainResult:
    """A finished run: the model's name, its folder and its ``model.json`` metadata."""

    name: str
    folder: Path
    metadata: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The summary ``songscape train --json`` prints."""
        m = self.metadata
        return jsonable({
            "name": self.name, "arch": m["arch"], "task": m["task"],
            "epochs_run": m["epochs_run"], "best_epoch": m["best_epoch"],
            "stopped_early": m["stopped_early"], "train_s": m["train_s"],
            "valid_metrics": m["valid_metrics"], "n_train": len(m["split"]["train"]),
            "n_valid": len(m["split"]["valid"]), "labels": m["labels"],
            "embedding_dim": m["embedding_dim"], "checkpoint": str(self.folder / "model.pt"),
            "metrics_log": str(self.folder / "metrics.jsonl"), "device": m["device"],
            "hardware": m["hardware"], "version": f"trained-{m['checkpoint_sha1'][:12]}",
        })  # fmt: skip


def _remove_leftovers(root: Path, name: str) -> None:
    """Remove what killed runs of ``name`` left: temporary files in its folder and folders
    set aside by an ``--overwrite`` (``.<name>.replaced-<pid>``)."""
    for old in root.glob(f".{name}.replaced-*"):
        shutil.rmtree(old, ignore_errors=True)
    folder = root / name
    if folder.is_dir():
        for path in folder.iterdir():
            if trained.is_temp_name(path.name) or path.name == trained.LAST + ".tmp":
                path.unlink(missing_ok=True)


def _prepare_folder(root: Path, name: str, resume: bool, overwrite: bool) -> tuple[Path, bool]:
    """The model's folder, emptied for a new run, and whether ``last.pt`` is resumed.

    ``--resume`` with no ``last.pt`` (a run killed in its first epoch, or never started)
    starts from the beginning, unless the folder holds a finished model, which it would
    replace. ``--overwrite`` first renames the old folder aside (one atomic step: a kill
    never leaves half of the old model registered), then deletes it.
    """
    _remove_leftovers(root, name)
    folder = root / name
    if resume:
        if (folder / trained.LAST).is_file():
            return folder, True
        if (folder / trained.METADATA).is_file():
            raise TrainingError(f"--resume: no {trained.LAST} in {folder} (the finished "
                                "model there cannot be continued: use --overwrite)")  # fmt: skip
        log.info("--resume: nothing to resume in %s: training from the first epoch", folder)
    if folder.exists() and any(folder.iterdir()):
        if not (overwrite or resume):
            raise TrainingError(
                f"model {name!r} already exists in {root}: use --overwrite to replace it "
                "or --resume to continue training it"
            )
        aside = root / f".{name}.replaced-{os.getpid()}"
        os.replace(folder, aside)
        trained.fsync_folder(root)
        shutil.rmtree(aside)
    return folder, False


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
    engine: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
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
        ``phase(name, total)`` / ``advance(n)`` callbacks (the CLI's progress bar), and
        optionally ``epoch_done(metrics)``.
    register : bool
        Re-scan the registry afterwards so the model can be loaded at once.
    engine : str
        ``local`` (this process) or ``ray``: data-parallel on ``workers`` Ray Train
        workers (:mod:`songscape.training.ray_train`; same checkpoint and registry).
    workers, ray_address : int, str or None
        For ``engine="ray"``: the number of workers and the cluster (None: a local Ray).

    Raises
    ------
    TrainingError, DatasetError
    """
    config.validate()
    try:
        trained.check_name(name)
    except ValueError as err:
        raise TrainingError(str(err)) from err
    if engine not in ("local", "ray"):
        raise TrainingError(f"unknown engine {engine!r} (local or ray)")
    if engine == "ray":  # refuse what cannot run data-parallel before touching the folder
        from songscape.training.ray_train import check_ray_training

        check_ray_training(config, workers)
    root = trained.models_dir(models_dir)
    with training_lock(root, name):  # one run per name: TrainingBusyError for a second
        return _run(config, data, name, root, models_dir, cache_dir, resume, overwrite,
                    progress, register, engine, workers, ray_address)  # fmt: skip


def _run(
    config: TrainConfig, data: LabelSet, name: str, root: Path,
    models_dir: str | os.PathLike[str] | None, cache_dir: str | os.PathLike[str] | None,
    resume: bool, overwrite: bool, progress: Any, register: bool, engine: str, workers: int,
    ray_address: str | None,
) -> TrainResult:  # fmt: skip
    """:func:`train` once it holds the lock of ``name`` in ``root`` (the models dir)."""
    folder, resume = _prepare_folder(root, name, resume, overwrite)
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
    split = {"train": [str(data.paths[i]) for i in train_idx],
             "valid": [str(data.paths[i]) for i in valid_idx]}  # fmt: skip

    # network and data
    labels = list(data.classes) if config.supervised else []
    if engine == "ray":
        from songscape.training.ray_train import train_on_ray

        meta = train_on_ray(config, data, name, folder, split, train_idx, valid_idx, labels,
                            Path(cache_dir).expanduser() if cache_dir else default_cache_dir(),
                            resume, workers, ray_address, progress)  # fmt: skip
        if register:
            trained.refresh(models_dir)
        return TrainResult(name, folder, meta)
    torch.manual_seed(config.seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(config.seed)
    net = build_net(config, len(labels)).to(device)
    cache_root = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    policy = augmentation_policy(config.augment)
    source = open_source(config, data, net.encoder, cache_root, policy, progress)
    if config.supervised:
        targets = data.multi_hot() if config.multilabel else data.class_index()
    else:
        targets = None

    moco = None
    module: nn.Module = net
    if config.task == "moco":
        moco = MoCo(net.encoder, queue_size=config.moco_queue, momentum=config.moco_momentum,
                    temperature=config.moco_temperature).to(device)  # fmt: skip
        module = moco
    params = [p for p in module.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)

    if resume:  # the log may lack last.pt's epoch (a kill between them): rewritten
        state = resume_state(folder, config, split, module, optimizer, rng, device)
    else:
        state = RunState(best_state=copy.deepcopy(net.state_dict()))
    # a resumed run that had stopped early has nothing left to do
    start_epoch = state.epoch + 1 if state.bad_epochs < config.patience else config.epochs + 1
    folder.mkdir(parents=True, exist_ok=True)

    stopped_early = False
    for epoch in range(start_epoch, config.epochs + 1):
        t0 = time.perf_counter()
        train_loss = train_epoch(config, net, moco, optimizer, source, targets, train_idx, rng,
                                 device, epoch, policy, progress)  # fmt: skip
        metrics: dict[str, Any] = {"epoch": epoch, "train_loss": train_loss}
        if len(valid_idx):
            metrics.update(validate(config, net, moco, source, targets, valid_idx, device,
                                    policy, progress))  # fmt: skip
        state.record(metrics, net, time.perf_counter() - t0)
        save_last(folder / trained.LAST, config, split, state, module, optimizer, rng,
                  state.elapsed_s + time.perf_counter() - started)  # fmt: skip
        write_metrics(folder, state)  # after last.pt: the log never gets ahead of it
        if progress is not None and hasattr(progress, "epoch_done"):
            progress.epoch_done(state.history[-1])
        if state.bad_epochs >= config.patience:
            stopped_early = True
            break

    train_s = state.elapsed_s + time.perf_counter() - started
    checkpoint = model_checkpoint(name, config, net, labels, data, split, state, source,
                                  train_s, stopped_early)  # fmt: skip
    meta = trained.save_checkpoint(folder, checkpoint)
    if register:
        trained.refresh(models_dir)
    return TrainResult(name, folder, meta)
