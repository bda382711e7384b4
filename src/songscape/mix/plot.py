"""The picture of a rendered mix: its short-term loudness with the segments and
transitions marked, and a spectrogram of each transition (up to :data:`MAX_PANELS`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from songscape.evaluation.mix_quality import short_term_loudness_file
from songscape.mix.plan import MixPlan

#: Transitions drawn as spectrograms.
MAX_PANELS = 6
#: Seconds shown before and after each transition.
CONTEXT_S = 3.0
KIND_COLOURS = {"beatmatched": "#2a9d8f", "fade": "#e76f51"}


def plot_mix(audio: str | os.PathLike, plan: MixPlan, out: str | os.PathLike) -> Path:
    """Draw ``plan``'s rendered ``audio`` to the PNG ``out``; returns its path."""
    import librosa
    import librosa.display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile as sf

    times, lufs = short_term_loudness_file(str(audio))
    shown = plan.transitions[:MAX_PANELS]
    cols = max(1, min(3, len(shown)))
    rows = 1 + (len(shown) + cols - 1) // cols
    fig = plt.figure(figsize=(4.2 * cols + 1, 2.8 * rows), dpi=110)
    grid = fig.add_gridspec(rows, cols, height_ratios=[1.3] + [1] * (rows - 1))
    ax = fig.add_subplot(grid[0, :])
    minutes = times / 60
    ax.plot(minutes, lufs, color="#264653", lw=1)
    ax.axhline(
        plan.options.target_lufs,
        color="#999",
        ls=":",
        lw=1,
        label=f"target {plan.options.target_lufs:g} LUFS",
    )
    for i, seg in enumerate(plan.segments):
        mid = (seg.mix_start_s + seg.mix_end_s) / 2 / 60
        name = seg.track.title or Path(seg.track.path).stem
        ax.text(
            mid,
            1.02,
            f"{i + 1}. {name[:18]}",
            transform=ax.get_xaxis_transform(),
            ha="center",
            va="bottom",
            fontsize=7,
            rotation=20,
        )
    for t in plan.transitions:
        ax.axvspan(
            t.mix_start_s / 60, t.mix_end_s / 60, color=KIND_COLOURS[t.kind], alpha=0.3, lw=0
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=c, alpha=0.4) for c in KIND_COLOURS.values()]
    ax.legend(
        handles + ax.get_legend_handles_labels()[0],
        list(KIND_COLOURS) + ax.get_legend_handles_labels()[1],
        fontsize=7,
        loc="lower right",
    )
    ax.set_xlabel("mix time (minutes)")
    ax.set_ylabel("short-term loudness (LUFS)")
    ax.set_ylim(max(-45.0, float(np.percentile(lufs, 1)) - 3), float(lufs.max()) + 3)
    ax.set_xlim(0, plan.duration_s / 60)
    with sf.SoundFile(str(audio)) as f:
        sr = f.samplerate
        for k, t in enumerate(shown):
            start = max(0.0, t.mix_start_s - CONTEXT_S)
            f.seek(int(start * sr))
            y = f.read(
                int((t.mix_end_s + CONTEXT_S - start) * sr), dtype="float32", always_2d=True
            ).mean(axis=1)
            mel = librosa.feature.melspectrogram(y=y, sr=sr, n_mels=96, fmax=8000, hop_length=512)
            sub = fig.add_subplot(grid[1 + k // cols, k % cols])
            librosa.display.specshow(
                librosa.power_to_db(mel, ref=np.max),
                sr=sr,
                hop_length=512,
                x_axis="time",
                y_axis="mel",
                fmax=8000,
                ax=sub,
                cmap="magma",
            )
            for edge in (t.mix_start_s, t.mix_end_s):
                sub.axvline(edge - start, color="w", lw=1, ls="--")
            if t.swap_s is not None:
                sub.axvline(t.swap_s - start, color="#8ecae6", lw=1.2)
            label = f"{t.kind}, {t.bars} bars {t.style}" if t.bars else f"{t.kind} ({t.style})"
            sub.set_title(f"{t.index + 1}→{t.index + 2}: {label}", fontsize=8)
            sub.set_xlabel("seconds", fontsize=7)
            sub.tick_params(labelsize=6)
            sub.set_ylabel("Hz", fontsize=7)
    fig.tight_layout()
    out = Path(out)
    fig.savefig(out)
    plt.close(fig)
    return out
