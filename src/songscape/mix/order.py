"""In what order the tracks play: the cheapest path through a cost matrix.

* :func:`order_exact`: Held–Karp dynamic programming over subsets, exact, for up to
  :data:`EXACT_MAX_TRACKS` tracks;
* :func:`order_beam`: beam search, for more;
* :func:`chain_from_catalog`: grow a mix from a seed over a whole catalog, each step
  scoring every track (vectorised), with a beam;
* :func:`arc_targets` and :func:`arc_cost`: an optional energy arc — each position has a
  target intensity and a track placed there pays its distance from it.

Costs are open paths (the mix does not return to its start); ``start``/``end`` pin the
first/last track.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Largest set ordered exactly.
EXACT_MAX_TRACKS = 12
#: Energy arcs.
ARCS = ("none", "warmup-peak-cooldown", "rising", "falling")
#: Beam width of the heuristic searches.
DEFAULT_BEAM_WIDTH = 128


def arc_targets(arc: str, n: int) -> np.ndarray | None:
    """Target intensity (0..1) of each of ``n`` positions, or None for ``"none"``."""
    if arc not in ARCS:
        raise ValueError(f"unknown arc {arc!r}; choose one of {', '.join(ARCS)}")
    if arc == "none" or n == 0:
        return None
    pos = (np.arange(n) + 0.5) / n
    if arc == "rising":
        return 0.1 + 0.8 * pos
    if arc == "falling":
        return 0.9 - 0.8 * pos
    # warm up to a peak at two thirds, then cool down.
    return np.where(pos < 2 / 3, 0.15 + 0.85 * pos / (2 / 3), 1.0 - 0.85 * (pos - 2 / 3) / (1 / 3))


def arc_cost(intensity: np.ndarray, targets: np.ndarray | None) -> np.ndarray | None:
    """Cost of each track (rows) at each position (columns): ``|intensity − target|``."""
    if targets is None:
        return None
    return np.abs(np.asarray(intensity)[:, None] - targets[None, :])


def path_cost(
    order: list[int], cost: np.ndarray, arc: np.ndarray | None = None, arc_weight: float = 0.0
) -> float:
    """Sum of the transition costs along ``order`` (plus the weighted arc costs)."""
    total = float(sum(cost[a, b] for a, b in zip(order[:-1], order[1:], strict=True)))
    if arc is not None:
        total += arc_weight * float(sum(arc[t, p] for p, t in enumerate(order)))
    return total


def _position_costs(n: int, arc: np.ndarray | None, arc_weight: float) -> np.ndarray:
    return np.zeros((n, n)) if arc is None else arc_weight * arc


def order_exact(
    cost: np.ndarray,
    arc: np.ndarray | None = None,
    arc_weight: float = 0.0,
    start: int | None = None,
    end: int | None = None,
) -> list[int]:
    """The cheapest order of all ``n`` tracks (Held–Karp, O(2ⁿ·n²)).

    Raises
    ------
    ValueError
        More than :data:`EXACT_MAX_TRACKS` tracks.
    """
    n = cost.shape[0]
    if n > EXACT_MAX_TRACKS:
        raise ValueError(f"exact ordering handles at most {EXACT_MAX_TRACKS} tracks, got {n}")
    if n <= 1:
        return list(range(n))
    place = _position_costs(n, arc, arc_weight)
    step = np.where(np.isfinite(cost), cost, 1e9)
    full = (1 << n) - 1
    best = np.full((1 << n, n), np.inf)
    back = np.full((1 << n, n), -1, dtype=np.int64)
    for j in range(n):
        if start is None or j == start:
            if end is None or j != end or n == 1:
                best[1 << j, j] = place[j, 0]
    popcount = np.array([bin(m).count("1") for m in range(1 << n)])
    for size in range(1, n):
        masks = np.flatnonzero(popcount == size)
        # Best way to reach each (mask, k) from any end j of mask: vectorised over masks.
        through = best[masks][:, :, None] + step[None, :, :]
        via = through.argmin(axis=1)
        value = through.min(axis=1) + place[:, size][None, :]
        for k in range(n):
            if end is not None and k == end and size != n - 1:
                continue
            free = (masks >> k & 1) == 0
            new = masks[free] | 1 << k
            v = value[free, k]
            better = v < best[new, k]
            best[new[better], k] = v[better]
            back[new[better], k] = via[free, k][better]
    last = int(np.argmin(best[full])) if end is None else end
    order, mask = [last], full
    while back[mask, order[-1]] >= 0:
        prev = int(back[mask, order[-1]])
        mask &= ~(1 << order[-1])
        order.append(prev)
    return order[::-1]


def order_beam(
    cost: np.ndarray,
    arc: np.ndarray | None = None,
    arc_weight: float = 0.0,
    start: int | None = None,
    end: int | None = None,
    width: int = DEFAULT_BEAM_WIDTH,
) -> list[int]:
    """A cheap order of all tracks by beam search (keeps the ``width`` best prefixes);
    each step scores every (prefix, next track) pair at once."""
    n = cost.shape[0]
    if n <= 1:
        return list(range(n))
    place = _position_costs(n, arc, arc_weight)
    step = np.where(np.isfinite(cost), cost, 1e9)
    firsts = np.array([start] if start is not None else [j for j in range(n) if j != end])
    seqs = firsts[:, None]
    values = place[firsts, 0].astype(float)
    used = np.zeros((len(firsts), n), dtype=bool)
    used[np.arange(len(firsts)), firsts] = True
    for size in range(1, n):
        blocked = used.copy()
        if end is not None and size < n - 1:
            blocked[:, end] = True
        grown = values[:, None] + step[seqs[:, -1]] + place[:, size][None, :]
        grown[blocked] = np.inf
        flat = grown.ravel()
        k = min(width, int(np.isfinite(flat).sum()))
        best = np.argpartition(flat, k - 1)[:k]
        best = best[np.argsort(flat[best], kind="stable")]
        rows, cols = np.divmod(best, n)
        seqs = np.concatenate([seqs[rows], cols[:, None]], axis=1)
        values = flat[best]
        used = used[rows]
        used[np.arange(len(rows)), cols] = True
    return [int(i) for i in seqs[0]]


def order_tracks(
    cost: np.ndarray,
    arc: np.ndarray | None = None,
    arc_weight: float = 0.0,
    start: int | None = None,
    end: int | None = None,
) -> tuple[list[int], str]:
    """The best order and how it was found (``"exact DP"`` or ``"beam search"``)."""
    if cost.shape[0] <= EXACT_MAX_TRACKS:
        return order_exact(cost, arc, arc_weight, start, end), "exact DP"
    return order_beam(
        cost, arc, arc_weight, start, end
    ), f"beam search (width {DEFAULT_BEAM_WIDTH})"


def random_order_cost(
    cost: np.ndarray, arc: np.ndarray | None, arc_weight: float, trials: int = 200, seed: int = 0
) -> float:
    """Mean :func:`path_cost` of ``trials`` random orders (a fixed seed: reproducible)."""
    rng = np.random.default_rng(seed)
    n = cost.shape[0]
    return float(
        np.mean([path_cost(list(rng.permutation(n)), cost, arc, arc_weight) for _ in range(trials)])
    )


def chain_from_catalog(
    seed: int,
    count: int,
    step_costs: Callable[[int, np.ndarray], np.ndarray],
    n_tracks: int,
    width: int = 16,
    stop: Callable[[list[int]], bool] | None = None,
) -> list[int]:
    """Grow a sequence of ``count`` tracks (or until ``stop(seq)``) from ``seed``.

    ``step_costs(i, candidates)`` gives the cost of going from track ``i`` to each
    candidate index (a vectorised row of the transition cost, plus whatever keeps the
    mix near its seed); each step keeps the ``width`` cheapest sequences.
    """
    everyone = np.arange(n_tracks)
    beams: list[tuple[float, list[int]]] = [(0.0, [seed])]
    while True:
        done = [b for b in beams if len(b[1]) >= count or (stop is not None and stop(b[1]))]
        if done or len(beams[0][1]) >= n_tracks:
            return min(done or beams, key=lambda b: b[0])[1]
        grown: list[tuple[float, list[int]]] = []
        for value, seq in beams:
            costs = np.asarray(step_costs(seq[-1], everyone), dtype=float).copy()
            costs[seq] = np.inf
            k = min(width, n_tracks - len(seq))
            best = np.argpartition(costs, k - 1)[:k]
            grown += [
                (value + float(costs[b]), seq + [int(b)]) for b in best if np.isfinite(costs[b])
            ]
        if not grown:
            return min(beams, key=lambda b: b[0])[1]
        grown.sort(key=lambda item: item[0])
        beams = grown[:width]
