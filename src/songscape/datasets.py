"""Training data: labelled file lists, grouped splits and a decoded-audio cache.

Labels
------
:func:`read_labels` reads a CSV with a ``path`` column (paths relative to the CSV's
folder) and a label column:

* single label (``genre``, ``artist`` tasks): one class per row, the column named by
  ``label_column`` (default: ``label``, else the task's own name, ``genre``/``artist``);
* multi-label (``tags`` task): either one column of ``tag1;tag2`` strings, or -- with no
  label column -- every column whose values are all ``0``/``1`` (one-hot).

Rows whose ``split`` or ``fault_filtered_split`` column says ``excluded`` are dropped
(GTZAN's fault-filtered split marks 7 of ``gtzan_subset100``'s 100 clips so). Rows with
an empty label are skipped and counted. :func:`library_labels` builds the same kind of
set from a songscape library's own metadata (its ``genre`` or ``artist`` tags), and
:func:`scan_audio` an unlabelled one from a folder (for ``moco``/``tjae``).

Groups
------
Items of one group never fall on both sides of a split: the ``group`` column, else
``album``/``recording``/``artist`` (not ``artist`` for the artist task, whose classes are
artists), else GTZAN blocks (:func:`~songscape.evaluation.metrics.gtzan_groups`) when every
file is named ``genre.NNNNN``, else every file is its own group.

Cache
-----
:class:`AudioCache` decodes each file once (:func:`~songscape.audio.decode.load_audio`,
mono, at the encoder's rate) into one append-only float16 memory-mapped file plus a JSON
index (offset, length per key); the key hashes the resolved path, mtime, size and sample
rate, so an edited file is decoded again. Raw waveform, not a spectrogram, is cached:
the front-ends are part of the models (the harmonic filterbank is learnable, sample-level
models take samples), waveform augmentations (pitch shift, time stretch) need audio, and
the STFT of a 4 s chunk is cheap next to the network.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from songscape.errors import DatasetError

#: Columns that say a row is not part of the data set.
SPLIT_COLUMNS = ("split", "fault_filtered_split")
#: Columns holding a group (tried in this order).
GROUP_COLUMNS = ("group", "album", "recording", "artist")
#: Columns never taken as one-hot tag columns.
RESERVED_COLUMNS = {"path", *SPLIT_COLUMNS, *GROUP_COLUMNS}
AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".aiff",
                    ".aif", ".wma", ".alac", ".au"}  # fmt: skip

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
    groups, group_source = _groups(paths, group_values, group_column)
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


#: Items per block of consecutive GTZAN ids treated as one group (see :func:`gtzan_groups`).
GTZAN_BLOCK = 5
_GTZAN_NAME = re.compile(r"(?P<genre>[a-z]+)[._](?P<id>\d{5})")


# ---- grouping -----------------------------------------------------------------------------


def gtzan_groups(names: Sequence[str | os.PathLike[str]], block: int = GTZAN_BLOCK) -> np.ndarray:
    """Group GTZAN clips into blocks of consecutive ids within each genre.

    GTZAN's ids run in artist/album blocks (Sturm 2013): ``blues.00000``-``00011`` are
    all John Lee Hooker, and neighbouring ids are often excerpts of the same album or
    even the same recording. Splitting such clips between training and test, or
    letting one be the other's nearest neighbour, rewards recognising the recording,
    not the genre. Clip ``genre.NNNNN`` gets the group ``"genre:NNNNN // block"``: with
    the default ``block=5`` the subset of ids 0-9 has two groups per genre (0-4, 5-9).

    This removes the closest (same album / same recording) leakage but not all artist
    leakage: within ids 0-9 some genres are one artist throughout, and a genre with
    a single artist cannot be split by artist at all. Figures computed with these
    groups are therefore still optimistic relative to an artist-filtered split.

    Parameters
    ----------
    names : sequence of str or path-like
        Clip names or paths containing ``genre.NNNNN`` (e.g. ``"audio/blues/blues.00003.ogg"``).
    block : int
        Consecutive ids per group.

    Returns
    -------
    np.ndarray of str, shape (len(names),)
    """
    if block < 1:
        raise ValueError(f"block must be positive, got {block}")
    groups = []
    for name in names:
        match = _GTZAN_NAME.search(Path(name).name)
        if match is None:
            raise ValueError(f"not a GTZAN clip name (genre.NNNNN): {name!r}")
        groups.append(f"{match['genre']}:{int(match['id']) // block}")
    return np.asarray(groups)




def _groups(paths: list[Path], values: list[str], column: str | None) -> tuple[np.ndarray, str]:
    if column and all(values):
        return np.asarray(values), f"column:{column}"
    try:
        return gtzan_groups(paths), "gtzan-blocks"
    except ValueError:
        pass
    if column and any(values):  # partly filled: fall back to the file where it is empty
        return np.asarray([v or str(p) for v, p in zip(values, paths, strict=True)]), \
            f"column:{column}+file"  # fmt: skip
    return np.asarray([str(p) for p in paths]), "file"


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
    groups, source = _groups(paths, [""] * len(paths), None)
    return LabelSet(paths=paths, labels=[()] * len(paths), groups=groups, classes=(),
                    source=str(root), group_source=source)  # fmt: skip


def track_labels(tracks: Sequence[dict], field_name: str = "genre", source: str = "library"
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
    groups, group_source = _groups(paths, values, group_field)
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


# ---- splits -------------------------------------------------------------------------------


def grouped_folds(
    labelset: LabelSet, n_folds: int, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n_folds`` (train, held-out) index pairs; a group is never on both sides.

    Single-label sets use :class:`~sklearn.model_selection.StratifiedGroupKFold` (shuffled
    with ``seed``), others (and sets too small to stratify) :class:`~sklearn.model_selection.
    GroupKFold` over a seeded permutation of the groups.
    """
    from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

    n = len(labelset)
    n_groups = len(np.unique(labelset.groups))
    if n_folds < 2:
        raise DatasetError(f"need at least 2 folds, got {n_folds}")
    if n_groups < n_folds:
        raise DatasetError(f"{n_groups} groups cannot fill {n_folds} folds")
    X = np.zeros((n, 1))
    stratify = labelset.labelled and not labelset.multilabel
    if stratify:  # sklearn needs some class with at least n_folds members to stratify
        stratify = int(np.bincount(labelset.class_index()).max()) >= n_folds
    if stratify:
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        splits = splitter.split(X, labelset.class_index(), labelset.groups)
    else:
        # GroupKFold has no shuffle in older sklearn: relabel groups in a seeded order.
        uniq = np.unique(labelset.groups)
        perm = np.random.default_rng(seed).permutation(len(uniq))
        relabel = dict(zip(uniq, perm, strict=True))
        groups = np.array([relabel[g] for g in labelset.groups])
        splits = GroupKFold(n_splits=n_folds).split(X, groups=groups)
    return [(np.sort(a), np.sort(b)) for a, b in splits]


def train_valid_split(
    labelset: LabelSet, valid_fraction: float = 0.2, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Grouped train/validation indices that never take a class out of training.

    Single-label sets: whole groups, in a seeded order, move to validation while the
    validation part holds fewer than ``valid_fraction`` of the items, but only groups
    whose class keeps at least one other group in training. A class with a single
    group therefore stays in training only; without that rule a small set (GTZAN's
    2 groups per genre) loses classes to validation, the validation loss of those
    classes rises from the first epoch and early stopping fires at once. When no
    group can move, the validation part is empty (training then monitors its own
    loss). Other sets: one fold of ``round(1 / valid_fraction)`` grouped folds.
    ``valid_fraction=0`` puts everything in train.
    """
    if not 0 <= valid_fraction < 1:
        raise DatasetError(f"valid fraction must be in [0, 1), got {valid_fraction}")
    n = len(labelset)
    if valid_fraction == 0:
        return np.arange(n), np.arange(0)
    groups = np.asarray(labelset.groups)
    uniq = np.unique(groups)
    if labelset.labelled and not labelset.multilabel:
        classes = labelset.class_index()
        # a group's class: its most common one (groups are nearly always pure)
        group_class = {g: int(np.bincount(classes[groups == g]).argmax()) for g in uniq}
        left = np.bincount(list(group_class.values()))
        valid_groups: list = []
        taken = 0
        for j in np.random.default_rng(seed).permutation(len(uniq)):
            g = uniq[j]
            size = int(np.sum(groups == g))
            if taken >= valid_fraction * n:
                break
            if left[group_class[g]] > 1 and taken + size <= 1.5 * valid_fraction * n:
                valid_groups.append(g)
                left[group_class[g]] -= 1
                taken += size
        in_valid = np.isin(groups, valid_groups)
        return np.flatnonzero(~in_valid), np.flatnonzero(in_valid)
    n_folds = max(2, int(round(1 / valid_fraction)))
    n_folds = min(n_folds, len(uniq))
    if n_folds < 2:
        raise DatasetError("need at least 2 groups to hold out a validation set")
    train, valid = grouped_folds(labelset, n_folds, seed)[0]
    return train, valid


# ---- decoded audio cache ------------------------------------------------------------------


def file_key(path: str | os.PathLike[str], sample_rate: int) -> str:
    """A hash of the resolved path, mtime, size and sample rate (changes when the file does)."""
    p = Path(path).resolve()
    st = p.stat()
    text = f"{p}|{st.st_mtime_ns}|{st.st_size}|{int(sample_rate)}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def _write_json_atomic(path: Path, value: Any) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value))
    os.replace(tmp, path)


class AudioCache:
    """Decoded mono audio at one sample rate: ``audio-<sr>.f16`` + ``index-<sr>.json``.

    The data file is raw little-endian float16, appended to; the index maps a
    :func:`file_key` to ``{"offset", "length", "path"}`` in samples. Reads are
    memory-mapped views, so epochs never decode again and memory stays small.
    """

    DTYPE = np.dtype("<f2")

    def __init__(self, root: str | os.PathLike[str], sample_rate: int):
        self.root = Path(root).expanduser()
        self.sample_rate = int(sample_rate)
        self.data_path = self.root / f"audio-{self.sample_rate}.f16"
        self.index_path = self.root / f"index-{self.sample_rate}.json"
        self._lock = threading.Lock()
        self._map: np.memmap | None = None
        self.index: dict[str, dict] = {}
        if self.index_path.is_file():
            try:
                self.index = json.loads(self.index_path.read_text())
            except (OSError, ValueError):
                self.index = {}
        self.decoded = 0  # files decoded by this instance (for tests and reports)

    def _valid(self, entry: dict) -> bool:
        size = self.data_path.stat().st_size if self.data_path.is_file() else 0
        return (entry["offset"] + entry["length"]) * self.DTYPE.itemsize <= size

    def ensure(
        self,
        paths: Sequence[str | os.PathLike[str]],
        progress: Any = None,
        max_duration_s: float | None = 1800.0,
    ) -> list[str]:
        """Decode the files not cached yet; returns the key of every path (in order).

        Raises
        ------
        DatasetError
            A file cannot be decoded (the message names it).
        """
        from songscape.audio.decode import AudioError, load_audio

        keys = [file_key(p, self.sample_rate) for p in paths]
        todo = [(k, p) for k, p in zip(keys, paths, strict=True)
                if k not in self.index or not self._valid(self.index[k])]  # fmt: skip
        if progress is not None:
            progress.phase("decode", len(todo))
        if not todo:
            return keys
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._map = None
            with open(self.data_path, "ab") as fh:
                offset = fh.tell() // self.DTYPE.itemsize
                for key, path in todo:
                    try:
                        y, _ = load_audio(path, sr=self.sample_rate, mono=True,
                                          max_duration_s=max_duration_s)  # fmt: skip
                    except AudioError as err:
                        raise DatasetError(f"{path}: {err}") from err
                    data = np.ascontiguousarray(y, dtype=self.DTYPE)
                    fh.write(data.tobytes())
                    self.index[key] = {"offset": int(offset), "length": int(len(data)),
                                       "path": str(path)}  # fmt: skip
                    offset += len(data)
                    self.decoded += 1
                    if progress is not None:
                        progress.advance(1)
            _write_json_atomic(self.index_path, self.index)
        return keys

    def get(self, key: str) -> np.ndarray:
        """The cached samples (a read-only float16 memmap view)."""
        if self._map is None:
            self._map = np.memmap(self.data_path, dtype=self.DTYPE, mode="r")
        entry = self.index[key]
        return self._map[entry["offset"] : entry["offset"] + entry["length"]]


class FeatureCache:
    """Per-file arrays computed by a model (e.g. musicnn per-patch embeddings).

    One ``.npz`` per ``name`` (model name + version), keyed by :func:`file_key`; small
    sets only (everything is loaded at once).
    """

    def __init__(self, root: str | os.PathLike[str], name: str):
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
        self.path = Path(root).expanduser() / "features" / f"{safe}.npz"
        self.arrays: dict[str, np.ndarray] = {}
        if self.path.is_file():
            try:
                with np.load(self.path) as data:
                    self.arrays = {k: data[k] for k in data.files}
            except (OSError, ValueError):
                self.arrays = {}
        self.computed = 0

    def ensure(
        self,
        keys: Sequence[str],
        compute: Callable[[int], np.ndarray],
        progress: Any = None,
        phase: str = "embed",
    ) -> list[np.ndarray]:
        """The array per key, calling ``compute(i)`` for the missing ones."""
        todo = [i for i, k in enumerate(keys) if k not in self.arrays]
        if progress is not None:
            progress.phase(phase, len(todo))
        for i in todo:
            self.arrays[keys[i]] = np.asarray(compute(i), dtype=np.float32)
            self.computed += 1
            if progress is not None:
                progress.advance(1)
        if todo:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp.npz")
            np.savez(tmp, **self.arrays)
            os.replace(tmp, self.path)
        return [self.arrays[k] for k in keys]
