"""Musical structure of one track: sections with repeat labels, and the chorus candidate.

The segmentation follows McFee & Ellis (2014), "Analyzing song structure with spectral
clustering" (ISMIR), built from librosa's pieces:

1. beat-synchronous features (:func:`beat_sync_features`): chroma (harmony) and MFCC
   (timbre), one frame per beat; without beats, a fixed grid of
   :data:`FALLBACK_FRAME_S` frames;
2. a recurrence graph (:func:`recurrence_graph`): the chroma affinity recurrence matrix
   smoothed along its diagonals (``timelag_filter`` of a median filter, which keeps
   repeated *sequences*), balanced with a local timbre-similarity path between
   consecutive frames;
3. the normalised Laplacian's first eigenvectors, median-filtered over time, clustered
   with k-means for each k; k is chosen by the largest eigengap (:func:`cluster_frames`);
4. section boundaries where the cluster changes, snapped to the nearest downbeat,
   sections shorter than ``min_section_s`` merged into a neighbour
   (:func:`frames_to_sections`); labels A, B, C… by first appearance, so a repeated
   label marks a repeat;
5. the chorus candidate (:func:`chorus_label`): among the labels that occur at least
   twice, the one whose sections are the loudest and most repeated.

:func:`analyze_structure` runs them all and never raises on odd input: silence, clips
too short for structure and beatless audio give a result with a ``reason``.

Also returned, for highlight selection: a per-frame **repetition** curve (how strongly
each moment recurs later or earlier in the track, from the diagonal-filtered
recurrence) and a **novelty** curve (Foote's checkerboard kernel on the timbre/harmony
self-similarity).
"""

from __future__ import annotations

import string
import warnings
from dataclasses import dataclass, field

import librosa
import numpy as np
import scipy.cluster.vq
import scipy.ndimage
import scipy.sparse.csgraph

#: Hop of the feature STFT, samples (23 ms at 22050 Hz).
HOP_LENGTH = 512
#: Frame length of the fixed grid used when a track has too few beats, seconds.
FALLBACK_FRAME_S = 0.5
#: Fewest beats for beat-synchronous frames (fewer: fixed grid).
MIN_BEATS = 16
#: Shortest track given a structure analysis, seconds.
MIN_DURATION_S = 8.0
#: RMS (dBFS) below which a track is treated as silent.
SILENCE_DBFS = -60.0
#: Range of cluster counts tried.
MIN_CLUSTERS, MAX_CLUSTERS = 2, 8


@dataclass
class Section:
    """One section: ``[start_s, end_s)`` with its repeat label (``"A"``, ``"B"``…)."""

    start_s: float
    end_s: float
    label: str

    def to_json(self) -> dict:
        return {"start_s": round(self.start_s, 3), "end_s": round(self.end_s, 3),
                "label": self.label}  # fmt: skip


@dataclass
class Structure:
    """The structure of a track.

    Attributes
    ----------
    sections : list of Section
        Contiguous, covering ``[0, duration_s]``.
    chorus : str or None
        Label of the chorus candidate (None when no label repeats).
    frame_times : np.ndarray, shape (n,)
        Start of each analysis frame (beats or the fixed grid), seconds.
    repetition : np.ndarray, shape (n,)
        How strongly each frame recurs elsewhere in the track, 0..1.
    novelty : np.ndarray, shape (n,)
        Boundary novelty per frame, 0..1.
    grid : str
        ``"beats"``, ``"fixed"`` or ``"none"``.
    reason : str or None
        Why the structure is trivial (one section), when it is.
    """

    duration_s: float
    sections: list[Section]
    chorus: str | None
    frame_times: np.ndarray = field(repr=False)
    repetition: np.ndarray = field(repr=False)
    novelty: np.ndarray = field(repr=False)
    grid: str = "beats"
    reason: str | None = None

    @property
    def boundaries_s(self) -> np.ndarray:
        """Section starts and the final end, seconds, shape (n_sections + 1,)."""
        if not self.sections:
            return np.zeros(0)
        return np.array([s.start_s for s in self.sections] + [self.sections[-1].end_s])

    @property
    def label_ids(self) -> np.ndarray:
        """Each section's label as an integer (0 = "A")."""
        return np.array([label_index(s.label) for s in self.sections], dtype=np.int32)

    def chorus_sections(self) -> list[Section]:
        return [s for s in self.sections if self.chorus is not None and s.label == self.chorus]

    def to_json(self) -> dict:
        return {"sections": [s.to_json() for s in self.sections], "chorus": self.chorus,
                "grid": self.grid, "reason": self.reason}  # fmt: skip

    def json_fields(self) -> dict:
        """The fields ``songscape analyze --json`` adds: ``sections``, ``chorus_label``,
        ``structure_grid``, ``structure_reason``."""
        return {"sections": [s.to_json() for s in self.sections], "chorus_label": self.chorus,
                "structure_grid": self.grid, "structure_reason": self.reason}  # fmt: skip


def label_name(index: int) -> str:
    """0 -> "A", 25 -> "Z", 26 -> "A2"…"""
    letters = string.ascii_uppercase
    return letters[index % 26] + (str(index // 26 + 1) if index >= 26 else "")


def label_index(label: str) -> int:
    return string.ascii_uppercase.index(label[0]) + 26 * (int(label[1:]) - 1 if label[1:] else 0)


def sections_from_arrays(boundaries_s: np.ndarray, label_ids: np.ndarray) -> list[Section]:
    """Sections from stored arrays (``boundaries_s`` has one more entry than ``label_ids``)."""
    b = np.asarray(boundaries_s, dtype=float)
    return [Section(float(b[i]), float(b[i + 1]), label_name(int(k)))
            for i, k in enumerate(np.asarray(label_ids))]  # fmt: skip


# -- features ----------------------------------------------------------------------------


def frame_grid(
    beat_times: np.ndarray, duration_s: float, min_beats: int = MIN_BEATS
) -> tuple[np.ndarray, str]:
    """Start times (s) of the analysis frames: the beats when there are enough, else a fixed grid.

    Returns ``(times, "beats" | "fixed")``; the first frame always starts at 0 s.
    """
    beats = np.asarray(beat_times, dtype=float)
    beats = beats[(beats > 0) & (beats < duration_s)]
    if len(beats) >= min_beats:
        return np.concatenate([[0.0], beats]), "beats"
    return np.arange(0.0, duration_s, FALLBACK_FRAME_S), "fixed"


def beat_sync_features(
    y: np.ndarray, sr: int, frame_times: np.ndarray, n_mfcc: int = 13
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chroma, MFCC and RMS (dB) aggregated over the frames starting at ``frame_times``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal.
    sr : int
        Sample rate, Hz.
    frame_times : np.ndarray, shape (n_frames,)
        Frame starts, seconds, increasing, the first at 0.
    n_mfcc : int
        MFCC coefficients.

    Returns
    -------
    chroma : np.ndarray, shape (12, n_frames)
        Median chroma per frame (each STFT frame max-normalised).
    mfcc : np.ndarray, shape (n_mfcc, n_frames)
        Mean MFCC per frame.
    rms_db : np.ndarray, shape (n_frames,)
        Mean RMS energy per frame, dBFS.
    """
    S = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP_LENGTH)) ** 2
    chroma = librosa.feature.chroma_stft(S=S, sr=sr, tuning=0.0)
    mel = librosa.feature.melspectrogram(S=S, sr=sr, n_mels=64)
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=n_mfcc)
    rms = librosa.feature.rms(S=np.sqrt(S), frame_length=2048)[0]
    n = S.shape[1]
    idx = np.unique(np.clip(librosa.time_to_frames(frame_times, sr=sr, hop_length=HOP_LENGTH),
                            0, n - 1))  # fmt: skip
    if len(idx) < len(frame_times):  # frames closer than one hop: keep one per hop
        idx = np.unique(np.concatenate([[0], idx]))
    c_sync = librosa.util.sync(chroma, idx, aggregate=np.median, pad=False)
    m_sync = librosa.util.sync(mfcc, idx, aggregate=np.mean, pad=False)
    r_sync = librosa.util.sync(rms[np.newaxis], idx, aggregate=np.mean, pad=False)[0]
    k = min(c_sync.shape[1], len(frame_times))
    return c_sync[:, :k], m_sync[:, :k], librosa.amplitude_to_db(r_sync[:k], ref=1.0)


# -- recurrence, novelty, clustering ------------------------------------------------------


def recurrence_graph(
    chroma: np.ndarray, mfcc: np.ndarray, width: int = 3, filter_frames: int = 7
) -> tuple[np.ndarray, np.ndarray]:
    """McFee & Ellis' balanced graph, and the diagonal-filtered recurrence it is built from.

    Parameters
    ----------
    chroma : np.ndarray, shape (12, n)
        Beat-synchronous chroma.
    mfcc : np.ndarray, shape (d, n)
        Beat-synchronous MFCC.
    width : int
        Frames around the diagonal excluded from the recurrence (``recurrence_matrix``).
    filter_frames : int
        Length of the diagonal median filter, frames.

    Returns
    -------
    graph : np.ndarray, shape (n, n)
        ``mu * R_filtered + (1 - mu) * R_path`` with mu balancing both degrees.
    recurrence : np.ndarray, shape (n, n)
        The diagonal-filtered recurrence (repeated sequences), 0..1.
    """
    n = chroma.shape[1]
    stacked = stack_delays(chroma, n_steps=3)
    k = max(2, min(n - 1, int(2 * np.ceil(np.sqrt(n)))))
    R = affinity_recurrence(stacked, k=k, width=min(width, max(1, n // 4)))
    Rf = diagonal_median_filter(R, filter_frames)
    path_distance = np.sum(np.diff(mfcc, axis=1) ** 2, axis=0)
    sigma = np.median(path_distance) if np.any(path_distance > 0) else 1.0
    path_sim = np.exp(-path_distance / max(sigma, 1e-12))
    R_path = np.diag(path_sim, k=1) + np.diag(path_sim, k=-1)
    deg_path = R_path.sum(axis=1)
    deg_rec = Rf.sum(axis=1)
    denom = np.sum((deg_path + deg_rec) ** 2)
    mu = deg_path.dot(deg_path + deg_rec) / denom if denom > 0 else 0.5
    return mu * Rf + (1 - mu) * R_path, Rf


def stack_delays(features: np.ndarray, n_steps: int = 3) -> np.ndarray:
    """Each frame stacked with its ``n_steps - 1`` predecessors (edge-padded).

    ``librosa.feature.stack_memory(features, n_steps, mode="edge")`` in plain numpy.
    """
    X = np.asarray(features, dtype=float)
    n = X.shape[1]
    return np.vstack([X[:, np.maximum(np.arange(n) - step, 0)] for step in range(n_steps)])


def diagonal_median_filter(R: np.ndarray, size: int) -> np.ndarray:
    """Median-filter a square matrix along its diagonals (``size`` frames).

    What ``librosa.segment.timelag_filter(scipy.ndimage.median_filter)(R, size=(1, size))``
    does: keeps stripes parallel to the main diagonal (repeated sequences) and removes
    isolated links. Out-of-matrix cells count as 0.
    """
    n = R.shape[0]
    t = np.arange(n)
    cols = t[None, :] + np.arange(-(n - 1), n)[:, None]  # lag-domain: L[lag, t] = R[t, t+lag]
    valid = (cols >= 0) & (cols < n)
    lagged = np.where(valid, R[t[None, :], np.clip(cols, 0, n - 1)], 0.0)
    filtered = scipy.ndimage.median_filter(lagged, size=(1, size), mode="constant")
    out = np.zeros_like(R, dtype=float)
    rows = np.broadcast_to(t[None, :], cols.shape)
    out[rows[valid], cols[valid]] = filtered[valid]
    return out


def affinity_recurrence(features: np.ndarray, k: int, width: int = 3) -> np.ndarray:
    """Mutual k-nearest-neighbour recurrence with Gaussian affinities.

    The same matrix as ``librosa.segment.recurrence_matrix(features, k=k, width=width,
    mode="affinity", sym=True)`` (Euclidean distance, bandwidth the median distance to
    the k-th neighbour), computed densely with numpy, which for the few hundred beats of
    a song avoids the nearest-neighbour index's start-up cost.

    Parameters
    ----------
    features : np.ndarray, shape (d, n)
    k : int
        Neighbours per frame.
    width : int
        Frames with ``|i - j| < width`` are never linked.

    Returns
    -------
    np.ndarray, shape (n, n)
        Symmetric, 0 where not linked, ``exp(-d^2 / (2 sigma^2))``-like weights elsewhere.
    """
    X = np.asarray(features, dtype=float)
    sq = np.sum(X**2, axis=0)
    dist = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * X.T @ X, 0.0))
    n = dist.shape[0]
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    masked = np.where(lag < width, np.inf, dist)
    k = max(1, min(k, n - 1))
    nearest = np.argpartition(masked, k - 1, axis=1)[:, :k]
    links = np.zeros((n, n), dtype=bool)
    links[np.repeat(np.arange(n), k), nearest.ravel()] = True
    links &= links.T & np.isfinite(masked)
    kth = np.take_along_axis(masked, nearest, axis=1).max(axis=1)
    sigma = float(np.median(kth[np.isfinite(kth)])) if np.any(np.isfinite(kth)) else 1.0
    sigma = sigma if sigma > 0 else 1.0
    return np.where(links, np.exp(-dist / sigma), 0.0)


def repetition_curve(recurrence: np.ndarray, min_lag: int = 8) -> np.ndarray:
    """How strongly each frame recurs at least ``min_lag`` frames away, scaled to 0..1."""
    n = recurrence.shape[0]
    lag = np.abs(np.subtract.outer(np.arange(n), np.arange(n)))
    rep = np.where(lag >= min_lag, recurrence, 0.0).sum(axis=1)
    rep = scipy.ndimage.uniform_filter1d(rep, size=min(8, n))
    return _unit(rep)


def novelty_curve(features: np.ndarray, kernel_frames: int = 16) -> np.ndarray:
    """Foote novelty: a Gaussian checkerboard kernel slid along the self-similarity diagonal.

    ``features`` is (d, n); returns (n,) in 0..1.
    """
    X = librosa.util.normalize(features, axis=0, norm=2)
    S = X.T @ X
    n = S.shape[0]
    half = max(2, min(kernel_frames // 2, n // 4))
    sign = np.sign(np.arange(-half, half) + 0.5)
    g = np.exp(-0.5 * (np.arange(-half, half) + 0.5) ** 2 / (0.5 * half) ** 2)
    kernel = np.outer(sign, sign) * np.outer(g, g)
    padded = np.pad(S, half, mode="edge")
    nov = np.array([np.sum(padded[i:i + 2 * half, i:i + 2 * half] * kernel) for i in range(n)])
    return _unit(np.maximum(nov, 0.0))


def cluster_frames(
    graph: np.ndarray, k: int | None = None, seed: int = 0, smooth_frames: int = 9
) -> np.ndarray:
    """Laplacian spectral clustering of the frames (McFee & Ellis 2014).

    Parameters
    ----------
    graph : np.ndarray, shape (n, n)
        Symmetric non-negative affinity.
    k : int or None
        Clusters; None picks the largest eigengap among 2..:data:`MAX_CLUSTERS`.
    seed : int
        k-means seed (10 k-means++ restarts, the lowest inertia kept).
    smooth_frames : int
        Median filter applied to the eigenvectors over time, frames.

    Returns
    -------
    np.ndarray, shape (n,)
        Cluster index of each frame.
    """
    n = graph.shape[0]
    L = scipy.sparse.csgraph.laplacian(graph, normed=True)
    evals, evecs = np.linalg.eigh(L)
    evecs = scipy.ndimage.median_filter(evecs, size=(min(smooth_frames, n), 1))
    hi = min(MAX_CLUSTERS, n - 1)
    if k is None:
        gaps = np.diff(evals[: hi + 1])
        k = int(np.argmax(gaps[MIN_CLUSTERS - 1:hi]) + MIN_CLUSTERS) if hi >= MIN_CLUSTERS else 1
    k = max(1, min(k, n))
    if k == 1:
        return np.zeros(n, dtype=int)
    cnorm = np.cumsum(evecs**2, axis=1) ** 0.5
    X = evecs[:, :k] / np.maximum(cnorm[:, k - 1:k], 1e-12)
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(n, dtype=int), np.inf
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate points: fewer distinct clusters is fine
        for _ in range(10):
            centroids, labels = scipy.cluster.vq.kmeans2(X, k, minit="++", seed=rng)
            inertia = float(np.sum((X - centroids[labels]) ** 2))
            if inertia < best_inertia:
                best, best_inertia = labels, inertia
    return best


# -- sections -----------------------------------------------------------------------------


def snap_to_grid(times: np.ndarray, grid: np.ndarray, max_shift_s: float) -> np.ndarray:
    """Move each time to the nearest ``grid`` time when one lies within ``max_shift_s``."""
    times = np.asarray(times, dtype=float)
    grid = np.asarray(grid, dtype=float)
    if not len(grid) or not len(times):
        return times
    j = np.clip(np.searchsorted(grid, times), 1, len(grid) - 1) if len(grid) > 1 else np.zeros(
        len(times), dtype=int)  # fmt: skip
    cand = np.stack([grid[np.maximum(j - 1, 0)], grid[j]])
    best = cand[np.argmin(np.abs(cand - times), axis=0), np.arange(len(times))]
    return np.where(np.abs(best - times) <= max_shift_s, best, times)


def frames_to_sections(
    frame_labels: np.ndarray,
    frame_times: np.ndarray,
    duration_s: float,
    downbeat_times: np.ndarray,
    min_section_s: float = 6.0,
) -> list[Section]:
    """Contiguous sections from per-frame cluster labels.

    Boundaries are where the label changes, snapped to the nearest downbeat (within one
    bar); sections shorter than ``min_section_s`` are merged into the neighbour with the
    same label or, failing that, the longer neighbour. Labels are renamed A, B, C… in
    order of first appearance.
    """
    labels = np.asarray(frame_labels)
    change = np.flatnonzero(np.diff(labels)) + 1
    starts = np.concatenate([[0.0], np.asarray(frame_times, dtype=float)[change]])
    seg_labels = [int(labels[0]), *(int(labels[c]) for c in change)]
    downbeats = np.asarray(downbeat_times, dtype=float)
    if len(downbeats) >= 2:
        bar_s = float(np.median(np.diff(downbeats)))
        starts[1:] = snap_to_grid(starts[1:], downbeats, max_shift_s=bar_s)
    ends = np.concatenate([starts[1:], [duration_s]])
    segs = [[s, e, k] for s, e, k in zip(starts, ends, seg_labels, strict=True) if e - s > 1e-6]
    # Merge short sections, shortest first, until none is left (or one section remains).
    while len(segs) > 1:
        lengths = [e - s for s, e, _ in segs]
        i = int(np.argmin(lengths))
        if lengths[i] >= min_section_s:
            break
        if i == 0:
            j = 1
        elif i == len(segs) - 1:
            j = i - 1
        elif segs[i - 1][2] == segs[i][2] or (segs[i + 1][2] != segs[i][2]
                                              and lengths[i - 1] >= lengths[i + 1]):
            j = i - 1
        else:
            j = i + 1
        lo, hi = min(i, j), max(i, j)
        keep = segs[j][2]
        segs[lo:hi + 1] = [[segs[lo][0], segs[hi][1], keep]]
        # Neighbours that now share a label become one section.
        merged: list[list] = []
        for seg in segs:
            if merged and merged[-1][2] == seg[2]:
                merged[-1][1] = seg[1]
            else:
                merged.append(seg)
        segs = merged
    names: dict[int, str] = {}
    out = []
    for s, e, k in segs:
        names.setdefault(k, label_name(len(names)))
        out.append(Section(float(s), float(e), names[k]))
    return out


def chorus_label(sections: list[Section], energy_db: np.ndarray, energy_rate_hz: float
                 ) -> str | None:  # fmt: skip
    """The chorus candidate: the repeated label with the best loudness-and-repetition rank.

    Each label occurring at least twice is ranked by its sections' mean energy (dB) and by
    its number of occurrences; the best mean rank wins (ties: louder). None when no label
    repeats.
    """
    energy = np.asarray(energy_db, dtype=float)
    families: dict[str, list[Section]] = {}
    for s in sections:
        families.setdefault(s.label, []).append(s)
    repeated = {k: v for k, v in families.items() if len(v) >= 2}
    if not repeated:
        return None

    def loudness(secs: list[Section]) -> float:
        vals = [energy[int(s.start_s * energy_rate_hz):max(int(s.end_s * energy_rate_hz),
                                                           int(s.start_s * energy_rate_hz) + 1)]
                for s in secs]  # fmt: skip
        vals = np.concatenate(vals) if vals else np.zeros(0)
        return float(np.mean(vals)) if len(vals) else -np.inf

    names = list(repeated)
    loud = np.array([loudness(repeated[k]) for k in names])
    count = np.array([len(repeated[k]) for k in names], dtype=float)
    rank = _ranks(loud) + _ranks(count)
    best = max(range(len(names)), key=lambda i: (rank[i], loud[i]))
    return names[best]


def _ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(np.argsort(x, kind="stable"), kind="stable")
    return order.astype(float)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    if not len(x):
        return x
    lo, hi = float(np.min(x)), float(np.max(x))
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def trivial_structure(duration_s: float, reason: str, frame_times: np.ndarray | None = None
                      ) -> Structure:  # fmt: skip
    """One section over the whole track, with why."""
    t = np.zeros(0) if frame_times is None else np.asarray(frame_times, dtype=float)
    return Structure(
        duration_s=duration_s, sections=[Section(0.0, float(duration_s), "A")], chorus=None,
        frame_times=t, repetition=np.zeros(len(t)), novelty=np.zeros(len(t)), grid="none",
        reason=reason,
    )  # fmt: skip


def analyze_structure(
    y: np.ndarray,
    sr: int,
    beat_times: np.ndarray,
    downbeat_times: np.ndarray,
    energy_curve_db: np.ndarray,
    energy_rate_hz: float,
    *,
    k: int | None = None,
    min_section_s: float = 6.0,
) -> Structure:
    """Sections, chorus candidate, repetition and novelty of one track.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
        Mono signal at ``sr``.
    sr : int
        Sample rate, Hz.
    beat_times, downbeat_times : np.ndarray
        Seconds (from :class:`~songscape.analysis.descriptors.Descriptors`); may be empty.
    energy_curve_db : np.ndarray
        RMS energy in dB sampled at ``energy_rate_hz`` Hz (used to pick the chorus).
    energy_rate_hz : float
        Hz.
    k : int or None
        Number of section types; None chooses it by eigengap.
    min_section_s : float
        Shortest section, seconds.

    Returns
    -------
    Structure
        Never raises on silent, short or beatless input: those give one section and a
        ``reason``, or (beatless) a fixed-grid analysis.
    """
    y = np.nan_to_num(np.asarray(y, dtype=np.float32))
    duration_s = len(y) / sr
    if duration_s < MIN_DURATION_S:
        return trivial_structure(duration_s, f"too short for sections ({duration_s:.1f} s < "
                                             f"{MIN_DURATION_S:.0f} s)")  # fmt: skip
    rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    if rms <= 10 ** (SILENCE_DBFS / 20):
        return trivial_structure(duration_s, "silent")
    frame_times, grid = frame_grid(beat_times, duration_s)
    chroma, mfcc, _ = beat_sync_features(y, sr, frame_times)
    n = chroma.shape[1]
    frame_times = frame_times[:n]
    if n < 8:
        return trivial_structure(duration_s, "too few frames for sections", frame_times)
    graph, recurrence = recurrence_graph(chroma, mfcc)
    labels = cluster_frames(graph, k=k)
    sections = frames_to_sections(labels, frame_times, duration_s,
                                  downbeat_times if grid == "beats" else np.zeros(0),
                                  min_section_s=min_section_s)  # fmt: skip
    mfcc_n = (mfcc - mfcc.mean(axis=1, keepdims=True)) / (mfcc.std(axis=1, keepdims=True) + 1e-9)
    novelty = novelty_curve(np.vstack([chroma, mfcc_n[1:]]))
    return Structure(
        duration_s=duration_s, sections=sections,
        chorus=chorus_label(sections, energy_curve_db, energy_rate_hz),
        frame_times=frame_times, repetition=repetition_curve(recurrence),
        novelty=novelty, grid=grid,
        reason=None if len(sections) > 1 else "no change of section found",
    )  # fmt: skip
