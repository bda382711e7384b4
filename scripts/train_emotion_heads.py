"""Train the emotion heads used by bench/emotion.py from ../shared/data (issue 19).

    .venv/bin/python scripts/train_emotion_heads.py [--models-dir DIR]

Writes two heads to the models directory (default: ``$SONGSCAPE_MODELS``, else
``~/.local/share/songscape/models``), each cross-validated first (5 grouped folds):

* ``emotion-gems-emotify``: the nine GEMS emotions from emotify_half (the whole of each
  excerpt; groups = blocks of 10 consecutive files per genre);
* ``emotion-va-4q``: valence and arousal (two-class) from emotion4q_third (groups = artists).

Both data sets are research-only, so these heads are not shipped with songscape; without
them ingest uses the zero-shot mapping of musicnn's tags. Deterministic: the same data
gives the same heads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from songscape.config import default_cache_dir
from songscape.datasets.emotion_labels import read_emotion_labels
from songscape.training.emotion import train_emotion_head

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
HEADS = (
    ("emotion-gems-emotify", "emotify_half", None),
    ("emotion-va-4q", "emotion4q_third", None),
)


def main() -> None:
    ap = argparse.ArgumentParser(description="train the emotion heads from ../shared/data")
    ap.add_argument("--models-dir", help="where to write them (default: the models directory)")
    args = ap.parse_args()
    for name, folder, seconds in HEADS:
        labels = read_emotion_labels(DATA / folder / "labels.csv")
        summary = train_emotion_head(labels, name, models_dir=args.models_dir,
                                     cache_dir=default_cache_dir() / f"emotion-{folder}",
                                     overwrite=True, max_seconds=seconds)  # fmt: skip
        cv = summary["cv"]
        print(json.dumps({"name": name, "path": summary["path"], "n": summary["n"],
                          "gems_mean_spearman": cv.get("gems_mean_spearman"),
                          "per_target": {t: (f.get("spearman") or f.get("roc_auc"))
                                         for t, f in cv["per_target"].items()}}))  # fmt: skip


if __name__ == "__main__":
    main()
