"""Emotion labels from a CSV: ``songscape train --task emotion --labels FILE.csv``.

A ``path`` column (relative to the CSV's folder) and any of:

* the nine GEMS columns (``amazement`` ... ``sadness``): shares or scores in 0...1;
* ``valence``, ``arousal``: numbers in -1...1, or words (``positive``/``negative``,
  ``high``/``low``), which make two-class targets;
* ``polarity``: ``positive``/``negative`` (or a number in -1...1): the valence;
* ``quadrant`` (or ``category``): ``Q1``...``Q4`` or ``happy``, ``tense``/``angry``,
  ``sad``, ``calm``/``relaxed``: two-class valence and arousal;
* ``lyrics`` (the text) or ``lyrics_path`` (a file, relative to the CSV): the song's lyrics;
  without them the file's sidecar ``.lrc``/``.txt`` is used when there is one.

Groups (never split across folds) come from ``group``, ``album``, ``recording`` or
``artist`` (see :func:`~songscape.datasets.groups.assign_groups`); without one, files named
by a number are grouped in blocks of :data:`NUMBER_BLOCK` consecutive numbers per folder
(consecutive Emotify files often come from one album), otherwise each file is its own
group. Columns that describe the item (``title``, ``genre``, ``moods``, ...:
:data:`DESCRIPTIVE_COLUMNS`) are read and ignored; any other column is an error, so a typo
in a target's name is never silently dropped.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from songscape.datasets.groups import assign_groups
from songscape.datasets.labels import GROUP_COLUMNS, SPLIT_COLUMNS
from songscape.errors import DatasetError

__all__ = ["EmotionLabels", "read_emotion_labels"]

GEMS_COLUMNS = (
    "amazement", "solemnity", "tenderness", "nostalgia", "calmness",
    "power", "joyful_activation", "tension", "sadness",
)  # fmt: skip
TARGET_COLUMNS = (*GEMS_COLUMNS, "valence", "arousal", "polarity", "quadrant", "category")
LYRICS_COLUMNS = ("lyrics", "lyrics_path")
#: Columns read and ignored.
DESCRIPTIVE_COLUMNS = (
    "title", "genre", "genres", "moods", "track_id", "id", "n_annotators", "liked", "disliked",
    "language", "license", "duration_s", "year", "label", "notes", "comment",
)  # fmt: skip
NUMBER_BLOCK = 10

_WORDS = {
    "valence": {"positive": 1.0, "negative": 0.0, "pos": 1.0, "neg": 0.0},
    "arousal": {"high": 1.0, "low": 0.0},
}
_QUADRANTS = {
    "q1": (1.0, 1.0), "happy": (1.0, 1.0), "excited": (1.0, 1.0),
    "q2": (0.0, 1.0), "tense": (0.0, 1.0), "angry": (0.0, 1.0),
    "q3": (0.0, 0.0), "sad": (0.0, 0.0), "depressed": (0.0, 0.0),
    "q4": (1.0, 0.0), "calm": (1.0, 0.0), "relaxed": (1.0, 0.0),
}  # fmt: skip


@dataclass
class EmotionLabels:
    """Labelled files for emotion heads.

    Attributes
    ----------
    paths : list of Path
    groups : np.ndarray of str
    group_source : str
    targets : dict of str to np.ndarray
        Per target (GEMS names, ``valence``, ``arousal``), one value per file, NaN when
        the row has none.
    binary : set of str
        Targets given as two classes (values 0/1).
    lyrics : list of str or None
        Lyrics text per file (None: none given; a sidecar may still exist).
    strata : np.ndarray of str
        A class per file to stratify folds by (genre or quadrant when given, else "").
    source : str
    """

    paths: list[Path]
    groups: np.ndarray
    group_source: str
    targets: dict[str, np.ndarray]
    binary: set[str] = field(default_factory=set)
    lyrics: list[str | None] = field(default_factory=list)
    strata: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=str))
    source: str = ""

    def __len__(self) -> int:
        return len(self.groups)


def _number(value: str, column: str, row: int, low: float, high: float) -> float:
    try:
        x = float(value)
    except ValueError:
        raise DatasetError(f"row {row}: {column} {value!r} is not a number") from None
    if not math.isfinite(x) or not low <= x <= high:
        raise DatasetError(f"row {row}: {column} {value!r} is outside {low:g}...{high:g}")
    return x


def _polar(value: str, column: str, row: int) -> tuple[float, bool]:
    """A valence/arousal cell: ``(value, binary)``."""
    words = _WORDS["arousal" if column == "arousal" else "valence"]
    key = value.strip().lower()
    if key in words:
        return words[key], True
    return _number(value, column, row, -1.0, 1.0), False


def read_emotion_labels(path: str | Path) -> EmotionLabels:
    """Read an emotion labels CSV (see the module docstring).

    Raises
    ------
    DatasetError
        Missing file or ``path`` column, unknown columns, values out of range or of
        mixed kinds, no target column, missing audio files.
    """
    csv_path = Path(path).expanduser()
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = [{(k or "").strip(): (v or "").strip() for k, v in r.items()} for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DatasetError(f"cannot read {csv_path}: {err}") from err
    if "path" not in columns:
        raise DatasetError(f"{csv_path}: no 'path' column (columns: {', '.join(columns)})")
    known = {"path", *TARGET_COLUMNS, *LYRICS_COLUMNS, *DESCRIPTIVE_COLUMNS, *GROUP_COLUMNS,
             *SPLIT_COLUMNS}  # fmt: skip
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise DatasetError(
            f"{csv_path}: unknown column(s) {', '.join(unknown)}; emotion labels are "
            f"{', '.join(TARGET_COLUMNS)} (and lyrics, lyrics_path, group columns "
            f"{', '.join(GROUP_COLUMNS)}; descriptive columns are ignored)"
        )
    given = [c for c in TARGET_COLUMNS if c in columns]
    if not given:
        raise DatasetError(
            f"{csv_path}: no emotion column; give any of {', '.join(TARGET_COLUMNS)}"
        )
    rows = [r for r in rows if not any(r.get(c, "").lower() == "excluded" for c in SPLIT_COLUMNS)]
    if not rows:
        raise DatasetError(f"{csv_path}: no rows")
    base = csv_path.parent
    paths, lyrics, strata = [], [], []
    targets: dict[str, list[float]] = {}
    kinds: dict[str, bool] = {}

    def put(name: str, i: int, value: float, binary: bool, row: int) -> None:
        if name in kinds and kinds[name] != binary:
            raise DatasetError(f"row {row}: {name} mixes class words and numbers")
        kinds[name] = binary
        targets.setdefault(name, [math.nan] * len(rows))[i] = value

    for i, r in enumerate(rows):
        row = i + 2  # the header is line 1
        if not r["path"]:
            raise DatasetError(f"row {row}: empty path")
        p = (base / r["path"]).resolve()
        if not p.is_file():
            raise DatasetError(f"row {row}: audio file {p} not found")
        paths.append(p)
        for g in GEMS_COLUMNS:
            if r.get(g):
                put(g, i, _number(r[g], g, row, 0.0, 1.0), False, row)
        for column, target in (("valence", "valence"), ("polarity", "valence"),
                               ("arousal", "arousal")):  # fmt: skip
            if r.get(column):
                value, binary = _polar(r[column], column, row)
                put(target, i, value, binary, row)
        for column in ("quadrant", "category"):
            if r.get(column):
                key = r[column].lower()
                if key not in _QUADRANTS:
                    raise DatasetError(
                        f"row {row}: {column} {r[column]!r} is not one of "
                        "Q1-Q4, happy, tense, angry, sad, calm, relaxed"
                    )
                v, a = _QUADRANTS[key]
                put("valence", i, v, True, row)
                put("arousal", i, a, True, row)
        text = r.get("lyrics") or None
        if r.get("lyrics_path"):
            lp = base / r["lyrics_path"]
            try:
                text = lp.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as err:
                raise DatasetError(f"row {row}: cannot read lyrics {lp}: {err}") from err
        lyrics.append(text)
        strata.append(r.get("quadrant") or r.get("category") or r.get("genre") or "")
    group_column = next((c for c in GROUP_COLUMNS if c in columns), None)
    values = [r.get(group_column, "") for r in rows] if group_column else [""] * len(rows)
    if group_column is None and all(re.fullmatch(r"\d+", p.stem) for p in paths):
        groups = np.array([f"{p.parent}:{(int(p.stem) - 1) // NUMBER_BLOCK}" for p in paths])
        group_source = f"number-blocks-{NUMBER_BLOCK}"
    else:
        groups, group_source = assign_groups(paths, values, group_column)
    return EmotionLabels(
        paths=paths, groups=np.asarray(groups), group_source=group_source,
        targets={k: np.asarray(v, dtype=np.float64) for k, v in targets.items()},
        binary={k for k, b in kinds.items() if b}, lyrics=lyrics,
        strata=np.asarray(strata), source=str(csv_path),
    )  # fmt: skip
