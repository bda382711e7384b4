"""95 % confidence intervals of the evaluation figures.

* :func:`wilson_interval`: a binomial proportion (accuracy = correct / n);
* :func:`bootstrap_interval`: the mean of per-item scores (kNN precision per query,
  beat F-measure per clip).

Small sets (tens of clips) give noisy figures: always report the intervals.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Z_95", "bootstrap_interval", "wilson_interval"]

#: Two-sided 95 % normal quantile.
Z_95 = 1.959963984540054


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``successes / trials``.

    Parameters
    ----------
    successes : int
        Number of successes, ``0 <= successes <= trials``.
    trials : int
        Number of independent trials, ``> 0``.
    z : float
        Normal quantile; the default gives a two-sided 95 % interval.

    Returns
    -------
    (low, high) : tuple of float
        Always inside [0, 1]; unlike the normal (Wald) interval it does not collapse to
        a point at 0 or 1 successes.
    """
    successes, trials = int(successes), int(trials)
    if trials <= 0:
        raise ValueError(f"trials must be positive, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in [0, {trials}], got {successes}")
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    low = 0.0 if successes == 0 else max(0.0, float(centre - half))
    high = 1.0 if successes == trials else min(1.0, float(centre + half))
    return low, high


def bootstrap_interval(
    values: Any, n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (resampled with replacement).

    Parameters
    ----------
    values : array_like, shape (n,)
        Per-item scores, ``n >= 2``.
    n_boot : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling (the interval is reproducible).
    level : float
        Coverage, e.g. 0.95.

    Returns
    -------
    (low, high) : tuple of float
    """
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or len(v) < 2:
        raise ValueError(f"need a 1-D array of at least 2 values, got shape {v.shape}")
    if not np.all(np.isfinite(v)):
        raise ValueError("values contain NaN or infinite values")
    if n_boot < 1 or not 0 < level < 1:
        raise ValueError("n_boot must be positive and level in (0, 1)")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), (int(n_boot), len(v)))].mean(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)
