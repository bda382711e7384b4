"""What a training run writes: ``last.pt`` after every epoch, the model's ``model.pt`` at the end.

``last.pt`` (:func:`save_last` / :func:`load_last`) holds everything ``--resume`` needs:
the live weights and optimiser state, the best epoch's weights, the metric history,
the epochs without improvement, the seconds spent and both RNG states. It is written to
a temporary name, synced and renamed, so an interrupted run always leaves a whole one.

:func:`model_checkpoint` assembles the dict that
:func:`songscape.models.trained.save_checkpoint` writes as ``model.pt`` (and, minus the
weights, ``model.json``).
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from songscape.datasets import LabelSet
from songscape.errors import TrainingError
from songscape.models import trained
from songscape.models.heads import FEATURE_LAYERS, FEATURE_MODEL
from songscape.training.config import TrainConfig
from songscape.training.sources import FeatureSource, WaveSource

__all__ = [
    "RunState",
    "hardware_string",
    "jsonable",
    "load_last",
    "model_checkpoint",
    "resume_state",
    "save_last",
    "write_metrics",
]

#: Settings that may change between an interrupted run and its ``--resume``.
RESUMABLE_CHANGES = ("epochs", "patience", "device", "num_threads")


def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars made Python ones, tuples lists and non-finite floats None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, np.generic):
        return jsonable(value.item())
    return value


def hardware_string(device: str = "cpu") -> str:
    """``"<CPU model>, N torch threads, M CPUs"`` or the CUDA device name."""
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
        pass  # not Linux: platform's (vaguer) name is the best there is
    return f"{model}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs"


def _cpu_copy(state: dict[str, Tensor]) -> dict[str, Tensor]:
    return copy.deepcopy({k: v.detach().cpu() for k, v in state.items()})


@dataclass
class RunState:
    """How far a run has got: what ``last.pt`` holds besides the live weights.

    Attributes
    ----------
    best_state : dict of str to Tensor
        Weights of the best epoch so far (the initial weights before any epoch).
    best : dict
        ``{"epoch", "valid_loss", "metrics"}`` of the best epoch (epoch 0: none yet).
    history : list of dict
        Each finished epoch's metrics (JSON-able).
    bad_epochs : int
        Epochs since the last improvement.
    epoch : int
        The last finished epoch (0: none).
    elapsed_s : float
        Seconds of training before this process took over (a resumed run's earlier part).
    """

    best_state: dict[str, Tensor]
    best: dict[str, Any] = field(
        default_factory=lambda: {"epoch": 0, "valid_loss": math.inf, "metrics": {}}
    )
    history: list[dict[str, Any]] = field(default_factory=list)
    bad_epochs: int = 0
    epoch: int = 0
    elapsed_s: float = 0.0

    def record(self, metrics: dict[str, Any], net: nn.Module, epoch_s: float) -> bool:
        """Add a finished epoch, keeping ``net``'s weights if it is the best so far.

        Parameters
        ----------
        metrics : dict
            The epoch's ``epoch``, ``train_loss`` and validation figures; ``epoch_s`` and
            ``best`` are added to it.
        net : torch.nn.Module
            The network, whose weights are copied when the epoch is the best.
        epoch_s : float
            Seconds the epoch took.

        Returns
        -------
        bool
            Whether the monitored loss improved: ``valid_loss``, else (no validation
            part) ``train_loss``.
        """
        monitor = metrics.get("valid_loss", metrics["train_loss"])
        improved = monitor < self.best["valid_loss"] - 1e-6
        if improved:
            self.best = {"epoch": metrics["epoch"], "valid_loss": monitor,
                         "metrics": {k: v for k, v in metrics.items() if k != "epoch"}}  # fmt: skip
            self.best_state = _cpu_copy(net.state_dict())
            self.bad_epochs = 0
        else:
            self.bad_epochs += 1
        metrics["epoch_s"] = epoch_s
        metrics["best"] = improved
        self.history.append(jsonable(metrics))
        self.epoch = int(metrics["epoch"])
        return improved


def _comparable_config(config: dict[str, Any]) -> Any:
    return jsonable({k: v for k, v in config.items() if k not in RESUMABLE_CHANGES})


def save_last(
    path: Path,
    config: TrainConfig,
    split: dict[str, list[str]],
    state: RunState,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    elapsed_s: float,
) -> None:
    """Write ``last.pt`` (atomically) after an epoch.

    Parameters
    ----------
    path : Path
        The ``last.pt`` file.
    config : TrainConfig
    split : dict
        ``{"train": [paths], "valid": [paths]}``, checked on resume.
    state : RunState
    module : torch.nn.Module
        What the optimiser trains (the net, or MoCo around its encoder).
    optimizer : torch.optim.Optimizer
    rng : np.random.Generator
        The run's generator (batches, chunks, augmentations).
    elapsed_s : float
        Seconds of training so far, earlier parts of a resumed run included.
    """
    buffer = io.BytesIO()
    torch.save({
        "config": jsonable(asdict(config)), "split": split, "epoch": state.epoch,
        "module_state": module.state_dict(), "optimizer_state": optimizer.state_dict(),
        "best_net_state": state.best_state, "best": json.dumps(jsonable(state.best)),
        "history": json.dumps(state.history), "bad_epochs": state.bad_epochs,
        "elapsed_s": elapsed_s,
        "numpy_rng": json.dumps(rng.bit_generator.state),
        "torch_rng": torch.get_rng_state(),
    }, buffer)  # fmt: skip
    trained.write_atomic(path, buffer.getvalue())  # temp file, fsync, rename


def load_last(
    path: Path,
    config: TrainConfig,
    split: dict[str, list[str]],
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    device: torch.device,
) -> RunState:
    """Restore an interrupted run from its ``last.pt`` (parameters as :func:`save_last`).

    Loads ``module``, ``optimizer``, ``rng`` and torch's RNG in place and returns the
    :class:`RunState`.

    Raises
    ------
    TrainingError
        ``last.pt`` is unreadable, or the configuration (apart from
        :data:`RESUMABLE_CHANGES`) or the split differs from the interrupted run's.
    """
    try:
        saved = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch's unpickler raises what it meets
        # (struct.error, UnpicklingError, RuntimeError, EOFError…): all mean a broken file.
        raise TrainingError(f"--resume: cannot read {path} ({err})") from err
    if (_comparable_config(dict(saved["config"])) != _comparable_config(asdict(config))
            or saved["split"] != split):  # fmt: skip
        raise TrainingError(
            "--resume: the configuration or the data differ from the interrupted run "
            "(use the same --arch/--task/--labels/--seed/... options)"
        )
    module.load_state_dict(saved["module_state"])
    optimizer.load_state_dict(saved["optimizer_state"])
    rng.bit_generator.state = json.loads(saved["numpy_rng"])
    torch.set_rng_state(saved["torch_rng"].cpu())
    best = json.loads(saved["best"])
    if best["valid_loss"] is None:  # an infinite loss was saved as JSON null
        best["valid_loss"] = math.inf
    return RunState(
        best_state=saved["best_net_state"],
        best=best,
        history=json.loads(saved["history"]),
        bad_epochs=int(saved["bad_epochs"]),
        epoch=int(saved["epoch"]),
        elapsed_s=float(saved["elapsed_s"]),
    )


def write_metrics(folder: Path, state: RunState) -> None:
    """``metrics.jsonl``: one line per finished epoch of ``state`` (rewritten atomically).

    Written after ``last.pt``, so the log never holds an epoch that ``last.pt`` lacks; a
    kill between the two leaves it one epoch short, which :func:`resume_state` repairs.
    """
    text = "".join(json.dumps(h) + "\n" for h in state.history)
    trained.write_atomic(folder / trained.METRICS, text.encode())


def resume_state(
    folder: Path,
    config: TrainConfig,
    split: dict[str, list[str]],
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    rng: np.random.Generator,
    device: torch.device,
    write_log: bool = True,
) -> RunState:
    """:func:`load_last` from ``folder``, then ``metrics.jsonl`` rewritten to match it (a
    run killed between its ``last.pt`` and its log left the log one epoch short). Both
    trainers resume through this (the local one and rank 0 of Ray's; other ranks pass
    ``write_log=False``)."""
    state = load_last(folder / trained.LAST, config, split, module, optimizer, rng, device)
    if write_log:
        write_metrics(folder, state)
    return state


def model_checkpoint(
    name: str,
    config: TrainConfig,
    net: nn.Module,
    labels: list[str],
    data: LabelSet,
    split: dict[str, list[str]],
    state: RunState,
    source: WaveSource | FeatureSource,
    train_s: float,
    stopped_early: bool,
) -> dict[str, Any]:
    """The ``model.pt`` dict of a finished run: its best weights and how they were made.

    Parameters
    ----------
    name : str
        Registry name of the model.
    config : TrainConfig
    net : torch.nn.Module
        The trained :class:`~songscape.models.heads.TrainedNet` (gives the encoder's
        configuration; the weights saved are ``state.best_state``).
    labels : list of str
        Class (tag) names, the head's outputs in order; empty without a head.
    data : LabelSet
        The training data (its provenance is recorded).
    split : dict
        ``{"train": [paths], "valid": [paths]}``.
    state : RunState
    source : WaveSource or FeatureSource
        Gives the input sample rate and chunk length.
    train_s : float
        Seconds of training, earlier parts of a resumed run included.
    stopped_early : bool
        Whether ``patience`` ended the run.
    """
    kind = "features" if config.uses_features else "waveform"
    sample_rate, chunk_samples = source.sample_rate, source.chunk_samples
    return {
        "format": trained.FORMAT, "format_version": trained.FORMAT_VERSION, "name": name,
        "arch": config.arch, "task": config.task, "kind": kind,
        "encoder_config": jsonable(net.encoder.config), "head": len(labels) > 0,
        "labels": labels, "multilabel": config.multilabel,
        "sample_rate": int(sample_rate),
        "chunk_samples": int(chunk_samples) if chunk_samples else 47872,
        "patch_duration_s": 2.992 if kind == "features" else chunk_samples / sample_rate,
        "feature_model": FEATURE_MODEL if kind == "features" else None,
        "feature_layer": FEATURE_LAYERS.get(config.arch),
        "embedding_dim": int(net.encoder.embedding_dim),
        "train_config": jsonable(asdict(config)),
        "data": {"source": data.source, "label_column": data.label_column,
                 "group_source": data.group_source, "skipped": data.skipped,
                 "n_files": len(data)},
        "split": split, "epochs_run": len(state.history), "best_epoch": state.best["epoch"],
        "stopped_early": stopped_early, "valid_metrics": jsonable(state.best["metrics"]),
        "history": state.history, "device": config.device,
        "hardware": hardware_string(config.device),
        "train_s": round(train_s, 2), "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "torch_version": str(torch.__version__),
        "net_state": {k: v.detach().cpu() for k, v in state.best_state.items()},
    }  # fmt: skip
