"""The pretrained musicnn models (Pons & Serra, ISC licence), run in PyTorch.

The weights come from the installed ``musicnn==0.1.0`` wheel (installed with
``--no-deps``: only its checkpoint and configuration files are used, read with
:mod:`songscape.models.tf_checkpoint`; its TF1 code never runs). Nothing is
downloaded at run time.

Registered models:

========================  =============  ==============================================
name                      checkpoint     vocabulary
========================  =============  ==============================================
``musicnn-msd`` (default)  MSD_musicnn    50 Last.fm tags of the Million Song Dataset
``musicnn-mtt``            MTT_musicnn    50 MagnaTagATune tags
``vgg-msd``                MSD_vgg        MSD tags, VGG baseline
``vgg-mtt``                MTT_vgg        MTT tags, VGG baseline
========================  =============  ==============================================
"""

from __future__ import annotations

import ast
import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np

from songscape.audio.features import (
    MUSICNN_HOP_LENGTH,
    MUSICNN_PATCH_FRAMES,
    MUSICNN_SAMPLE_RATE,
    frame_patches,
    musicnn_log_mel,
)
from songscape.errors import PretrainedWeightsError
from songscape.models.spec import ModelOutput, ModelSpec, register_model, registered_names

MUSICNN_PACKAGE = "musicnn"
MUSICNN_WHEEL_VERSION = "0.1.0"
#: Bumped whenever this port's outputs change (preprocessing, pooling, layers).
PORT_VERSION = 1
#: Patches per forward pass: bounds memory (the timbral maps of one patch are ~9 MB);
#: on one CPU core 1-2 patches per pass are also the fastest (cache-resident maps).
DEFAULT_BATCH_PATCHES = 2


def musicnn_dir() -> Path:
    """The installed ``musicnn`` package folder (holding the checkpoints)."""
    spec = importlib.util.find_spec(MUSICNN_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedWeightsError(
            "the pretrained musicnn weights are not installed: run `make setup` "
            f"(it runs `pip install --no-deps musicnn=={MUSICNN_WHEEL_VERSION}`)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def checkpoint_dir(checkpoint: str) -> Path:
    folder = musicnn_dir() / checkpoint
    if not (folder / ".index").is_file():
        raise PretrainedWeightsError(f"checkpoint {checkpoint} missing from {folder}")
    return folder


@lru_cache(maxsize=1)
def musicnn_labels() -> dict[str, tuple[str, ...]]:
    """``{"MSD": (...50 tags), "MTT": (...)}`` parsed (not executed) from the wheel's config."""
    source = (musicnn_dir() / "configuration.py").read_text()
    labels: dict[str, tuple[str, ...]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id.endswith("_LABELS"):
                labels[target.id.removesuffix("_LABELS")] = tuple(ast.literal_eval(node.value))
    if set(labels) != {"MSD", "MTT"}:
        raise PretrainedWeightsError(f"unexpected label sets in musicnn config: {sorted(labels)}")
    return labels


class MusicnnTagger:
    """A pretrained musicnn/VGG network with its preprocessing: audio in, tags out.

    Parameters
    ----------
    spec : ModelSpec
    architecture : {"musicnn", "vgg"}
    checkpoint : str
        Folder name of the checkpoint inside the wheel (e.g. ``"MSD_musicnn"``).
    batch_patches : int
        Patches per forward pass (memory bound).
    """

    def __init__(
        self,
        spec: ModelSpec,
        architecture: str,
        checkpoint: str,
        batch_patches: int = DEFAULT_BATCH_PATCHES,
    ):
        import torch

        from songscape.models.musicnn import (
            Musicnn,
            MusicnnVgg,
            musicnn_state_dict,
            vgg_state_dict,
        )
        from songscape.models.tf_checkpoint import read_checkpoint

        self.spec = spec
        self.batch_patches = int(batch_patches)
        variables = read_checkpoint(checkpoint_dir(checkpoint))
        if architecture == "musicnn":
            self.net, state = Musicnn(n_classes=len(spec.labels)), musicnn_state_dict(variables)
        elif architecture == "vgg":
            self.net, state = MusicnnVgg(n_classes=len(spec.labels)), vgg_state_dict(variables)
        else:
            raise ValueError(f"unknown architecture {architecture!r}")
        self.net.load_state_dict(state, strict=True)
        self.net.eval()
        self._torch = torch

    def forward_patches(self, patches: np.ndarray) -> dict[str, np.ndarray]:
        """Network outputs for (n, 187, 96) log-mel patches, batched: logits and layers."""
        torch = self._torch
        outputs: dict[str, list[np.ndarray]] = {}
        with torch.inference_mode():
            for start in range(0, len(patches), self.batch_patches):
                batch = torch.from_numpy(patches[start : start + self.batch_patches])
                for name, value in self.net(batch).items():
                    outputs.setdefault(name, []).append(value.numpy())
        return {name: np.concatenate(parts) for name, parts in outputs.items()}

    def run(self, y: np.ndarray, hop_s: float | None = None) -> ModelOutput:
        """Tag and embed mono audio at 16 kHz.

        Parameters
        ----------
        y : np.ndarray, shape (n,)
            Mono float32 audio at 16000 Hz.
        hop_s : float or None
            Seconds between patch starts; None: no overlap (3 s hop), as the original.

        Returns
        -------
        ModelOutput
        """
        seconds_per_frame = MUSICNN_HOP_LENGTH / MUSICNN_SAMPLE_RATE
        hop_frames = None if hop_s is None else max(1, round(hop_s / seconds_per_frame))
        patches, starts = frame_patches(musicnn_log_mel(y), MUSICNN_PATCH_FRAMES, hop_frames)
        out = self.forward_patches(patches)
        taggram = 1.0 / (1.0 + np.exp(-out["logits"].astype(np.float64)))
        return ModelOutput(
            model=self.spec.name,
            version=self.spec.version,
            labels=self.spec.labels,
            taggram=taggram.astype(np.float32),
            patch_times_s=starts * seconds_per_frame,
            patch_duration_s=MUSICNN_PATCH_FRAMES * seconds_per_frame,
            embeddings={
                layer: out[layer].mean(axis=0).astype(np.float32) for layer in self.spec.layers
            },
            embedding_layer=self.spec.embedding_layer,
            patch_embeddings=out[self.spec.embedding_layer].astype(np.float32),
        )


# Published figures of the released checkpoints (musicnn README / experiment.result).
_PUBLISHED = {
    "MSD_musicnn": {"roc_auc": 0.8802, "pr_auc": 0.2891},
    "MTT_musicnn": {"roc_auc": 0.9067, "pr_auc": 0.3831},
    "MSD_vgg": {"roc_auc": 0.8768, "pr_auc": 0.2819},
    "MTT_vgg": {"roc_auc": 0.9030, "pr_auc": 0.3823},
}

_MUSICNN_LAYERS = {"penultimate": 200, "max_pool": 753, "mean_pool": 753}
_VGG_LAYERS = {"pool5": 256}


def _loader(architecture: str, checkpoint: str):
    def load(spec: ModelSpec) -> MusicnnTagger:
        return MusicnnTagger(spec, architecture, checkpoint)

    return load


def ensure_registered() -> None:
    """Register the pretrained ports unless they already are."""
    if "musicnn-msd" not in registered_names():
        register_pretrained_models()


def register_pretrained_models() -> None:
    """Register the four musicnn checkpoints (labels are read lazily from the wheel)."""
    entries = [
        ("musicnn-msd", "musicnn", "MSD_musicnn", "MSD",
         "MusiCNN trained on the Million Song Dataset: 50 Last.fm tags (genres, moods, eras)"),
        ("musicnn-mtt", "musicnn", "MTT_musicnn", "MTT",
         "MusiCNN trained on MagnaTagATune: 50 tags (instruments, voices, genres)"),
        ("vgg-msd", "vgg", "MSD_vgg", "MSD", "VGG baseline trained on the Million Song Dataset"),
        ("vgg-mtt", "vgg", "MTT_vgg", "MTT", "VGG baseline trained on MagnaTagATune"),
    ]  # fmt: skip
    try:
        labels = musicnn_labels()
    except PretrainedWeightsError:
        labels = {"MSD": (), "MTT": ()}  # listed, but loading says what is missing
    for name, architecture, checkpoint, vocabulary, description in entries:
        layers = _MUSICNN_LAYERS if architecture == "musicnn" else _VGG_LAYERS
        register_model(
            ModelSpec(
                name=name,
                version=f"{checkpoint}-{MUSICNN_WHEEL_VERSION}.{PORT_VERSION}",
                description=description,
                sample_rate=MUSICNN_SAMPLE_RATE,
                embedding_layer="penultimate" if architecture == "musicnn" else "pool5",
                layers=dict(layers),
                tag_source=vocabulary.lower(),
                labels=labels[vocabulary],
                loader=_loader(architecture, checkpoint),
                metrics=dict(_PUBLISHED[checkpoint]),
                patch_duration_s=MUSICNN_PATCH_FRAMES * MUSICNN_HOP_LENGTH / MUSICNN_SAMPLE_RATE,
            ),
            replace=True,
        )
