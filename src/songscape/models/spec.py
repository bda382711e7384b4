"""What a model is (:class:`ModelSpec`), what it outputs (:class:`ModelOutput`), the
interface every runnable model offers (:class:`AudioModel`), and the table of registered
models.

The model families (:mod:`~songscape.models.pretrained`, :mod:`~songscape.models.trained`)
register into this table with :func:`register_model`. This module knows nothing of them,
so they can import it without a cycle; :mod:`songscape.models.registry`, above them, makes
sure they have registered before it answers, and is what the rest of songscape asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from songscape.errors import UnknownModelError

#: The model ingest runs and search uses when none is named.
DEFAULT_MODEL = "musicnn-msd"


@dataclass(frozen=True)
class ModelSpec:
    """What a registered model is and outputs.

    Attributes
    ----------
    name : str
        Registry name, e.g. ``"musicnn-msd"``.
    version : str
        Changes whenever the model's outputs would change (weights, preprocessing,
        pooling); stored with every vector and tag it produced.
    description : str
        One line for ``songscape models``.
    sample_rate : int
        Input sample rate in Hz.
    embedding_layer : str
        The layer whose track-level pooling is the model's stored embedding.
    layers : dict of str to int
        Every embedding layer the model can output, with its dimension.
    tag_source : str or None
        Short name of the tag vocabulary (``"msd"``, ``"mtt"``), used to name tags
        in combined tag sets; None for models without tag outputs.
    labels : tuple of str
        Tag names in output order (empty for embedding-only models).
    loader : callable
        Builds the :class:`AudioModel` (called once per process).
    metrics : dict
        Published or measured figures (e.g. ROC-AUC on its test set).
    patch_duration_s : float
        Seconds of audio per taggram row.
    """

    name: str
    version: str
    description: str
    sample_rate: int
    embedding_layer: str
    layers: dict[str, int]
    tag_source: str | None
    labels: tuple[str, ...]
    loader: Callable[[ModelSpec], AudioModel] = field(repr=False, compare=False)
    metrics: dict[str, float] = field(default_factory=dict)
    patch_duration_s: float = 3.0

    @property
    def embedding_dim(self) -> int:
        """Dimension of the stored embedding (that of :attr:`embedding_layer`)."""
        return self.layers[self.embedding_layer]

    def to_json(self) -> dict:
        """The spec as ``songscape models --json`` and ``GET /api/models`` show it."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "sample_rate": self.sample_rate,
            "embedding_layer": self.embedding_layer,
            "embedding_dim": self.embedding_dim,
            "layers": dict(self.layers),
            "tag_source": self.tag_source,
            "n_tags": len(self.labels),
            "metrics": dict(self.metrics),
            "patch_duration_s": round(self.patch_duration_s, 4),
            "default": self.name == DEFAULT_MODEL,
        }


@dataclass
class ModelOutput:
    """A model's view of one track.

    Attributes
    ----------
    model, version : str
        Which model (and version) produced this.
    labels : tuple of str
        Tag names, the columns of ``taggram``.
    taggram : np.ndarray, shape (n_patches, n_tags), float32
        Tag probabilities per patch.
    patch_times_s : np.ndarray, shape (n_patches,)
        Start of each patch in seconds.
    patch_duration_s : float
        Length of one patch in seconds.
    embeddings : dict of str to np.ndarray
        Track-level vector per layer (mean over patches), float32.
    embedding_layer : str
        The model's default layer, the one :attr:`embedding` returns.
    patch_embeddings : np.ndarray or None
        Shape (n_patches, dim), float32: the default layer per patch (the rows
        :attr:`embedding` is the mean of), for window vectors
        (:mod:`songscape.models.windows`); None when a model cannot give them.
    """

    model: str
    version: str
    labels: tuple[str, ...]
    taggram: np.ndarray
    patch_times_s: np.ndarray
    patch_duration_s: float
    embeddings: dict[str, np.ndarray]
    embedding_layer: str
    patch_embeddings: np.ndarray | None = None

    @property
    def embedding(self) -> np.ndarray:
        """The track-level vector of the model's default layer, float32."""
        return self.embeddings[self.embedding_layer]

    @property
    def tag_probabilities(self) -> np.ndarray:
        """Track-level probability per tag: the mean of the taggram over patches."""
        return self.taggram.mean(axis=0)

    def tags(self) -> dict[str, float]:
        """``{tag: track-level probability}``, most probable first."""
        probs = self.tag_probabilities
        order = np.argsort(-probs, kind="stable")
        return {self.labels[i]: float(probs[i]) for i in order}


class AudioModel(Protocol):
    """What every runnable model offers (pretrained imports and trained models alike)."""

    spec: ModelSpec

    def run(self, y: np.ndarray, hop_s: float | None = None) -> ModelOutput:
        """Analyse mono float32 audio at ``spec.sample_rate`` Hz.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
            The audio.
        hop_s : float or None
            Seconds between patch starts; None: the model's own (no overlap).
        """
        ...


#: Every registered model's spec, by name, in registration order.
_MODELS: dict[str, ModelSpec] = {}
#: The models built so far in this process (one instance per name).
_LOADED: dict[str, AudioModel] = {}


def register_model(spec: ModelSpec, replace: bool = False) -> ModelSpec:
    """Add a model to the table (dropping any instance built from an earlier spec).

    Parameters
    ----------
    spec : ModelSpec
    replace : bool
        Allow replacing a model of the same name.

    Returns
    -------
    ModelSpec
        ``spec``.

    Raises
    ------
    ValueError
        The name is taken (and ``replace`` is False), or the embedding layer is not one
        of ``spec.layers``.
    """
    if spec.name in _MODELS and not replace:
        raise ValueError(f"model {spec.name!r} is already registered")
    if spec.embedding_layer not in spec.layers:
        raise ValueError(f"{spec.name}: embedding layer {spec.embedding_layer!r} not in layers")
    _MODELS[spec.name] = spec
    _LOADED.pop(spec.name, None)
    return spec


def unregister_model(name: str) -> None:
    """Remove a model (e.g. a trained model whose checkpoint was replaced or deleted)."""
    _MODELS.pop(name, None)
    _LOADED.pop(name, None)


def registered_names() -> list[str]:
    """Names in the table now, without registering the built-in families."""
    return list(_MODELS)


def registered_spec(name: str) -> ModelSpec:
    """The spec of a model in the table; :class:`UnknownModelError` lists the known ones."""
    try:
        return _MODELS[name]
    except KeyError:
        raise UnknownModelError(
            f"unknown model {name!r}; known models: {', '.join(_MODELS)}"
        ) from None


def load_registered(name: str) -> AudioModel:
    """The runnable model of a registered name, built once per process and cached."""
    spec = registered_spec(name)
    model = _LOADED.get(name)
    if model is None:
        model = _LOADED[name] = spec.loader(spec)
    return model
