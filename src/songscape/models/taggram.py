"""Taggram pictures: tag probabilities over a track's time, as a heat map."""

from __future__ import annotations

import os

import numpy as np


def top_tag_indices(taggram: np.ndarray, top: int) -> np.ndarray:
    """Columns of the ``top`` tags with the highest mean probability, best first."""
    if taggram.ndim != 2 or taggram.shape[0] == 0:
        raise ValueError(f"expected a (patches, tags) taggram, got shape {taggram.shape}")
    return np.argsort(-taggram.mean(axis=0), kind="stable")[: max(1, int(top))]


def plot_taggram(
    taggram: np.ndarray,
    labels: tuple[str, ...] | list[str],
    patch_duration_s: float,
    path: str | os.PathLike,
    top: int = 12,
    title: str = "",
) -> None:
    """Write a PNG heat map of the ``top`` tags (rows) over time (columns).

    Parameters
    ----------
    taggram : np.ndarray, shape (n_patches, n_tags)
        Tag probabilities per patch.
    labels : sequence of str
        Tag names (columns of ``taggram``).
    patch_duration_s : float
        Seconds per patch (patches are consecutive, not overlapping).
    path : path-like
        Output PNG.
    top : int
        Tags shown, by mean probability.
    title : str
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if len(labels) != taggram.shape[1]:
        raise ValueError(f"{len(labels)} labels for {taggram.shape[1]} taggram columns")
    rows = top_tag_indices(taggram, top)
    duration = taggram.shape[0] * patch_duration_s
    fig, ax = plt.subplots(figsize=(min(14, 4 + taggram.shape[0] * 0.15), 1 + 0.35 * len(rows)))
    image = ax.imshow(
        taggram[:, rows].T, aspect="auto", cmap="magma", vmin=0, vmax=1,
        extent=(0, duration, len(rows) - 0.5, -0.5), interpolation="nearest",
    )  # fmt: skip
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([f"{labels[i]} ({taggram[:, i].mean():.2f})" for i in rows])
    ax.set_xlabel("time (s)")
    ax.set_title(title or "taggram")
    fig.colorbar(image, ax=ax, label="probability", fraction=0.03, pad=0.01)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
