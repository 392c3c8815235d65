"""The arithmetic of progress: a least-squares line over quarters and the compound yearly growth.

- Trend: for observations (t_k, y_k), t the quarter index, the least-squares line y = a + b·t has
  b = Σ(t − t̄)(y − ȳ) / Σ(t − t̄)² and a = ȳ − b·t̄; the projection at quarter T is a + b·T.
- CAGR (growth targets): from the first observation y₀ at t₀ to the last y₁ at t₁,
  (y₁ / y₀)^(4 / (t₁ − t₀)) − 1, in % a year.
"""

from __future__ import annotations

from collections.abc import Sequence


def least_squares(points: Sequence[tuple[int, float]]) -> tuple[float, float]:
    """(intercept a, slope b) of the least-squares line through two or more points with distinct t."""
    count = len(points)
    mean_t = sum(t for t, _ in points) / count
    mean_y = sum(y for _, y in points) / count
    spread = sum((t - mean_t) ** 2 for t, _ in points)
    slope = sum((t - mean_t) * (y - mean_y) for t, y in points) / spread
    return mean_y - slope * mean_t, slope


def cagr(first: float, last: float, quarters: int) -> float:
    """Compound yearly growth, %, over `quarters` quarters; needs first > 0 and quarters > 0."""
    return ((last / first) ** (4 / quarters) - 1) * 100


def figure(value: float | None) -> str:
    """2640 → "2,640"; 0.12345 → "0.12": thousands separated, at most two decimals."""
    if value is None:
        return "—"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "0" if text in {"-0", ""} else text
