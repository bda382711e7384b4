"""``songscape train --engine ray --workers N``: the trainer, data-parallel on Ray Train.

The driver (the ``songscape train`` process) does what it does for a local run: checks the
configuration, prepares the model folder, draws and records the split, and decodes the
files into the cache once (so that workers on the same machine only read it). It then
starts ``N`` Ray Train workers (:class:`ray.train.torch.TorchTrainer`,
``ScalingConfig(num_workers=N, use_gpu=device == "cuda")``; the ``gloo`` process group on
CPU, ``nccl`` on GPUs) on the Ray cluster at ``--ray-address`` (or a local one started
for the run). Every worker:

* builds the same network from the same seed (DDP also broadcasts rank 0's weights) and
  wraps it for DDP (:func:`ray.train.torch.prepare_model`); same AdamW optimizer;
* draws the same batches as the single-process trainer (the same seeded generator) and
  computes the loss of its share of each batch (items ``rank::N``,
  :func:`songscape.training.loop.shard_positions`, weighted so the averaged gradient is
  the whole batch's), so an optimiser step sees the same ``--batch-size`` inputs as a
  local step (a last batch with fewer than two inputs per worker is skipped, its
  chunks still drawn). What differs from a local run: batch-norm statistics are per worker (each
  normalises its share; ``SyncBatchNorm`` does not run on CPU), dropout masks differ,
  and floating-point sums are ordered differently;
* with ``--resume``, reads ``last.pt`` itself (same weights, optimizer and generator).

Rank 0 alone validates (the unwrapped network, the local :func:`validate`), keeps the
best weights, writes ``last.pt`` and ``metrics.jsonl`` after every epoch and the final
``model.pt``/``model.json`` with the functions of the local trainer, so the model has the
same format and registers the same way; it tells the other workers when to stop early.
The driver then reads the metadata back and refreshes the registry.

The model folder must be one the workers can write: on one machine (the tests, a GPU
box) it is the same folder; on a multi-node cluster put the models directory
(``SONGSCAPE_MODELS``) and the cache on storage every node mounts (the same requirement
Ray Train has for its own ``storage_path``).

``moco`` is refused (:class:`~songscape.errors.UsageError`): its negatives queue and
momentum encoder are per process, so N workers would train N different contrastive
problems; data-parallel MoCo needs a queue gathered across workers, which the local
trainer does not have.

``ray`` (the ``scale`` extra) is imported only when this engine runs.
"""

from __future__ import annotations

import copy
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songscape.datasets import LabelSet
from songscape.errors import TrainingError, UsageError
from songscape.models import trained
from songscape.training.checkpoints import RunState, model_checkpoint, resume_state, save_last
from songscape.training.config import TrainConfig, augmentation_policy, build_net
from songscape.training.loop import shard_positions, train_epoch, validate
from songscape.training.ray_runtime import connect_ray, disconnect_ray
from songscape.training.sources import open_source

__all__ = ["check_ray_training", "shard_count", "train_on_ray"]

log = logging.getLogger(__name__)


def check_ray_training(config: TrainConfig, workers: int) -> None:
    """Refuse what cannot run data-parallel (before anything is written).

    Raises
    ------
    UsageError
        ``moco`` (per-process queue and momentum encoder), fewer than one worker, or a
        batch of fewer than two inputs per worker.
    """
    if config.task == "moco":
        raise UsageError(
            "--engine ray cannot train moco: its negatives queue and momentum encoder are "
            "per process, so workers would not train one model (use --engine local)"
        )
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    if config.batch_size < 2 * workers:
        raise UsageError(f"--batch-size {config.batch_size} is smaller than twice --workers "
                         f"{workers}: each worker needs two inputs of every batch "
                         "(batch normalisation)")  # fmt: skip


def shard_count(n_items: int, batch_size: int, rank: int, world_size: int) -> int:
    """How many inputs of an epoch of ``n_items`` (in batches of ``batch_size``) worker
    ``rank`` computes a weighted loss for (its count in the mean training loss)."""
    if world_size == 1:  # one worker computes every batch, as the local trainer does
        return n_items
    sizes = [batch_size] * (n_items // batch_size) + ([n_items % batch_size]
                                                      if n_items % batch_size else [])  # fmt: skip
    return sum(len(shard_positions(n, rank, world_size)[0]) for n in sizes)


def _epoch_line(m: dict[str, Any]) -> str:
    parts = [f"epoch {m['epoch']}", f"train loss {m['train_loss']:.4f}"]
    parts += [f"{k.replace('_', ' ')} {m[k]:.4f}" for k in ("valid_loss", "valid_accuracy")
              if m.get(k) is not None]  # fmt: skip
    return "  ".join(parts) + f"  {m['epoch_s']:.1f} s" + (" *" if m.get("best") else "")


def _write_metrics(folder: Path, state: RunState) -> None:
    text = "".join(json.dumps(h) + "\n" for h in state.history)
    trained.write_atomic(folder / trained.METRICS, text.encode())


def _worker(job: dict[str, Any]) -> None:
    """One Ray Train worker: the trainer's epoch loop on its share (module docstring)."""
    import ray.train
    import torch.distributed as dist
    from ray.train.torch import get_device, prepare_model

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    config: TrainConfig = job["config"]
    data: LabelSet = job["data"]
    folder = Path(job["folder"])
    train_idx, valid_idx = np.asarray(job["train_idx"]), np.asarray(job["valid_idx"])
    labels, split = job["labels"], job["split"]
    if config.num_threads:
        torch.set_num_threads(int(config.num_threads))
    device = get_device() if config.device == "cuda" else torch.device("cpu")
    started = time.perf_counter()

    torch.manual_seed(config.seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(config.seed)
    net = build_net(config, len(labels)).to(device)
    policy = augmentation_policy(config.augment)
    source = open_source(config, data, net.encoder, job["cache_root"], policy)
    targets = None
    if config.supervised:
        targets = data.multi_hot() if config.multilabel else data.class_index()
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    rng = np.random.default_rng(config.seed)
    if job["resume"]:  # rank 0 rewrites metrics.jsonl to match last.pt, as a local run
        state = resume_state(folder, config, split, net, optimizer, rng, device,
                             write_log=rank == 0)  # fmt: skip
    else:
        state = RunState(best_state=copy.deepcopy(net.state_dict()))
    if rank > 0:  # other dropout masks than rank 0's (which follows the local run)
        torch.manual_seed(config.seed + 7919 * rank)
    ddp = prepare_model(net, move_to_device=device,
                        parallel_strategy_kwargs={"find_unused_parameters": True})  # fmt: skip

    start_epoch = state.epoch + 1 if state.bad_epochs < config.patience else config.epochs + 1
    n_inputs = len(train_idx) * config.chunks_per_track
    my_count = shard_count(n_inputs, config.batch_size, rank, world)
    stopped_early = False
    for epoch in range(start_epoch, config.epochs + 1):
        t0 = time.perf_counter()
        loss = train_epoch(config, ddp, None, optimizer, source, targets, train_idx, rng,
                           device, epoch, policy, None, shard=(rank, world))  # fmt: skip
        # (on the workers' device: nccl exchanges CUDA tensors only)
        sums = torch.tensor([loss * my_count, float(my_count)], dtype=torch.float64,
                            device=device)  # fmt: skip
        dist.all_reduce(sums)  # the mean over every input of the epoch, as a local run
        stop = torch.zeros(1, dtype=torch.int64, device=device)
        if rank == 0:
            metrics: dict[str, Any] = {"epoch": epoch,
                                       "train_loss": float(sums[0]) / max(float(sums[1]), 1.0)}
            if len(valid_idx):
                metrics.update(validate(config, net, None, source, targets, valid_idx,
                                        device, policy))  # fmt: skip
            state.record(metrics, net, time.perf_counter() - t0)
            save_last(folder / trained.LAST, config, split, state, net, optimizer, rng,
                      state.elapsed_s + time.perf_counter() - started)  # fmt: skip
            _write_metrics(folder, state)
            if job["echo"]:  # Ray forwards a worker's output to the driver's terminal
                print(_epoch_line(state.history[-1]), file=sys.stderr, flush=True)
            stop[0] = int(state.bad_epochs >= config.patience)
        dist.broadcast(stop, 0)
        if int(stop[0]):
            stopped_early = True
            break
    if rank == 0:
        train_s = state.elapsed_s + time.perf_counter() - started
        checkpoint = model_checkpoint(job["name"], config, net, labels, data, split, state,
                                      source, train_s, stopped_early)  # fmt: skip
        trained.save_checkpoint(folder, checkpoint)
    dist.barrier()


def train_on_ray(
    config: TrainConfig,
    data: LabelSet,
    name: str,
    folder: Path,
    split: dict[str, list[str]],
    train_idx: np.ndarray,
    valid_idx: np.ndarray,
    labels: list[str],
    cache_root: Path,
    resume: bool,
    workers: int,
    ray_address: str | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Run the prepared job on ``workers`` Ray Train workers; the saved ``model.json``.

    Parameters
    ----------
    config, data, name : as :func:`songscape.training.trainer.train`
    folder : Path
        The model's folder (prepared by the trainer; workers write into it).
    split, train_idx, valid_idx, labels
        The recorded split, its item indices and the class names.
    cache_root : Path
        Audio/feature cache (filled here, read by the workers).
    resume : bool
        Workers continue from ``folder/last.pt``.
    workers : int
        Ray Train workers (``ScalingConfig.num_workers``).
    ray_address : str or None
        A running cluster (``host:port``); None starts a local Ray for the run.
    progress : object or None
        The decoding phase's progress callbacks.

    Raises
    ------
    TrainingError
        A worker failed (its error is in the message).
    """
    check_ray_training(config, workers)
    from ray.train import RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    # decode (and embed, for the feature archs) once, here, before the workers start
    probe = build_net(config, len(labels))
    open_source(config, data, probe.encoder, cache_root, augmentation_policy(config.augment),
                progress)  # fmt: skip
    del probe
    echo = progress is not None and not getattr(progress, "quiet", False)
    # no address: a private local instance (never another user's cluster on this machine,
    # no token file left behind); the workers' output (epoch lines, Ray's warnings) only
    # when not --json / -q
    session = connect_ray(ray_address, "train --engine ray", log_to_driver=echo,
                          include_dashboard=False if ray_address is None else None)  # fmt: skip
    cuda = config.device == "cuda"
    job = {"config": config, "data": data, "name": name, "folder": str(folder),
           "split": split, "train_idx": np.asarray(train_idx).tolist(),
           "valid_idx": np.asarray(valid_idx).tolist(), "labels": labels,
           "cache_root": str(cache_root), "resume": resume,
           "echo": echo}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(prefix="songscape-ray-train-") as storage:
            trainer = TorchTrainer(
                _worker,
                train_loop_config=job,
                scaling_config=ScalingConfig(num_workers=workers, use_gpu=cuda),
                torch_config=TorchConfig(backend="nccl" if cuda else "gloo"),
                run_config=RunConfig(name=f"songscape-train-{name}", storage_path=storage),
            )
            try:
                trainer.fit()
            except Exception as err:  # Ray wraps the worker's exception
                raise TrainingError(f"Ray training failed: {err}") from err
    finally:
        disconnect_ray(session)
    if not (folder / trained.METADATA).is_file():
        raise TrainingError(f"Ray training finished without writing {folder / 'model.pt'} "
                            "(is the models directory shared with the workers?)")  # fmt: skip
    return trained.read_metadata(folder)
