"""Draw one beat-matched transition four ways: bass swap or crossfade, Rubber Band or
varispeed; writes ``docs/img/mix-transition-styles.png``.

The two songs are the first beat-matched pair of the highlights mix ``bench/mix.py``
plans on the Jamendo library (``--library``, built by ``bench/mix.py``). Each panel is
the rendered transition's spectrogram below 1 kHz, where a crossfade's two bass lines
overlap and a bass swap's take turns; the dashed lines mark the overlap, the blue one
the swap.

Usage: ``python bench/mix_pictures.py [--library DIR] [--out PNG]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import librosa
import librosa.display
import matplotlib
import numpy as np
import soundfile as sf

from songscape.library.library import Library
from songscape.mix.plan import MixOptions

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--library", type=Path, default=Path(tempfile.gettempdir()) / "songscape-bench-mix"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT / "docs" / "img" / "mix-transition-styles.png"
    )
    args = parser.parse_args(argv)
    lib = Library(args.library)
    ids = [t["id"] for t in lib.tracks(status="ok")]
    plan = lib.plan_mix(ids, options=MixOptions(segments="highlight", reorder=True))
    pair = next(t for t in plan.transitions if t.kind == "beatmatched")
    tracks = [
        plan.segments[pair.index].track.track_id,
        plan.segments[pair.index + 1].track.track_id,
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), dpi=110, sharey=True)
    with tempfile.TemporaryDirectory() as tmp:
        for row, style in enumerate(("bass-swap", "crossfade")):
            for col, warp in enumerate(("rubberband", "varispeed")):
                options = MixOptions(segments="highlight", reorder=False, style=style, warp=warp)
                two = lib.plan_mix(tracks, options=options)
                t = two.transitions[0]
                out = Path(tmp) / f"{style}-{warp}.wav"
                lib.render_mix(two, out)
                y, sr = sf.read(out, always_2d=True)
                start = max(0.0, t.mix_start_s - 3.0)
                y = y[int(start * sr) : int((t.mix_end_s + 3.0) * sr)].mean(axis=1)
                spec = librosa.amplitude_to_db(
                    np.abs(librosa.stft(y, n_fft=8192, hop_length=1024)), ref=np.max
                )
                ax = axes[row, col]
                librosa.display.specshow(
                    spec,
                    sr=sr,
                    hop_length=1024,
                    x_axis="time",
                    y_axis="linear",
                    ax=ax,
                    cmap="magma",
                    vmin=-70,
                )
                ax.set_ylim(0, 1000)
                for edge in (t.mix_start_s, t.mix_end_s):
                    ax.axvline(edge - start, color="w", ls="--", lw=1)
                if t.swap_s is not None:
                    ax.axvline(t.swap_s - start, color="#8ecae6", lw=1.5)
                ax.set_title(
                    f"{style}, {warp} ({t.bars} bars at {two.master_tempo_bpm:.0f} BPM)", fontsize=9
                )
                ax.set_xlabel("seconds")
    names = " → ".join(s.track.name for s in two.segments)
    fig.suptitle(f"One transition four ways: {names}", fontsize=10)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
