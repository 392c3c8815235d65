"""What an evaluation test returns, and how thresholds turn its metrics into pass or fail.

A test only measures: it returns metrics (nested JSON), charts and notes. Thresholds are applied
here, in one place, so a suite or a caller can tighten them without touching the test, and every
check names the metric path, its value, the comparison and the threshold it was held to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from aicommons.core.errors import Invalid

OPERATORS = (">=", "<=")


@dataclass(frozen=True)
class Chart:
    """A PNG chart a test drew (matplotlib), stored with the run and shown in reports."""

    name: str  # a file stem: "confusion-matrix", "robustness-gaussian-noise"
    title: str
    png: bytes


@dataclass
class TestOutcome:
    metrics: dict[str, Any]
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Check:
    metric: str  # a dotted path into the metrics: "accuracy", "relative_drop.max"
    op: str
    threshold: float
    value: float | None
    passed: bool

    def as_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "op": self.op, "threshold": self.threshold, "value": self.value, "passed": self.passed}


def metric_value(metrics: dict[str, Any], path: str) -> float | None:
    """The number at a dotted path (`"per_group.max_gap"`), or None when the path holds no number."""
    node: Any = metrics
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    if isinstance(node, bool) or not isinstance(node, (int, float)) or math.isnan(float(node)):
        return None
    return float(node)


def parse_thresholds(raw: dict[str, Any], test: str) -> dict[str, tuple[str, float]]:
    """`{"accuracy": [">=", 0.9]}` (or `">= 0.9"`) checked into `{"accuracy": (">=", 0.9)}`."""
    parsed: dict[str, tuple[str, float]] = {}
    for metric, rule in raw.items():
        if isinstance(rule, str):
            rule = rule.split()
        if not isinstance(rule, (list, tuple)) or len(rule) != 2 or rule[0] not in OPERATORS:
            raise Invalid(f"The threshold for {test}'s {metric!r} must be [op, number] with op one of {', '.join(OPERATORS)}; got {rule!r}.")
        try:
            parsed[metric] = (rule[0], float(rule[1]))
        except (TypeError, ValueError):
            raise Invalid(f"The threshold for {test}'s {metric!r} must be a number; got {rule[1]!r}.") from None
    return parsed


def apply_thresholds(metrics: dict[str, Any], thresholds: dict[str, tuple[str, float]]) -> list[Check]:
    """One check per threshold. A metric the test did not produce fails its check (value None):
    a threshold nobody measured must not pass silently."""
    checks = []
    for path, (op, threshold) in sorted(thresholds.items()):
        value = metric_value(metrics, path)
        passed = value is not None and (value >= threshold if op == ">=" else value <= threshold)
        checks.append(Check(path, op, threshold, value, passed))
    return checks
