"""Time warping of audio onto a beat grid: Rubber Band through its command-line tool, or
a varispeed fallback.

A *time map* pairs source times with target times (seconds, both increasing); between
anchors the audio is stretched uniformly. :func:`warp` with ``method="rubberband"``
keeps the pitch (Rubber Band's R2 engine through :mod:`pyrubberband`, Debian's
``rubberband-cli``); ``method="varispeed"`` resamples like a turntable whose speed
follows the map, so the pitch moves with the tempo (12·log2(ratio) semitones) — the
fallback when the program is missing.
"""

from __future__ import annotations

import shutil

import numpy as np
import soxr

#: Warping methods, best first.
WARP_METHODS = ("rubberband", "varispeed")


def rubberband_available() -> bool:
    """Whether the ``rubberband`` program (Debian's ``rubberband-cli``) is on the PATH."""
    return shutil.which("rubberband") is not None


def default_warp_method() -> str:
    """``"rubberband"`` when its program is installed, else ``"varispeed"``."""
    return "rubberband" if rubberband_available() else "varispeed"


def check_time_map(source_s: np.ndarray, target_s: np.ndarray) -> None:
    """Raise ValueError unless the two anchor arrays have equal length (≥ 2), start at 0
    and strictly increase."""
    if source_s.shape != target_s.shape or source_s.ndim != 1 or len(source_s) < 2:
        raise ValueError("a time map needs two equal 1-D arrays of at least 2 anchors")
    if source_s[0] != 0 or target_s[0] != 0:
        raise ValueError("a time map starts at (0, 0)")
    if np.any(np.diff(source_s) <= 0) or np.any(np.diff(target_s) <= 0):
        raise ValueError("time map anchors must strictly increase")


def warp(
    y: np.ndarray,
    sr: int,
    source_s: np.ndarray,
    target_s: np.ndarray,
    n_out: int,
    method: str = "rubberband",
) -> np.ndarray:
    """Warp ``y`` so that source time ``source_s[i]`` lands at target time ``target_s[i]``.

    Parameters
    ----------
    y : np.ndarray, shape (channels, n)
        Audio; ``source_s[-1]`` is its end.
    sr : int
        Sample rate, Hz.
    source_s, target_s : np.ndarray, shape (k,)
        The time map, seconds, from (0, 0) to (duration in, duration out).
    n_out : int
        Output length, samples (``round(target_s[-1] · sr)`` up to rounding).
    method : {"rubberband", "varispeed"}
        See the module docstring.

    Returns
    -------
    np.ndarray, float32, shape (channels, n_out)
    """
    source_s = np.asarray(source_s, dtype=float)
    target_s = np.asarray(target_s, dtype=float)
    check_time_map(source_s, target_s)
    if method not in WARP_METHODS:
        raise ValueError(f"unknown warp method {method!r}; choose one of {WARP_METHODS}")
    y = np.atleast_2d(np.asarray(y, dtype=np.float32))
    n_in = y.shape[1]
    src = np.round(source_s / source_s[-1] * n_in).astype(np.int64)
    dst = np.round(target_s / target_s[-1] * n_out).astype(np.int64)
    keep = np.concatenate([[True], (np.diff(src) > 0) & (np.diff(dst) > 0)])
    src, dst = src[keep], dst[keep]
    src[-1], dst[-1] = n_in, n_out
    if np.array_equal(src, dst):
        return y.copy()
    if method == "rubberband":
        out = rubberband_warp(y, sr, src, dst)
    else:
        out = varispeed_warp(y, src, dst)
    return fit_length(out, n_out)


#: Source seconds per Rubber Band call: its offline mode slows down more than linearly
#: on long inputs (measured: 17 s at 14× real time, 34 s at 4×), so a segment is
#: stretched in pieces that overlap by :data:`CHUNK_MARGIN_S` and are joined with a
#: short crossfade at an anchor.
CHUNK_S = 8.0
CHUNK_MARGIN_S = 0.25
CHUNK_FADE_S = 0.01


def rubberband_warp(y: np.ndarray, sr: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rubber Band's R2 engine with a sample time map (``src``→``dst`` frames).

    Stretches where the map keeps the source's timing (equal steps, within a sample) are
    copied as they are; the rest goes through Rubber Band in pieces of about
    :data:`CHUNK_S` seconds cut at anchors. Pieces overlap by :data:`CHUNK_MARGIN_S` and
    are joined with a :data:`CHUNK_FADE_S` crossfade at their shared anchor.
    """
    n_in, n_out = int(src[-1]), int(dst[-1])
    pieces = warp_pieces(src, dst, int(CHUNK_S * sr))
    if len(pieces) == 1 and not pieces[0][2]:
        return _rubberband_call(y, sr, src, dst)
    out = np.zeros((y.shape[0], n_out), dtype=np.float32)
    margin, fade = int(CHUNK_MARGIN_S * sr), max(1, int(CHUNK_FADE_S * sr))
    for a, b, unit in pieces:
        s_a, s_b, t_a, t_b = src[a], src[b], dst[a], dst[b]
        s0, s1 = max(0, s_a - margin), min(n_in, s_b + margin)
        if unit:
            t0, t1 = t_a - (s_a - s0), t_b + (s1 - s_b)
            piece = fit_length(y[:, s0:s1], t1 - t0)
        else:
            ratio_first = (dst[a + 1] - t_a) / (src[a + 1] - s_a)
            ratio_last = (t_b - dst[b - 1]) / (s_b - src[b - 1])
            t0 = t_a - int(round((s_a - s0) * ratio_first))
            t1 = t_b + int(round((s1 - s_b) * ratio_last))
            piece_src = np.concatenate([[s0], src[a : b + 1], [s1]]) - s0
            piece_dst = np.concatenate([[t0], dst[a : b + 1], [t1]]) - t0
            keep = np.concatenate([[True], (np.diff(piece_src) > 0) & (np.diff(piece_dst) > 0)])
            piece = _rubberband_call(y[:, s0:s1], sr, piece_src[keep], piece_dst[keep])
            piece = fit_length(piece, t1 - t0)
        positions = np.arange(t0, t1)
        weight = np.ones(len(positions))
        if a > 0:
            weight *= np.clip((positions - (t_a - fade)) / (2 * fade), 0.0, 1.0)
        if b < len(src) - 1:
            weight *= np.clip(((t_b + fade) - positions) / (2 * fade), 0.0, 1.0)
        lo, hi = max(0, t0), min(n_out, t1)
        out[:, lo:hi] += piece[:, lo - t0 : hi - t0] * weight[lo - t0 : hi - t0].astype(np.float32)
    return out


def warp_pieces(
    src: np.ndarray, dst: np.ndarray, chunk_samples: int
) -> list[tuple[int, int, bool]]:
    """Cut a sample time map into pieces ``(first anchor, last anchor, unit)``.

    ``unit`` pieces keep the source's timing (every step equal within one sample) and
    need no stretching; the others are cut further, at anchors, into pieces of about
    ``chunk_samples`` source samples (the last piece of a run may be up to 1.5× that).
    """
    unit_steps = np.abs(np.diff(dst) - np.diff(src)) <= 1
    pieces = []
    start = 0
    for k in range(1, len(src)):
        if k < len(src) - 1 and unit_steps[k] == unit_steps[start]:
            continue
        pieces.append((start, k, bool(unit_steps[start])))
        start = k
    out = []
    for a, b, unit in pieces:
        if unit:
            out.append((a, b, True))
            continue
        first = a
        for k in range(a + 1, b):
            if src[k] - src[first] >= chunk_samples and src[b] - src[k] >= chunk_samples / 2:
                out.append((first, k, False))
                first = k
        out.append((first, b, False))
    return out


def _rubberband_call(y: np.ndarray, sr: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    import pyrubberband

    src = np.asarray(src, dtype=np.int64).copy()
    src[-1] = y.shape[1]
    time_map = [(int(a), int(b)) for a, b in zip(src, dst, strict=True)]
    # pyrubberband wants (n, channels); --no-threads keeps one core per render.
    out = pyrubberband.timemap_stretch(y.T, sr, time_map, rbargs={"--no-threads": ""})
    return np.atleast_2d(np.asarray(out, dtype=np.float32).T)


def varispeed_warp(y: np.ndarray, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Read ``y`` at the fractional positions the map gives each output sample.

    The signal is first upsampled ×2 with soxr so that linear interpolation between its
    samples stays clean (images above the original band are about -40 dB lower than
    linear interpolation of the raw signal).
    """
    up = soxr.resample(y.T, 1, 2, quality="HQ").T  # (channels, 2n)
    n_out = int(dst[-1])
    positions = np.interp(np.arange(n_out), dst, src) * 2.0
    grid = np.arange(up.shape[1])
    return np.stack([np.interp(positions, grid, ch) for ch in up]).astype(np.float32)


def fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` (channels, m) cut or zero-padded to ``n`` samples."""
    if y.shape[1] >= n:
        return np.ascontiguousarray(y[:, :n])
    return np.pad(y, ((0, 0), (0, n - y.shape[1])))
