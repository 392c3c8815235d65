"""Worker quality: skill estimates, the one-coin posterior behind adaptive overlap, spam flags and
the weight a worker's answers get in aggregation.

Pure functions; the service stores what they return (skill counts, flags with their reasons,
weights) and calls them again as answers arrive.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from aicommons.core.errors import Invalid

FlagCode = Literal["too_fast", "constant", "low_gold"]
FLAG_CODES: tuple[str, ...] = ("too_fast", "constant", "low_gold")

# The least number of timed answers before the median time may flag a worker as too fast.
MIN_TIMED_ANSWERS = 5
# A worker with no flag never weighs less than this, so that workers with no evidence yet (a
# Beta(1, 1) prior is at chance for two labels) still count; flagged workers weigh 0.
MIN_WEIGHT = 0.05
# Accuracies are kept inside (0, 1) in the posterior so that no single answer is certain.
_ACCURACY_FLOOR = 1e-3


@dataclass
class SkillEstimate:
    """A worker's accuracy as a Beta(correct, wrong) distribution: the counts start at the prior
    (1, 1: uniform) and grow by `weight` with each judged answer (gold, or a reviewer's verdict)."""

    correct: float = 1.0
    wrong: float = 1.0

    def __post_init__(self) -> None:
        if not (self.correct > 0 and self.wrong > 0 and math.isfinite(self.correct) and math.isfinite(self.wrong)):
            raise Invalid(f"SkillEstimate needs correct > 0 and wrong > 0; got ({self.correct!r}, {self.wrong!r}).")

    @property
    def accuracy(self) -> float:
        """The mean of the Beta distribution: correct / (correct + wrong)."""
        return self.correct / (self.correct + self.wrong)

    @property
    def judged(self) -> float:
        """How much evidence beyond the Beta(1, 1) prior the estimate holds (can be fractional)."""
        return self.correct + self.wrong - 2.0

    def update(self, correct: bool, weight: float = 1.0) -> SkillEstimate:
        """Counts one judged answer (in place) and returns self."""
        if not (weight >= 0 and math.isfinite(weight)):
            raise Invalid(f"update: weight must be a number >= 0; got {weight!r}.")
        if correct:
            self.correct += weight
        else:
            self.wrong += weight
        return self


def posterior(values: Sequence[str], accuracies: Sequence[float], labels: Sequence[str]) -> dict[str, float]:
    """P(true label | the answers) under the one-coin model with a uniform prior.

    A worker of accuracy p answers the true label with probability p and each of the K - 1 other
    labels with (1 - p) / (K - 1); answers are independent given the true label. Accuracies are
    clipped into [0.001, 0.999]. With no answers the result is uniform."""
    labels = list(labels)
    if not labels:
        raise Invalid("posterior: labels must not be empty.")
    if len(values) != len(accuracies):
        raise Invalid(f"posterior: {len(values)} values but {len(accuracies)} accuracies; they must pair up.")
    known = set(labels)
    for v in values:
        if v not in known:
            raise Invalid(f"posterior: label must be one of the project's labels; got {v!r}.")
    k = len(labels)
    if k == 1:
        return {labels[0]: 1.0}
    log_scores = dict.fromkeys(labels, 0.0)
    for v, p in zip(values, accuracies):
        p = min(1.0 - _ACCURACY_FLOOR, max(_ACCURACY_FLOOR, float(p)))
        right, wrong = math.log(p), math.log((1.0 - p) / (k - 1))
        for label in labels:
            log_scores[label] += right if label == v else wrong
    top = max(log_scores.values())
    scores = {label: math.exp(s - top) for label, s in log_scores.items()}
    total = sum(scores.values())
    return {label: s / total for label, s in scores.items()}


@dataclass(frozen=True)
class AnswerFact:
    """What quality control needs of one answer: its value (any comparable form, e.g. the
    canonical JSON of a multi-label or spans answer), the seconds it took (None if unknown) and,
    for gold items, whether it was correct (None for other items)."""

    value: Any
    seconds: float | None = None
    gold_correct: bool | None = None


@dataclass(frozen=True)
class Flag:
    """A quality flag: `code` is one of FLAG_CODES, `reason` a sentence with the numbers."""

    code: FlagCode
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "reason": self.reason}


def flags(
    facts: Sequence[AnswerFact],
    *,
    min_seconds: float,
    gold_min_accuracy: float = 0.6,
    min_gold: int = 3,
    constant_min: int = 8,
    n_labels: int | None = None,
) -> list[Flag]:
    """A worker's flags from all their answers in a project, in FLAG_CODES order.

    - too_fast: at least 5 timed answers and their median time is below `min_seconds`;
    - constant: at least `constant_min` answers, all with the same value, while the project has
      more than one label (`n_labels`, when given; None means more than one);
    - low_gold: at least `min_gold` gold answers and a share correct below `gold_min_accuracy`."""
    found: list[Flag] = []
    timed = [f.seconds for f in facts if f.seconds is not None]
    if len(timed) >= MIN_TIMED_ANSWERS:
        median = statistics.median(timed)
        if median < min_seconds:
            found.append(
                Flag(
                    "too_fast",
                    f"median answer time {median:.1f} s over {len(timed)} timed answers is below the "
                    f"{min_seconds:g} s floor",
                )
            )
    if (n_labels is None or n_labels > 1) and len(facts) >= constant_min:
        first = facts[0].value
        if all(f.value == first for f in facts):
            found.append(Flag("constant", f"all {len(facts)} answers were the same: {_show(first)}"))
    judged = [f.gold_correct for f in facts if f.gold_correct is not None]
    if len(judged) >= min_gold:
        right = sum(1 for g in judged if g)
        share = right / len(judged)
        if share < gold_min_accuracy:
            found.append(
                Flag(
                    "low_gold",
                    f"{right} of {len(judged)} gold answers correct ({share:.0%}), below the "
                    f"{gold_min_accuracy:.0%} required",
                )
            )
    return found


def _show(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def worker_weight(skill: SkillEstimate, flags: Sequence[Flag], *, n_labels: int = 2) -> float:
    """The weight of a worker's answers in aggregation, in [0, 1].

    Flagged (any of FLAG_CODES) -> 0: the worker's answers are dropped. Otherwise the accuracy
    rescaled so that chance (1 / n_labels) is 0 and perfect is 1, (K p - 1) / (K - 1), which is
    2 p - 1 for two labels, floored at MIN_WEIGHT so that workers with no evidence yet still count."""
    if any(f.code in FLAG_CODES for f in flags):
        return 0.0
    k = max(2, int(n_labels))
    scaled = (k * skill.accuracy - 1.0) / (k - 1)
    return min(1.0, max(MIN_WEIGHT, scaled))
