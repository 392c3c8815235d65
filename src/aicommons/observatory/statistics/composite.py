"""The composite index of the regional evaluation: normalisation, entropy weights, scores, ranks.

For m regions and n indicators with values x_ij (every region has every indicator):

**Normalisation** (direction-adjusted, so higher is always better):
- min-max: x'_ij = (x_ij − min_j) / (max_j − min_j), or (max_j − x_ij) / (max_j − min_j) for an
  indicator where lower is better; a column with max_j = min_j tells regions apart by nothing and
  becomes 1 for every region. Scores are then reported ×100 (0 to 100).
- z-score: x'_ij = (x_ij − mean_j) / sd_j (population sd; negated where lower is better; 0 where
  sd_j = 0). Scores are weighted sums of z-scores (0 is the average region).

**Entropy-weight method** (熵权法), always on the min-max values, as it needs shares p_ij ≥ 0:
p_ij = x'_ij / Σ_i x'_ij; e_j = −(1 / ln m) Σ_i p_ij ln p_ij (with 0 · ln 0 = 0); d_j = 1 − e_j;
w_j = d_j / Σ_j d_j. An indicator that differs more between regions has lower entropy and weighs
more; if every d_j is 0 the weights are equal. Given weights are used as given, scaled to sum to 1.

**Score and rank**: S_i = Σ_j w_j x'_ij. Regions rank by score, highest first; equal scores (to
9 decimals) are ordered by region code, so the same inputs always give the same ranking. A
region's strongest and weakest indicators are those with its highest and lowest x'_ij (ties: the
first in the evaluation's order).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Entropy:
    entropy: list[float]
    divergence: list[float]
    weights: list[float]


@dataclass(frozen=True)
class Scored:
    region: str
    score: float
    normalised: list[float]


def _columns(values: Sequence[Sequence[float]]) -> list[list[float]]:
    return [list(column) for column in zip(*values, strict=True)]


def min_max(values: Sequence[Sequence[float]], higher_is_better: Sequence[bool]) -> list[list[float]]:
    columns = []
    for column, higher in zip(_columns(values), higher_is_better, strict=True):
        low, high = min(column), max(column)
        if high == low:
            columns.append([1.0] * len(column))
        else:
            columns.append([((x - low) if higher else (high - x)) / (high - low) for x in column])
    return [list(row) for row in zip(*columns, strict=True)]


def z_score(values: Sequence[Sequence[float]], higher_is_better: Sequence[bool]) -> list[list[float]]:
    columns = []
    for column, higher in zip(_columns(values), higher_is_better, strict=True):
        mean = sum(column) / len(column)
        sd = math.sqrt(sum((x - mean) ** 2 for x in column) / len(column))
        sign = 1.0 if higher else -1.0
        columns.append([0.0 if sd == 0 else sign * (x - mean) / sd for x in column])
    return [list(row) for row in zip(*columns, strict=True)]


def entropy_weights(normalised: Sequence[Sequence[float]]) -> Entropy:
    """Entropy weights of min-max normalised values (m ≥ 2 rows, every value ≥ 0)."""
    m = len(normalised)
    k = 1 / math.log(m)
    entropies = []
    for column in _columns(normalised):
        total = sum(column)
        shares = [x / total for x in column] if total > 0 else [1 / m] * m
        entropies.append(-k * sum(p * math.log(p) for p in shares if p > 0))
    divergence = [max(1 - e, 0.0) for e in entropies]
    total = sum(divergence)
    weights = [d / total for d in divergence] if total > 0 else [1 / len(divergence)] * len(divergence)
    return Entropy(entropies, divergence, weights)


def scale_weights(given: Sequence[float]) -> list[float]:
    total = sum(given)
    return [w / total for w in given]


def score(regions: Sequence[str], normalised: Sequence[Sequence[float]], weights: Sequence[float], scale: float) -> list[Scored]:
    """Scores, highest first; ties by region code."""
    scored = [Scored(region, scale * sum(w * x for w, x in zip(weights, row, strict=True)), list(row)) for region, row in zip(regions, normalised, strict=True)]
    return sorted(scored, key=lambda s: (-round(s.score, 9), s.region))


def extremes(normalised: Sequence[float]) -> tuple[int, int]:
    """Indexes of the highest and lowest value; ties go to the first."""
    strongest = max(range(len(normalised)), key=lambda j: (normalised[j], -j))
    weakest = min(range(len(normalised)), key=lambda j: (normalised[j], j))
    return strongest, weakest
