"""Training data: labelled file lists, grouped splits and caches of decoded audio.

* :mod:`~songscape.datasets.labels`: :class:`LabelSet` (files, labels, groups) and the
  ways to make one — :func:`read_labels` (a CSV), :func:`track_labels` (a library's own
  metadata), :func:`scan_audio` (a folder, unlabelled); the task names.
* :mod:`~songscape.datasets.groups`: which items must stay together in a split
  (a group column, GTZAN blocks via :func:`gtzan_groups`, else each file alone).
* :mod:`~songscape.datasets.splits`: :func:`grouped_folds` and :func:`train_valid_split`.
* :mod:`~songscape.datasets.caches`: :class:`AudioCache` (each file decoded once) and
  :class:`FeatureCache` (each file embedded once), keyed by :func:`file_key`.
"""

from __future__ import annotations

from songscape.datasets.caches import AudioCache, FeatureCache, file_key
from songscape.datasets.groups import GTZAN_BLOCK, assign_groups, gtzan_groups
from songscape.datasets.labels import (
    AUDIO_EXTENSIONS,
    GROUP_COLUMNS,
    MULTI_LABEL_TASKS,
    RESERVED_COLUMNS,
    SINGLE_LABEL_TASKS,
    SPLIT_COLUMNS,
    TASKS,
    UNLABELLED_TASKS,
    LabelSet,
    read_labels,
    scan_audio,
    track_labels,
)
from songscape.datasets.splits import grouped_folds, train_valid_split
from songscape.errors import DatasetError

__all__ = [
    "AUDIO_EXTENSIONS",
    "GROUP_COLUMNS",
    "GTZAN_BLOCK",
    "MULTI_LABEL_TASKS",
    "RESERVED_COLUMNS",
    "SINGLE_LABEL_TASKS",
    "SPLIT_COLUMNS",
    "TASKS",
    "UNLABELLED_TASKS",
    "AudioCache",
    "DatasetError",
    "FeatureCache",
    "LabelSet",
    "assign_groups",
    "file_key",
    "grouped_folds",
    "gtzan_groups",
    "read_labels",
    "scan_audio",
    "track_labels",
    "train_valid_split",
]
