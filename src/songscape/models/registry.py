"""The model registry: every embedding/tagging model songscape can run, by name.

A model is described by a :class:`ModelSpec` (name, version, what it outputs) and
loaded on demand into an object with the :class:`AudioModel` interface, which turns
mono audio into a :class:`ModelOutput` (per-patch tag probabilities, track-level
tags, track-level embeddings). Stored vectors carry the model name and version
that made them, so a library can hold several models' vectors side by side and a
bumped version is recomputed.

This is the module the rest of songscape asks. Every function here first registers
the built-in families (:func:`ensure_builtins`: the pretrained musicnn ports and the
trained models of the models directory); the table itself lives in
:mod:`songscape.models.spec`.
"""

from __future__ import annotations

from songscape.errors import UnknownModelError
from songscape.models import pretrained, trained
from songscape.models.spec import (
    DEFAULT_MODEL,
    AudioModel,
    ModelOutput,
    ModelSpec,
    load_registered,
    register_model,
    registered_names,
    registered_spec,
    unregister_model,
)

__all__ = [
    "DEFAULT_MODEL",
    "AudioModel",
    "ModelOutput",
    "ModelSpec",
    "UnknownModelError",
    "ensure_builtins",
    "get_spec",
    "list_models",
    "load_model",
    "model_names",
    "register_model",
    "unregister_model",
]


def ensure_builtins() -> None:
    """Register the pretrained ports and the trained models of the models directory, once."""
    pretrained.ensure_registered()
    trained.ensure_scanned()


def model_names() -> list[str]:
    """Names of every registered model, the pretrained ports first."""
    ensure_builtins()
    return registered_names()


def get_spec(name: str) -> ModelSpec:
    """The spec of a registered model; :class:`UnknownModelError` lists the known ones."""
    ensure_builtins()
    return registered_spec(name)


def list_models() -> list[ModelSpec]:
    """Specs of every registered model, in :func:`model_names` order."""
    ensure_builtins()
    return [registered_spec(name) for name in registered_names()]


def load_model(name: str) -> AudioModel:
    """The runnable model of ``name``, built once per process and cached.

    Raises
    ------
    UnknownModelError
        No model of that name.
    PretrainedWeightsError, CheckpointError, TrainedModelError
        Its weights are missing, unreadable or broken.
    """
    ensure_builtins()
    return load_registered(name)
