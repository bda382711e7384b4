"""Renderers of the sing figure blocks kept out of bench/figures.py (issue 14)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: The trained vocal encoders of bench/sing_retrieval.py's VARIANTS, by retrieval kind.
ENCODERS = {
    "timbre": "MoCo timbre (pitch shift −, stretch +)",
    "timbre-expression": "MoCo timbre and expression (both −)",
    "mood": "TJAE mood", "timbre-mix": "MoCo timbre on the mix",
}  # fmt: skip


def stretch_table(st: dict, table: Callable) -> str:
    """Time-stretch invariance of each vocal embedding (bench/sing_stretch.py)."""
    rows = [[ENCODERS.get(kind, kind), f"{v['raw_min']:.3f}",
             f"{v['raw_share_ge_0.9']:.0%}",
             f"{v['centred_min']:.2f} / {v['centred_median']:.2f}",
             f"{v['other_songs_raw_median']:.2f} / {v['other_songs_centred_median']:.2f}",
             f"{v['closer_than_other_songs']:.0%}"]
            for kind, v in st["summary"].items()]  # fmt: skip
    head = ["embedding", "raw cosine, lowest", "raw ≥ 0.9", "centred cosine, lowest / median",
            "another song's line: raw / centred (median)", "closer to its own line than to "
            "any other song's"]  # fmt: skip
    return (f"Time stretch {' and '.join(str(x) for x in st['rates'])} of the first "
            f"{st['segment_s']:.0f} s of sung lines of {st['n_songs']} Jamendo songs, each "
            "embedding's cosine with the unstretched line (centred: the mean vector of the "
            "original lines removed first; trained encoders: those of the retrieval run above):"
            "\n\n" + table(head, rows))  # fmt: skip


def sing_training_length(results: Callable[[str], Any], table: Callable, source: Callable) -> str:
    """The trained encoders after 5 and after 20 epochs: retrieval and stretch invariance."""
    short = results("sing")
    long = short["training_20_epochs"]
    epochs = [next(iter(r["singer_retrieval"]["encoders"].values()))["epochs"]
              for r in (short, long)]  # fmt: skip
    rows = []
    for kind in ("mfcc", "musicnn", *ENCODERS, "fusion (baselines)", "fusion"):
        key = kind if kind in ("mfcc", "musicnn") or kind.startswith("fusion") else next(
            (k for k in short["singer_retrieval"]["summary"] if k.endswith(f"-{kind}")), kind)
        cells = [ENCODERS.get(kind, kind)]
        for r in (short, long):
            top = r["singer_retrieval"]["summary"].get(key)
            cells.append("–" if top is None else f"{top['top1']:.3f} / {top['top3']:.3f}")
        for r in (short, long):
            st = r.get("encoder_stretch", {}).get("summary", {}).get(kind)
            cells.append("–" if st is None else
                         f"{st['raw_min']:.3f}, {st['closer_than_other_songs']:.0%}")  # fmt: skip
        rows.append(cells)
    a, b = epochs
    head = ["embedding", f"mir1k top-1 / top-3, {a} epochs", f"{b} epochs",
            f"stretch: raw cosine lowest, nearest its own line ({a} epochs)",
            f"({b} epochs)"]  # fmt: skip
    text = (f"The same clips, seeds and settings but the encoders' training length ({a} against "
            f"{b} epochs); baselines are untrained and repeat. Stretch: as the table above "
            "(the share of stretched lines nearer their own original than any other song's, "
            "mean removed).")  # fmt: skip
    return table(head, rows) + "\n\n" + text + "\n\n" + source("sing")


#: Block name suffix -> renderer(results, table, source).
RENDERERS = {"training-length": sing_training_length}
