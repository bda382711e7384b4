"""Groups: items that must stay on one side of any split (same album, artist or recording).

:func:`assign_groups` picks a label set's groups: the ``group`` column, else
``album``/``recording``/``artist`` (the caller leaves ``artist`` out for the artist task,
whose classes are artists), else GTZAN blocks (:func:`gtzan_groups`) when every file is
named ``genre.NNNNN``, else every file is its own group.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["GTZAN_BLOCK", "assign_groups", "gtzan_groups"]

#: Items per block of consecutive GTZAN ids treated as one group (see :func:`gtzan_groups`).
GTZAN_BLOCK = 5
_GTZAN_NAME = re.compile(r"(?P<genre>[a-z]+)[._](?P<id>\d{5})")


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


def assign_groups(
    paths: Sequence[Path], values: Sequence[str], column: str | None
) -> tuple[np.ndarray, str]:
    """The group of each item, and where the groups came from.

    Parameters
    ----------
    paths : sequence of Path
        The items' files.
    values : sequence of str
        The items' values in the group column ("" where empty).
    column : str or None
        Name of the group column (None: there is none).

    Returns
    -------
    groups : np.ndarray of str, shape (len(paths),)
    source : str
        ``"column:<name>"`` (every value filled), ``"gtzan-blocks"`` (every file named
        ``genre.NNNNN``), ``"column:<name>+file"`` (partly filled: the file where
        empty) or ``"file"`` (each file its own group).
    """
    if column and all(values):
        return np.asarray(values), f"column:{column}"
    if all(_GTZAN_NAME.search(Path(p).name) for p in paths):
        return gtzan_groups(paths), "gtzan-blocks"
    if column and any(values):  # partly filled: fall back to the file where it is empty
        return np.asarray([v or str(p) for v, p in zip(values, paths, strict=True)]), \
            f"column:{column}+file"  # fmt: skip
    return np.asarray([str(p) for p in paths]), "file"
