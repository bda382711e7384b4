"""Figures of evaluation results (matplotlib's Agg canvas: headless, no pyplot state)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_confusion_matrix"]


def plot_confusion_matrix(
    cm: Any,
    class_names: Sequence[str],
    path: str | os.PathLike[str],
    title: str = "",
) -> Path:
    """Write a confusion matrix as a PNG.

    Cells are shaded by the row-normalised rate (the fraction of each true class given
    each prediction) and labelled with the raw counts. Uses matplotlib's Agg canvas
    directly (no pyplot, no global backend change), so it works headless.

    Parameters
    ----------
    cm : array_like, shape (c, c)
        Counts; rows = true class, columns = predicted class.
    class_names : sequence of str, length c
    path : str or path-like
        Output PNG; parent folders are created.
    title : str

    Returns
    -------
    Path
        The written file.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as err:  # pragma: no cover - matplotlib is a dependency
        raise ImportError("plot_confusion_matrix needs matplotlib: pip install matplotlib") from err

    cm = np.asarray(cm)
    c = len(class_names)
    if cm.shape != (c, c):
        raise ValueError(f"confusion matrix of shape {cm.shape} does not match {c} class names")
    if np.any(cm < 0) or not np.all(np.isfinite(cm)):
        raise ValueError("confusion matrix must hold non-negative finite counts")
    totals = cm.sum(axis=1, keepdims=True)
    rates = np.divide(cm, totals, out=np.zeros(cm.shape, dtype=float), where=totals > 0)

    size = 1.6 + 0.55 * c
    fig = Figure(figsize=(size + 1.2, size))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ax.set_xticks(range(c), labels=list(class_names), rotation=45, ha="right")
    ax.set_yticks(range(c), labels=list(class_names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    for i in range(c):
        for j in range(c):
            if cm[i, j]:
                colour = "white" if rates[i, j] > 0.5 else "black"
                ax.text(j, i, f"{cm[i, j]:g}", ha="center", va="center", color=colour)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
