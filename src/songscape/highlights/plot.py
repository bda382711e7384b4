"""The timeline picture of a track: energy curve, beats, downbeats, sections, highlight."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

#: Section colours, by label index (repeats share a colour).
SECTION_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2",
                   "#edc948", "#ff9da7", "#9c755f", "#bab0ac")  # fmt: skip


def plot_timeline(
    out_path: str | os.PathLike,
    energy_db: np.ndarray,
    energy_rate_hz: float,
    beat_times: np.ndarray,
    downbeat_times: np.ndarray,
    sections: Sequence[dict],
    highlight: dict | None,
    chorus: str | None = None,
    title: str = "",
) -> None:
    """Write a PNG: the energy curve (dB) over time, beat (thin) and downbeat (thick)
    ticks under it, sections as coloured bands labelled A, B…, the chorus label marked
    with "*", and the highlight window outlined.

    ``sections`` are dicts with ``start_s, end_s, label``; ``highlight`` one with
    ``start_s, end_s, method, score`` (or None).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e = np.asarray(energy_db, dtype=float)
    t = np.arange(len(e)) / energy_rate_hz
    duration = max([float(t[-1]) if len(t) else 0.0]
                   + [float(s["end_s"]) for s in sections])  # fmt: skip
    fig, (ax, ax_beats) = plt.subplots(2, 1, figsize=(11, 3.6), sharex=True,
                                       gridspec_kw={"height_ratios": [5, 1]})  # fmt: skip
    floor = float(np.percentile(e, 2)) - 3 if len(e) else -60.0
    top = float(e.max()) + 3 if len(e) else 0.0
    labels_seen: dict[str, str] = {}
    for s in sections:
        label = s["label"]
        idx = len(labels_seen) if label not in labels_seen else None
        if idx is not None:
            labels_seen[label] = SECTION_COLOURS[idx % len(SECTION_COLOURS)]
        ax.axvspan(s["start_s"], s["end_s"], color=labels_seen[label], alpha=0.25, lw=0)
        ax.text((s["start_s"] + s["end_s"]) / 2, top - 1, label + ("*" if label == chorus else ""),
                ha="center", va="top", fontsize=10, weight="bold")  # fmt: skip
    ax.plot(t, e, color="black", lw=0.9, label="energy (dB RMS)")
    if highlight:
        ax.axvspan(highlight["start_s"], highlight["end_s"], fill=False, ec="#d62728", lw=2.2,
                   label=f"highlight ({highlight['method']}, score {highlight['score']:.2f})")
    ax.set_ylim(floor, top)
    ax.set_ylabel("dB")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.9)
    ax.set_title(title + ("   (* = chorus candidate)" if chorus else ""), fontsize=10)
    ax_beats.vlines(np.asarray(beat_times), 0, 0.5, color="0.5", lw=0.6)
    ax_beats.vlines(np.asarray(downbeat_times), 0, 1, color="black", lw=1.2)
    ax_beats.set_yticks([])
    ax_beats.set_ylabel("beats", fontsize=8)
    ax_beats.set_xlabel("time (s)")
    ax_beats.set_xlim(0, duration)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
