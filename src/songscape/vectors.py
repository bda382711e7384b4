"""Small helpers over matrices of vectors (one vector per row), shared by search, maps and
recommendations."""

from __future__ import annotations

import numpy as np

#: Norms below this count as zero (a zero row stays zero instead of becoming NaN).
MIN_NORM = 1e-12


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, as a C-contiguous float32 array.

    Parameters
    ----------
    vectors : np.ndarray, shape (n, dim)

    Returns
    -------
    np.ndarray, shape (n, dim), float32
        Each row divided by its norm; rows with norm below :data:`MIN_NORM` stay zero.
    """
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, MIN_NORM)


def unit_rows_with_mask(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`unit_rows` after zeroing non-finite rows, and the mask of rows that are a
    vector (finite and non-zero).

    Returns
    -------
    unit : np.ndarray, shape (n, dim), float32
    ok : np.ndarray of bool, shape (n,)
    """
    x = np.asarray(vectors, dtype=np.float32)
    ok = np.all(np.isfinite(x), axis=1)
    x = np.where(ok[:, None], x, 0.0)
    ok &= np.linalg.norm(x, axis=1) > 0
    return unit_rows(x), ok
