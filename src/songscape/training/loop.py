"""One epoch of training (:func:`train_epoch`) and one validation pass (:func:`validate`).

Training: each training file gives ``chunks_per_track`` random inputs, shuffled into
batches; the loss is cross-entropy (one label), binary cross-entropy (tags), the MoCo
contrastive loss on two augmented views, or the TJAE reconstruction loss.

Validation: fixed, evenly spaced chunks per file (the same every epoch); the chunk
predictions are averaged per file, giving the loss and accuracy (one label) or macro
ROC-AUC / PR-AUC (tags).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from songscape.audio.augment import AugmentationPolicy, make_views
from songscape.evaluation.probes import multilabel_auc
from songscape.training.config import TrainConfig
from songscape.training.objectives import MoCo, classification_loss, multilabel_loss
from songscape.training.sources import ChunkSource, WaveSource

__all__ = ["shard_positions", "train_epoch", "validate"]

log = logging.getLogger(__name__)


def _batches(
    train_idx: np.ndarray, per_track: int, batch_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    order = rng.permutation(np.repeat(train_idx, per_track))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def shard_positions(n: int, rank: int, world_size: int) -> tuple[np.ndarray, float]:
    """The positions of a batch of ``n`` inputs one data-parallel worker computes, and the
    weight of its mean loss.

    Worker ``rank`` of ``world_size`` takes positions ``rank, rank + world_size, ...``. Its
    mean loss is weighted by ``world_size * share / n``, so that the gradient DDP averages
    over the workers is the gradient of the mean loss over the whole batch (the
    single-process one), also when the shares differ. A batch with fewer than two inputs
    per worker (a short last batch) gives every worker nothing (the step is skipped by
    all of them alike): batch normalisation needs two inputs per worker.
    """
    if n < 2 * world_size:
        return np.arange(0), 0.0
    positions = np.arange(rank, n, world_size)
    return positions, world_size * len(positions) / n


def _supervised_loss(config: TrainConfig, logits: Tensor, y: Tensor) -> Tensor:
    return multilabel_loss(logits, y) if config.multilabel else classification_loss(logits, y)


def _moco_batch(
    source: WaveSource,
    idx: np.ndarray,
    rng: np.random.Generator,
    policy: AugmentationPolicy | None,
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Anchor views, positive views and (when every item has them) negative views."""
    anchors, positives, negatives = [], [], []
    for i in idx:
        views = make_views(source.audio(int(i)), source.sample_rate, source.chunk_samples, rng,
                           policy=policy)  # fmt: skip
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


def train_epoch(
    config: TrainConfig,
    net: nn.Module,
    moco: MoCo | None,
    optimizer: torch.optim.Optimizer,
    source: ChunkSource,
    targets: np.ndarray | None,
    train_idx: np.ndarray,
    rng: np.random.Generator,
    device: torch.device,
    epoch: int,
    policy: AugmentationPolicy | None = None,
    progress: Any = None,
    shard: tuple[int, int] = (0, 1),
) -> float:
    """Run one epoch of optimiser steps; returns the mean training loss per input.

    Parameters
    ----------
    config : TrainConfig
    net : torch.nn.Module
        The :class:`~songscape.models.heads.TrainedNet` being trained.
    moco : MoCo or None
        The contrastive wrapper around ``net.encoder`` (task ``moco`` only).
    optimizer : torch.optim.Optimizer
    source : ChunkSource
        Gives the inputs (a :class:`WaveSource` for ``moco``).
    targets : np.ndarray or None
        Per item: class index (one label) or multi-hot row (tags); None when unlabelled.
    train_idx : np.ndarray
        Items to train on.
    rng : np.random.Generator
        Draws the batches, chunks and augmentations.
    device : torch.device
    epoch : int
        1-based, for the progress line.
    policy : AugmentationPolicy or None
        Makes MoCo's views.
    progress : object or None
        ``phase(name, total)`` / ``advance(n)`` callbacks.
    shard : (int, int)
        ``(rank, world_size)`` of a data-parallel worker (``net`` wrapped for DDP; not
        with ``moco``): every worker draws the same batches and the chunks of the whole
        batch, so its random stream stays the single-process one, and computes the loss of
        its :func:`shard_positions` only. The returned mean is over those inputs.
    """
    rank, world_size = shard
    if moco is not None and world_size > 1:
        raise ValueError("train_epoch: MoCo cannot be sharded (its queue is per process)")
    module = moco if moco is not None else net
    module.train()
    batches = _batches(train_idx, config.chunks_per_track, config.batch_size, rng)
    if progress is not None:
        progress.phase(f"epoch {epoch}/{config.epochs}", len(batches))
    total, count = 0.0, 0
    for idx in batches:
        if moco is not None:
            x_q, x_k, neg = _moco_batch(source, idx, rng, policy)
            out = moco(x_q.to(device), x_k.to(device),
                       None if neg is None else neg.to(device))  # fmt: skip
            loss = out["loss"]
        else:
            chunks = [source.random(int(i), rng) for i in idx]
            weight = 1.0
            if world_size > 1:
                keep, weight = shard_positions(len(idx), rank, world_size)
                if len(keep) == 0:  # too short to share: skipped by every worker
                    if progress is not None:
                        progress.advance(1)
                    continue
                chunks, idx = [chunks[j] for j in keep], idx[keep]
            x = torch.from_numpy(np.stack(chunks))
            out = net(x.to(device))
            if config.task == "tjae":
                loss = out["loss"]
            else:
                y = torch.from_numpy(targets[idx]).to(device)
                loss = _supervised_loss(config, out["logits"], y)
        optimizer.zero_grad(set_to_none=True)
        (loss if world_size == 1 else loss * weight).backward()
        optimizer.step()
        total += float(loss.detach()) * len(idx)
        count += len(idx)
        if progress is not None:
            progress.advance(1)
    return total / max(count, 1)


@torch.no_grad()
def validate(
    config: TrainConfig,
    net: nn.Module,
    moco: MoCo | None,
    source: ChunkSource,
    targets: np.ndarray | None,
    valid_idx: np.ndarray,
    device: torch.device,
    policy: AugmentationPolicy | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Validation metrics of the held-out items (parameters as :func:`train_epoch`).

    Returns
    -------
    dict
        ``valid_loss``; with one label also ``valid_accuracy`` and ``n_valid``; with tags
        ``valid_roc_auc`` and ``valid_pr_auc`` (None, with a logged warning, when they
        are undefined on this validation set).
    """
    net.eval()
    if progress is not None:
        progress.phase("validate", len(valid_idx))
    losses, probs = [], []
    vrng = np.random.default_rng(10_000 + config.seed)  # same views every epoch
    for i in valid_idx:
        i = int(i)
        if moco is not None:
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
            except ValueError as err:
                # Too few validation files, no tag both present and absent, or NaN scores
                # from a diverged net: the epoch is still recorded, without AUCs.
                log.warning("validation ROC-AUC / PR-AUC undefined: %s", err)
                metrics.update(valid_roc_auc=None, valid_pr_auc=None)
        else:
            metrics["valid_accuracy"] = float(np.mean(p.argmax(1) == truth))
            metrics["n_valid"] = len(valid_idx)
    return metrics
