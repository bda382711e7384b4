"""Labelled (or unlabelled) file lists: :class:`LabelSet` and the three ways to make one.

:func:`read_labels` reads a CSV with a ``path`` column (paths relative to the CSV's
folder) and a label column:

* single label (``genre``, ``artist`` tasks): one class per row, the column named by
  ``label_column`` (default: ``label``, else the task's own name, ``genre``/``artist``);
* multi-label (``tags`` task): either one column of ``tag1;tag2`` strings, or -- with no
  label column -- every column whose values are all ``0``/``1`` (one-hot).

Rows whose ``split`` or ``fault_filtered_split`` column says ``excluded`` are dropped
(GTZAN's fault-filtered split marks 7 of ``gtzan_subset100``'s 100 clips so). Rows with
an empty label are skipped and counted. :func:`track_labels` builds the same kind of
set from a songscape library's own metadata (its ``genre`` or ``artist`` tags), and
:func:`scan_audio` an unlabelled one from a folder (for ``moco``/``tjae``). Groups are
chosen by :func:`songscape.datasets.groups.assign_groups`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from songscape.audio.info import AUDIO_EXTENSIONS
from songscape.datasets.groups import assign_groups
from songscape.errors import DatasetError

__all__ = [
    "AUDIO_EXTENSIONS",
    "GROUP_COLUMNS",
    "MULTI_LABEL_TASKS",
    "RESERVED_COLUMNS",
    "SINGLE_LABEL_TASKS",
    "SPLIT_COLUMNS",
    "TASKS",
    "UNLABELLED_TASKS",
    "LabelSet",
    "read_labels",
    "scan_audio",
    "track_labels",
]

#: Columns that say a row is not part of the data set.
SPLIT_COLUMNS = ("split", "fault_filtered_split")
#: Columns holding a group (tried in this order).
GROUP_COLUMNS = ("group", "album", "recording", "artist")
#: Columns never taken as one-hot tag columns.
RESERVED_COLUMNS = {"path", *SPLIT_COLUMNS, *GROUP_COLUMNS}

SINGLE_LABEL_TASKS = ("genre", "classification", "artist")
MULTI_LABEL_TASKS = ("tags",)
UNLABELLED_TASKS = ("moco", "tjae")
TASKS = (*SINGLE_LABEL_TASKS, *MULTI_LABEL_TASKS, *UNLABELLED_TASKS)


@dataclass
class LabelSet:
    """Files with their labels and groups.

    Attributes
    ----------
    paths : list of Path
        Resolved audio paths.
    labels : list of tuple of str
        Per item: one class (single label), any number (multi-label), none (unlabelled).
    groups : np.ndarray of str
        Group per item.
    classes : tuple of str
        Sorted class (tag) names.
    multilabel : bool
    source, label_column, group_source : str
        Where the set came from, for the record.
    skipped : dict of str to int
        Rows dropped and why (``excluded``, ``unlabelled``).
    """

    paths: list[Path]
    labels: list[tuple[str, ...]]
    groups: np.ndarray
    classes: tuple[str, ...]
    multilabel: bool = False
    source: str = ""
    label_column: str | None = None
    group_source: str = "file"
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def labelled(self) -> bool:
        return bool(self.classes)

    def class_index(self) -> np.ndarray:
        """Single-label targets, shape (n,), int64 index into :attr:`classes`."""
        lookup = {c: i for i, c in enumerate(self.classes)}
        return np.array([lookup[lab[0]] for lab in self.labels], dtype=np.int64)

    def multi_hot(self) -> np.ndarray:
        """Multi-label targets, shape (n, n_classes), float32 0/1."""
        lookup = {c: i for i, c in enumerate(self.classes)}
        out = np.zeros((len(self), len(self.classes)), dtype=np.float32)
        for row, labs in enumerate(self.labels):
            for lab in labs:
                out[row, lookup[lab]] = 1.0
        return out

    def single_labels(self) -> np.ndarray:
        """The class name per item (single-label sets)."""
        return np.array([lab[0] if lab else "" for lab in self.labels])

    def subset(self, index: Sequence[int] | np.ndarray) -> LabelSet:
        index = [int(i) for i in index]
        return LabelSet(
            paths=[self.paths[i] for i in index],
            labels=[self.labels[i] for i in index],
            groups=self.groups[index] if len(index) else self.groups[:0],
            classes=self.classes,
            multilabel=self.multilabel,
            source=self.source,
            label_column=self.label_column,
            group_source=self.group_source,
            skipped=dict(self.skipped),
        )


def _default_label_column(columns: list[str], task: str) -> str | None:
    for name in ("label", "labels", "tags" if task == "tags" else None, task,
                 "genre" if task == "classification" else None):  # fmt: skip
        if name and name in columns:
            return name
    return None


def read_labels(
    csv_path: str | os.PathLike[str],
    task: str = "genre",
    label_column: str | None = None,
    group_column: str | None = None,
    check_files: bool = True,
) -> LabelSet:
    """Read a labels CSV (see the module docstring for the accepted layouts).

    Parameters
    ----------
    csv_path : path
    task : str
        One of :data:`TASKS`; ``tags`` reads multi-label rows, ``moco``/``tjae`` ignore
        labels (any labels present are kept for evaluation).
    label_column, group_column : str or None
        Override the label / group column.
    check_files : bool
        Raise if a listed file does not exist.

    Raises
    ------
    DatasetError
        Missing/unreadable CSV, no ``path`` column, unknown label column, missing files,
        fewer than 2 classes.
    """
    if task not in TASKS:
        raise DatasetError(f"unknown task {task!r}; choose from {', '.join(TASKS)}")
    csv_path = Path(csv_path).expanduser()
    if not csv_path.is_file():
        raise DatasetError(f"no such labels file: {csv_path}")
    try:
        with csv_path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            rows = [{(k or "").strip(): (v or "").strip() if isinstance(v, str) else v
                     for k, v in row.items()} for row in reader]  # fmt: skip
    except (UnicodeDecodeError, csv.Error) as err:
        raise DatasetError(f"{csv_path}: not a readable CSV file ({err})") from err
    if "path" not in columns:
        raise DatasetError(
            f"{csv_path}: needs a 'path' column (and a label column); found columns: "
            f"{', '.join(columns) or 'none'}"
        )
    if not rows:
        raise DatasetError(f"{csv_path}: no rows")
    for line, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise DatasetError(f"{csv_path}, line {line}: wrong number of fields")

    skipped = {"excluded": 0, "unlabelled": 0}
    kept = []
    for row in rows:
        if any(row.get(c, "").lower() == "excluded" for c in SPLIT_COLUMNS):
            skipped["excluded"] += 1
        else:
            kept.append(row)

    multilabel = task == "tags"
    one_hot_columns: list[str] = []
    if label_column is not None:
        if label_column not in columns:
            raise DatasetError(
                f"{csv_path}: no column {label_column!r}; columns: {', '.join(columns)}"
            )
    elif task in UNLABELLED_TASKS:
        label_column = _default_label_column(columns, "genre")
    else:
        label_column = _default_label_column(columns, task)
        if label_column is None and multilabel:
            one_hot_columns = [
                c for c in columns
                if c not in RESERVED_COLUMNS
                and all(r.get(c, "") in ("0", "1", "0.0", "1.0") for r in kept)
            ]  # fmt: skip
            if not one_hot_columns:
                raise DatasetError(
                    f"{csv_path}: no label column ('label', 'tags') and no 0/1 tag columns; "
                    "name one with --label-column"
                )
        elif label_column is None:
            raise DatasetError(
                f"{csv_path}: no label column for task {task!r} (looked for 'label' and "
                f"{task!r}); name one with --label-column. Columns: {', '.join(columns)}"
            )

    base = csv_path.parent
    paths: list[Path] = []
    labels: list[tuple[str, ...]] = []
    group_values: list[str] = []
    if group_column is not None and group_column not in columns:
        raise DatasetError(f"{csv_path}: no group column {group_column!r}")
    if group_column is None:
        candidates = [c for c in GROUP_COLUMNS if c in columns and c != label_column]
        if task == "artist":
            candidates = [c for c in candidates if c != "artist"]
        group_column = candidates[0] if candidates else None
    missing = []
    for row in kept:
        if one_hot_columns:
            labs = tuple(c for c in one_hot_columns if row[c] in ("1", "1.0"))
        elif label_column is None:
            labs = ()
        else:
            value = row.get(label_column, "")
            labs = tuple(dict.fromkeys(t.strip() for t in value.split(";") if t.strip())) \
                if multilabel else ((value,) if value else ())  # fmt: skip
        if task not in UNLABELLED_TASKS and not labs and not multilabel:
            skipped["unlabelled"] += 1
            continue
        if not row["path"]:
            raise DatasetError(f"{csv_path}: a row has an empty path")
        path = Path(row["path"]).expanduser()
        path = (path if path.is_absolute() else base / path).resolve()
        if check_files and not path.is_file():
            missing.append(str(path))
        paths.append(path)
        labels.append(labs if task not in UNLABELLED_TASKS or label_column else ())
        group_values.append(row.get(group_column, "") if group_column else "")
    if missing:
        more = f" (and {len(missing) - 3} more)" if len(missing) > 3 else ""
        raise DatasetError(f"{csv_path}: missing audio file(s): {', '.join(missing[:3])}{more}")
    if not paths:
        raise DatasetError(f"{csv_path}: no usable rows")
    groups, group_source = assign_groups(paths, group_values, group_column)
    classes = tuple(sorted({lab for labs in labels for lab in labs}))
    result = LabelSet(
        paths=paths,
        labels=labels,
        groups=groups,
        classes=classes,
        multilabel=multilabel,
        source=str(csv_path.resolve()),
        label_column=label_column or ("one-hot" if one_hot_columns else None),
        group_source=group_source,
        skipped=skipped,
    )
    if task not in UNLABELLED_TASKS and len(classes) < 2:
        raise DatasetError(f"{csv_path}: need at least 2 classes, found {list(classes)}")
    return result


def scan_audio(folder: str | os.PathLike[str]) -> LabelSet:
    """Every audio file under ``folder`` (recursive), unlabelled, each its own group
    (GTZAN blocks when every file is GTZAN-named)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise DatasetError(f"no such folder: {root}")
    paths = sorted(p.resolve() for p in root.rglob("*")
                   if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)  # fmt: skip
    if not paths:
        raise DatasetError(f"no audio files under {root}")
    groups, source = assign_groups(paths, [""] * len(paths), None)
    return LabelSet(paths=paths, labels=[()] * len(paths), groups=groups, classes=(),
                    source=str(root), group_source=source)  # fmt: skip


def track_labels(
    tracks: Sequence[dict], field_name: str = "genre", source: str = "library"
) -> LabelSet:
    """A label set from a library's own track metadata (``Library.tracks()`` dicts): its
    ``genre`` or ``artist``.

    Tracks with status ``ok`` and a non-empty value are kept; classes with fewer than 2
    tracks are dropped. For ``genre`` the groups are the artists (else the files); for
    ``artist`` the albums.
    """
    if field_name not in ("genre", "artist"):
        raise DatasetError(f"library labels are 'genre' or 'artist', not {field_name!r}")
    tracks = [t for t in tracks if t.get("status", "ok") == "ok"]
    rows = [t for t in tracks if (t.get(field_name) or "").strip()]
    counts: dict[str, int] = {}
    for t in rows:
        counts[t[field_name].strip()] = counts.get(t[field_name].strip(), 0) + 1
    rows = [t for t in rows if counts[t[field_name].strip()] >= 2]
    if len({t[field_name].strip() for t in rows}) < 2:
        raise DatasetError(f"the library has fewer than 2 {field_name} values with 2+ tracks each")
    paths = [Path(t["path"]) for t in rows]
    group_field = "album" if field_name == "artist" else "artist"
    values = [(t.get(group_field) or "").strip() for t in rows]
    groups, group_source = assign_groups(paths, values, group_field)
    labels = [(t[field_name].strip(),) for t in rows]
    return LabelSet(
        paths=paths,
        labels=labels,
        groups=groups,
        classes=tuple(sorted({lab[0] for lab in labels})),
        source=source,
        label_column=field_name,
        group_source=group_source,
        skipped={"unlabelled": len(tracks) - len(rows)},
    )
