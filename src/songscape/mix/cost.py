"""The cost of going from one track to the next, in parts a DJ would name.

Each part is in [0, 1] (0: a perfect match); the total is their weighted sum.

* ``tempo``: how far the next track's tempo is from this one's, allowing half and
  double time: ``|log2 ratio| / log2(1 + max_stretch)``, capped at 1;
* ``key``: steps apart on the Camelot wheel (:func:`songscape.notation.camelot_distance`)
  — 0 the same key, 1 a fifth or the relative key (the harmonic-mixing rule), 2 two
  steps, 3 or more is a clash;
* ``energy``: the difference between the outgoing track's level at its exit and the
  incoming one's at its entry, each relative to its own loudness (every segment is
  loudness-matched when rendered, so this is the jump a listener feels): 6 dB → 1;
* ``timbre``: ``1 − cosine`` of the tracks' embeddings (clipped to [0, 1]).

A missing value (no key, no vector) costs 0.5: unknown, neither good nor bad.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from songscape.notation import camelot

#: The parts of a transition's cost.
COMPONENTS = ("tempo", "key", "energy", "timbre")
#: Cost of each Camelot distance 0, 1, 2, 3+.
KEY_STEP_COSTS = np.array([0.0, 0.25, 0.6, 1.0])
#: Energy difference that costs 1, dB.
ENERGY_SCALE_DB = 6.0
#: Cost of an unknown value.
UNKNOWN_COST = 0.5
#: Tempo multipliers a DJ may use (half time, same, double time).
TEMPO_MULTIPLIERS = np.array([0.5, 1.0, 2.0])


@dataclass(frozen=True)
class CostWeights:
    """Weights of :data:`COMPONENTS` in a transition's cost, and of the energy arc."""

    tempo: float = 0.35
    key: float = 0.25
    energy: float = 0.2
    timbre: float = 0.2
    arc: float = 0.3

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"weight {name} must be a non-negative number, got {value}")

    def to_json(self) -> dict[str, float]:
        return asdict(self)


def best_tempo_ratio(tempo_from: np.ndarray, tempo_to: np.ndarray) -> np.ndarray:
    """The ratio ``tempo_to · m / tempo_from`` nearest 1 over ``m`` in {½, 1, 2}; NaN where
    a tempo is unknown or not positive."""
    a = np.asarray(tempo_from, dtype=float)[..., None]
    b = np.asarray(tempo_to, dtype=float)[..., None]
    with np.errstate(invalid="ignore", divide="ignore"):
        ratios = b * TEMPO_MULTIPLIERS / a
        distance = np.abs(np.log2(np.where(ratios > 0, ratios, np.nan)))
    distance = np.where(np.isfinite(distance), distance, np.inf)
    pick = np.argmin(distance, axis=-1)[..., None]
    best = np.take_along_axis(ratios, pick, axis=-1)[..., 0]
    return np.where(np.isfinite(np.take_along_axis(distance, pick, axis=-1)[..., 0]), best, np.nan)


def tempo_cost(
    tempo_from: np.ndarray, tempo_to: np.ndarray, max_stretch: float = 0.1
) -> np.ndarray:
    """Tempo part of the cost (see the module docstring); unknown tempo costs 0.5."""
    ratio = best_tempo_ratio(tempo_from, tempo_to)
    with np.errstate(invalid="ignore", divide="ignore"):
        cost = np.minimum(1.0, np.abs(np.log2(ratio)) / np.log2(1.0 + max_stretch))
    return np.where(np.isfinite(cost), cost, UNKNOWN_COST)


def camelot_codes(keys: list[str | None]) -> tuple[np.ndarray, np.ndarray]:
    """Camelot numbers (1–12, 0 unknown) and letters (0 minor/A, 1 major/B) of key names."""
    numbers = np.zeros(len(keys), dtype=int)
    letters = np.zeros(len(keys), dtype=int)
    for i, key in enumerate(keys):
        if key:
            try:
                n, letter = camelot(key)
            except (ValueError, KeyError):
                continue
            numbers[i], letters[i] = n, int(letter == "B")
    return numbers, letters


def camelot_steps(
    num_a: np.ndarray, let_a: np.ndarray, num_b: np.ndarray, let_b: np.ndarray
) -> np.ndarray:
    """Camelot distance; -1 where a key is unknown."""
    around = np.abs(num_a - num_b) % 12
    steps = np.minimum(around, 12 - around) + (let_a != let_b)
    return np.where((num_a == 0) | (num_b == 0), -1, steps)


def key_cost(steps: np.ndarray) -> np.ndarray:
    """Key part of the cost from Camelot steps (-1 unknown)."""
    steps = np.asarray(steps)
    return np.where(steps < 0, UNKNOWN_COST, KEY_STEP_COSTS[np.clip(steps, 0, 3)])


def key_relation(steps: int, letter_from: int, letter_to: int, num_from: int, num_to: int) -> str:
    """Words for a key change: ``same key``, ``relative``, ``fifth up``, ``3 steps``…"""
    if steps < 0:
        return "unknown"
    if steps == 0:
        return "same key"
    if steps == 1 and letter_from != letter_to:
        return "relative major/minor"
    if steps == 1:
        return "fifth up" if (num_to - num_from) % 12 == 1 else "fifth down"
    return f"{steps} steps (clash)" if steps >= 3 else "2 steps"


def energy_cost(exit_db: np.ndarray, entry_db: np.ndarray) -> np.ndarray:
    """Energy part of the cost; unknown levels cost 0.5."""
    diff = np.abs(np.asarray(entry_db, dtype=float) - np.asarray(exit_db, dtype=float))
    cost = np.minimum(1.0, diff / ENERGY_SCALE_DB)
    return np.where(np.isfinite(cost), cost, UNKNOWN_COST)


def timbre_cost(unit_from: np.ndarray, unit_to: np.ndarray) -> np.ndarray:
    """Timbre part from unit vectors (rows; a zero row is unknown): ``1 − cos``."""
    cos = np.sum(unit_from * unit_to, axis=-1)
    known = (np.abs(unit_from).sum(axis=-1) > 0) & (np.abs(unit_to).sum(axis=-1) > 0)
    return np.where(known, np.clip(1.0 - cos, 0.0, 1.0), UNKNOWN_COST)


@dataclass
class TransitionFeatures:
    """Per-track arrays the costs are computed from (one row per track)."""

    tempo_bpm: np.ndarray
    camelot_number: np.ndarray
    camelot_letter: np.ndarray
    exit_db: np.ndarray
    entry_db: np.ndarray
    unit_embedding: np.ndarray  # (n, d); zero rows where unknown

    def __len__(self) -> int:
        return len(self.tempo_bpm)


def cost_parts(
    f: TransitionFeatures, i: int | np.ndarray, j: int | np.ndarray, max_stretch: float = 0.1
) -> dict[str, np.ndarray]:
    """Each part of the cost from tracks ``i`` to tracks ``j`` (broadcast together)."""
    i, j = np.asarray(i), np.asarray(j)
    steps = camelot_steps(
        f.camelot_number[i], f.camelot_letter[i], f.camelot_number[j], f.camelot_letter[j]
    )
    return {
        "tempo": tempo_cost(f.tempo_bpm[i], f.tempo_bpm[j], max_stretch),
        "key": key_cost(steps),
        "energy": energy_cost(f.exit_db[i], f.entry_db[j]),
        "timbre": timbre_cost(f.unit_embedding[i], f.unit_embedding[j]),
    }


def total_cost(parts: dict[str, np.ndarray], weights: CostWeights) -> np.ndarray:
    """Weighted sum of the parts."""
    return sum(getattr(weights, name) * parts[name] for name in COMPONENTS)


def pairwise_parts(f: TransitionFeatures, max_stretch: float = 0.1) -> dict[str, np.ndarray]:
    """:func:`cost_parts` from every track to every track, each (n, n); the timbre part
    as one matrix product (no (n, n, dim) temporary)."""
    steps = camelot_steps(
        f.camelot_number[:, None], f.camelot_letter[:, None],
        f.camelot_number[None, :], f.camelot_letter[None, :],
    )  # fmt: skip
    unit = f.unit_embedding
    known = np.abs(unit).sum(axis=1) > 0
    timbre = np.where(
        known[:, None] & known[None, :], np.clip(1.0 - unit @ unit.T, 0.0, 1.0), UNKNOWN_COST
    )
    return {
        "tempo": tempo_cost(f.tempo_bpm[:, None], f.tempo_bpm[None, :], max_stretch),
        "key": key_cost(steps),
        "energy": energy_cost(f.exit_db[:, None], f.entry_db[None, :]),
        "timbre": timbre,
    }


def cost_matrix(
    f: TransitionFeatures, weights: CostWeights, max_stretch: float = 0.1
) -> np.ndarray:
    """Total cost from every track to every other, shape (n, n); the diagonal is inf."""
    matrix = np.array(total_cost(pairwise_parts(f, max_stretch), weights), dtype=float)
    np.fill_diagonal(matrix, np.inf)
    return matrix
