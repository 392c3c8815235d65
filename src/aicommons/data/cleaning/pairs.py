"""Candidate pairs from bucket keys: the step that LSH and pigeonhole indexing share."""

from __future__ import annotations

import numpy as np


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted unique values (by sorting: faster here than numpy's hash-based `unique`)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def same_key_pairs(keys: np.ndarray) -> np.ndarray:
    """Every pair of positions `(i, j)`, `i < j`, whose keys are equal: an `(m, 2)` int64 array.

    Vectorised: sort the keys; each position is paired with every later position of its run.
    """
    n = len(keys)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    run_starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    run_ends = np.repeat(np.r_[run_starts[1:], n], np.diff(np.r_[run_starts, n]))  # per position
    later = run_ends - np.arange(n) - 1  # how many later positions share its key
    total = int(later.sum())
    firsts = np.repeat(np.arange(n), later)
    step = np.arange(total) - np.repeat(np.cumsum(later) - later, later)
    left, right = order[firsts], order[firsts + 1 + step]
    return np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1).astype(np.int64)


def unique_pairs(pairs: list[np.ndarray], n: int) -> np.ndarray:
    """The union of several `(m, 2)` pair arrays over `n` positions, sorted, without repeats."""
    codes = sorted_unique(np.concatenate([np.empty(0, np.int64), *(p[:, 0] * n + p[:, 1] for p in pairs)]))
    return np.stack([codes // n, codes % n], axis=1) if n else np.empty((0, 2), dtype=np.int64)
