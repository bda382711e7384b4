"""Segment-level vectors: a track's per-patch embeddings pooled over fixed windows.

A model embeds a track patch by patch (musicnn: 3 s patches, no overlap) and stores the
mean over all patches as the *track* vector. A *window* vector is the same mean taken
over the patches of one stretch of the track, so a clip can be compared with the part of
a song it resembles instead of with the song's average (issue 20).

Windows are :data:`WINDOW_S` seconds long and start every :data:`WINDOW_HOP_S` seconds
(0, 5, 10, ... s). A patch belongs to every window that holds its centre; with musicnn's
3 s patches a 10 s window therefore pools 3 or 4 patches (9-12 s of audio) and each patch
falls in two windows; a last window holding only patches of the one before is dropped.
A track shorter than one window gets one window (all its patches). No second network
pass is needed: the windows come from the patch vectors the track vector is the mean of.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: Seconds of track per window: about one 10 s clip, the length people query with.
WINDOW_S = 10.0
#: Seconds between window starts: half a window, so a clip anywhere in the track is
#: covered at least half by one window's span.
WINDOW_HOP_S = 5.0


@dataclass(frozen=True)
class Windows:
    """The window vectors of one track.

    Attributes
    ----------
    starts_s : np.ndarray, shape (n,), float32
        Start of each window in seconds.
    vectors : np.ndarray, shape (n, dim), float32
        Mean patch embedding per window (not normalised).
    window_s, hop_s : float
        Window length and hop in seconds.
    """

    starts_s: np.ndarray
    vectors: np.ndarray
    window_s: float = WINDOW_S
    hop_s: float = WINDOW_HOP_S

    @property
    def n(self) -> int:
        return int(len(self.starts_s))


def window_vectors(
    patch_vectors: np.ndarray,
    patch_times_s: np.ndarray,
    patch_duration_s: float,
    window_s: float = WINDOW_S,
    hop_s: float = WINDOW_HOP_S,
) -> Windows:
    """Pool per-patch embeddings into overlapping windows.

    Parameters
    ----------
    patch_vectors : np.ndarray, shape (n_patches, dim)
        One embedding per patch (the model's embedding layer, before track pooling).
    patch_times_s : np.ndarray, shape (n_patches,)
        Start of each patch in seconds.
    patch_duration_s : float
        Length of one patch in seconds.
    window_s : float
        Window length in seconds (> 0).
    hop_s : float
        Seconds between window starts (> 0).

    Returns
    -------
    Windows
        Windows starting at ``0, hop_s, 2 hop_s, ...`` that hold at least one patch centre;
        a window's vector is the mean of the patches whose centre lies in
        ``[start, start + window_s)``. One window at 0 s when the track is shorter than
        ``window_s``; none when there are no patches.

    Raises
    ------
    ValueError
        Non-positive ``window_s``/``hop_s``, or patch times and vectors of different
        lengths.
    """
    if window_s <= 0 or hop_s <= 0:
        raise ValueError(f"window and hop must be positive (got {window_s}, {hop_s})")
    x = np.asarray(patch_vectors, dtype=np.float32)
    times = np.asarray(patch_times_s, dtype=np.float64)
    if x.ndim != 2 or len(times) != len(x):
        raise ValueError(
            f"{len(times)} patch times for patch vectors of shape {x.shape}: they must match"
        )
    if len(x) == 0:
        return Windows(np.zeros(0, np.float32), np.zeros((0, x.shape[1]), np.float32),
                       window_s, hop_s)  # fmt: skip
    centres = times + patch_duration_s / 2.0
    starts: list[float] = []
    vectors: list[np.ndarray] = []
    previous = np.zeros(len(x), dtype=bool)
    for i in range(math.floor(float(centres.max()) / hop_s) + 1):
        start = i * hop_s
        inside = (centres >= start) & (centres < start + window_s)
        if i == 0 and not inside.any():  # a first patch longer than a window
            inside = centres == centres.min()
        # A window whose patches all lie in the previous one adds nothing (the tail).
        if not (inside & ~previous).any():
            continue
        previous = inside
        starts.append(start)
        vectors.append(x[inside].mean(axis=0))
    return Windows(np.asarray(starts, np.float32), np.stack(vectors).astype(np.float32),
                   window_s, hop_s)  # fmt: skip


__all__ = ["WINDOW_HOP_S", "WINDOW_S", "Windows", "window_vectors"]
