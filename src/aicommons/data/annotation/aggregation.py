"""Aggregating several workers' answers into one label per item, with a confidence.

Pure functions over plain `Answer(item, worker, value)` records; nothing here reads or writes
storage, and the same input (and `seed`) always gives the same answer. Values by schema kind:

- "single": a label string;
- "multi": a sorted list of label strings;
- "spans": a list of `[start, end, label]` (character offsets into the item's text, end exclusive);
- "boxes": a list of `[x0, y0, x1, y1, label]` (pixels).

Single labels go through crowd-kit (`METHODS`):

- "mv": majority vote; confidence = the chosen label's (weighted) vote share;
- "wawa": worker agreement with aggregate: majority vote, then each worker's agreement with it
  as a vote weight; confidence = the chosen label's weighted vote share;
- "ds": Dawid-Skene (a full confusion matrix per worker, EM, at most 100 iterations);
- "glad": GLAD (worker ability and item difficulty; at most 10 EM iterations of at most 5
  conjugate-gradient steps each: crowd-kit's GLAD is slow, 15-30 s for 10,000 answers here, and
  converges in a few iterations on crowds like ours);
- "mace": MACE (each worker spams with a learned probability; variational Bayes, 50
  iterations, one start seeded by `seed`: crowd-kit's restarts all reuse the same seed).
For ds/glad/mace the confidence is the model's posterior probability of the chosen label.

Multi-label answers go through crowd-kit's `BinaryRelevance` over the chosen method: each label is
a yes/no question aggregated on its own; `posteriors` holds each label's probability of being
present, and the confidence is that of the least certain label decision.

Spans and boxes have no crowd-kit aggregator that fits (its segmentation aggregators need pixel
masks), so they use the methods below, which need no iterations:

- spans: a per-character label vote weighted by worker weight. A character keeps a label when the
  workers who put it inside a span of that label hold at least half the answering workers'
  weight; runs of characters with the same kept label become a span (split where at least half
  the weight ends a span). Confidence: the mean, over the characters any worker marked, of the
  weight share behind the outcome kept for that character (its label, or no label).
- boxes: greedy clustering across workers: boxes, taken by worker weight (heaviest first), join
  the cluster whose median box they overlap most with IoU >= 0.5 and which holds no box of
  theirs yet, else start a cluster. A cluster is kept when its workers hold at least half the
  answering workers' weight; its box is the median of each coordinate and its label the
  weighted vote of its boxes. Confidence: the mean over clusters of the share agreeing with
  the outcome (kept: support x label share; dropped: 1 - support).

Worker weights (from quality.worker_weight; a worker absent from `weights` weighs 1.0): for mv,
wawa, spans and boxes they scale the worker's vote; for ds, glad and mace, which learn their own
worker reliabilities, only weight 0 matters: those workers' answers are dropped. An item whose
every answer comes from a dropped worker is still returned, from an unweighted majority vote of
those answers, with `support` 0 and `confidence` 0.0 so a reviewer sees it is untrusted.

`gold` (optional, item -> known value): gold items are returned with their known value and
confidence 1.0; Dawid-Skene also uses single-label gold as known truth while it learns the
workers' confusion matrices (crowd-kit's `true_labels`).
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from aicommons.core.errors import Invalid

if TYPE_CHECKING:  # pandas and crowd-kit take a second to import: only when called
    import pandas as pd

METHODS = ("mv", "wawa", "ds", "glad", "mace")
KINDS = ("single", "multi", "spans", "boxes")

# Iteration budgets per method (see the module docstring); `aggregate(n_iter=...)` overrides.
DEFAULT_ITERATIONS = {"ds": 100, "glad": 10, "mace": 50}
GLAD_M_STEP_ITERATIONS = 5
IOU_THRESHOLD = 0.5
SUPPORT_THRESHOLD = 0.5


@dataclass(frozen=True)
class Answer:
    """One worker's answer to one item."""

    item: str
    worker: str
    value: Any


@dataclass(frozen=True)
class Aggregated:
    """The aggregated label of one item.

    `support` is the number of answers that counted (dropped workers' answers do not);
    `posteriors` is label -> probability for single labels, label -> probability of being present
    for multi labels, None for spans and boxes."""

    item: str
    value: Any
    confidence: float
    support: int
    posteriors: dict[str, float] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "value": self.value,
            "confidence": round(self.confidence, 6),
            "support": self.support,
            "posteriors": None if self.posteriors is None else {k: round(v, 6) for k, v in self.posteriors.items()},
        }


# --- validation ---------------------------------------------------------------------------------


def _label(value: Any, labels: set[str], where: str) -> str:
    if not isinstance(value, str) or value not in labels:
        raise Invalid(f"{where}: label must be one of the project's labels; got {value!r}.")
    return value


def _coordinate(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise Invalid(f"{where}: coordinates must be finite numbers; got {value!r}.")
    return float(value)


def normalize_value(kind: str, value: Any, labels: Sequence[str], *, where: str = "answer") -> Any:
    """`value` checked against the schema and in canonical form (multi: sorted unique labels;
    spans: sorted `[start, end, label]` with int offsets; boxes: sorted `[x0, y0, x1, y1, label]`
    with float coordinates). Raises Invalid naming the problem (e.g. the unknown label)."""
    known = set(labels)
    if kind == "single":
        return _label(value, known, where)
    if kind == "multi":
        if not isinstance(value, list | tuple):
            raise Invalid(f"{where}: a multi-label answer must be a list of labels; got {value!r}.")
        return sorted({_label(v, known, where) for v in value})
    if kind == "spans":
        if not isinstance(value, list | tuple):
            raise Invalid(f"{where}: a spans answer must be a list of [start, end, label]; got {value!r}.")
        spans = []
        for span in value:
            if not isinstance(span, list | tuple) or len(span) != 3:
                raise Invalid(f"{where}: each span must be [start, end, label]; got {span!r}.")
            start, end, label = span
            if isinstance(start, bool) or isinstance(end, bool) or not isinstance(start, int) or not isinstance(end, int):
                raise Invalid(f"{where}: span offsets must be integers; got {span!r}.")
            if not 0 <= start < end:
                raise Invalid(f"{where}: a span needs 0 <= start < end; got {span!r}.")
            spans.append([start, end, _label(label, known, where)])
        return sorted(spans)
    if kind == "boxes":
        if not isinstance(value, list | tuple):
            raise Invalid(f"{where}: a boxes answer must be a list of [x0, y0, x1, y1, label]; got {value!r}.")
        boxes = []
        for box in value:
            if not isinstance(box, list | tuple) or len(box) != 5:
                raise Invalid(f"{where}: each box must be [x0, y0, x1, y1, label]; got {box!r}.")
            x0, y0, x1, y1 = (_coordinate(c, where) for c in box[:4])
            if not (x0 < x1 and y0 < y1):
                raise Invalid(f"{where}: a box needs x0 < x1 and y0 < y1; got {box!r}.")
            boxes.append([x0, y0, x1, y1, _label(box[4], known, where)])
        return sorted(boxes, key=lambda b: (b[0], b[1], b[2], b[3], b[4]))
    raise Invalid(f"kind must be one of {list(KINDS)}; got {kind!r}.")


# --- entry point --------------------------------------------------------------------------------


def aggregate(
    kind: str,
    answers: Iterable[Answer],
    *,
    method: str = "ds",
    labels: Sequence[str],
    weights: Mapping[str, float] | None = None,
    seed: int = 0,
    gold: Mapping[str, Any] | None = None,
    n_iter: int | None = None,
) -> list[Aggregated]:
    """One `Aggregated` per item that has answers, sorted by item.

    `method` (one of METHODS) applies to "single" and "multi"; spans and boxes always use their
    own method (module docstring). `n_iter` overrides the method's iteration budget
    (DEFAULT_ITERATIONS)."""
    if kind not in KINDS:
        raise Invalid(f"kind must be one of {list(KINDS)}; got {kind!r}.")
    if method not in METHODS:
        raise Invalid(f"method must be one of {list(METHODS)}; got {method!r}.")
    labels = list(labels)
    if not labels or len(set(labels)) != len(labels):
        raise Invalid(f"labels must be a non-empty list of unique labels; got {labels!r}.")
    if n_iter is not None and n_iter < 1:
        raise Invalid(f"n_iter must be at least 1; got {n_iter!r}.")
    weights = dict(weights or {})
    for worker, w in weights.items():
        if not isinstance(w, int | float) or not math.isfinite(w) or w < 0:
            raise Invalid(f"weights: a worker's weight must be a number >= 0; got {w!r} for {worker!r}.")
    rows = [
        Answer(str(a.item), str(a.worker), normalize_value(kind, a.value, labels, where=f"answer of {a.worker!r} to {a.item!r}"))
        for a in answers
    ]
    gold_values = {str(k): normalize_value(kind, v, labels, where=f"gold of {k!r}") for k, v in (gold or {}).items()}
    if not rows:
        return []

    def weight(worker: str) -> float:
        return float(weights.get(worker, 1.0))

    counted = [a for a in rows if weight(a.worker) > 0]
    orphans = sorted({a.item for a in rows} - {a.item for a in counted})

    if kind == "single":
        results = _single(counted, method, labels, weight, seed, n_iter, gold_values)
    elif kind == "multi":
        results = _multi(counted, method, labels, weight, seed, n_iter)
    elif kind == "spans":
        results = [_spans_item(item, group, weight, labels) for item, group in _by_item(counted)]
    else:
        results = [_boxes_item(item, group, weight, labels) for item, group in _by_item(counted)]

    if orphans:
        # every answer came from a dropped worker: an unweighted fallback, marked untrusted
        orphan_set = set(orphans)
        fallback = aggregate(
            kind, [a for a in rows if a.item in orphan_set], method="mv", labels=labels, seed=seed,
        )
        results += [Aggregated(r.item, r.value, 0.0, 0, None) for r in fallback]

    out = []
    for r in results:
        if r.item in gold_values:
            value = gold_values[r.item]
            posteriors = None
            if kind == "single":
                posteriors = {label: float(label == value) for label in labels}
            elif kind == "multi":
                posteriors = {label: float(label in value) for label in labels}
            r = Aggregated(r.item, value, 1.0, r.support, posteriors)
        out.append(r)
    return sorted(out, key=lambda r: r.item)


def _by_item(answers: list[Answer]) -> list[tuple[str, list[Answer]]]:
    groups: dict[str, list[Answer]] = defaultdict(list)
    for a in answers:
        groups[a.item].append(a)
    return sorted(groups.items())


def _clip01(x: float) -> float:
    x = float(x)
    if not math.isfinite(x):
        return 0.0
    return min(1.0, max(0.0, x))


# --- single labels (crowd-kit) ------------------------------------------------------------------


@contextmanager
def _quiet() -> Iterator[None]:
    """crowd-kit 1.4.2 uses pandas idioms that pandas 3 deprecates (inplace=, copy=): silence them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _frame(answers: list[Answer]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        {"task": [a.item for a in answers], "worker": [a.worker for a in answers], "label": [a.value for a in answers]}
    )


def _sorted_mace(n_iter: int, seed: int):
    """crowd-kit's MACE, fitted on re-coded data.

    crowd-kit 1.4.2's MACE indexes its per-worker arrays by order of first appearance
    (`pd.factorize`) but fills them from `groupby` results, which are sorted: unless both orders
    agree, workers get each other's spamming strategies. Coding workers and labels as integers
    whose order of appearance is their sorted order makes the two agree."""
    import numpy as np
    import pandas as pd
    from crowdkit.aggregation import MACE

    class SortedMACE(MACE):
        def fit(self, data: pd.DataFrame) -> SortedMACE:
            label_names = sorted(pd.unique(data["label"]), key=str)
            label_code = {label: i for i, label in enumerate(label_names)}
            coded = data[["task", "worker", "label"]].copy()
            coded["label"] = coded["label"].map(label_code).astype(np.int64)
            # sorted by label first (labels appear in code order), then workers coded by appearance
            coded = coded.sort_values(["label", "worker", "task"], kind="stable").reset_index(drop=True)
            worker_names = list(pd.unique(coded["worker"]))
            worker_code = {w: i for i, w in enumerate(worker_names)}
            coded["worker"] = coded["worker"].map(worker_code).astype(np.int64)
            super().fit(coded)
            assert self.probas_ is not None
            self.probas_ = self.probas_.rename(columns=dict(enumerate(label_names)))
            self.probas_.columns.name = "label"
            self.labels_ = self.probas_.idxmax(axis="columns")
            self.worker_names_ = worker_names
            return self

    return SortedMACE(n_restarts=1, n_iter=n_iter, random_state=seed)


def _probas(
    answers: list[Answer],
    method: str,
    labels: list[Any],
    weight,
    seed: int,
    n_iter: int | None,
    true_labels: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Per-item probabilities over `labels` (rows sum to 1) from crowd-kit's `method`."""
    import pandas as pd

    frame = _frame(answers)
    workers = sorted(set(frame["worker"]))
    skills = pd.Series({w: weight(w) for w in workers}, dtype=float)
    observed = set(frame["label"])
    with _quiet():
        if method == "mv" or len(observed) == 1:  # one label given: every method agrees
            from crowdkit.aggregation import MajorityVote

            probas = MajorityVote().fit_predict_proba(frame, skills)
        elif method == "wawa":
            from crowdkit.aggregation import Wawa

            model = Wawa().fit(frame)
            model.skills_ = model.skills_ * skills.reindex(model.skills_.index).fillna(1.0)
            probas = model.predict_proba(frame)
        elif method == "ds":
            from crowdkit.aggregation import DawidSkene

            truth = None
            if true_labels:
                tasks = set(frame["task"])
                truth = pd.Series({k: v for k, v in true_labels.items() if k in tasks and v in observed}, dtype=object)
                truth = truth if len(truth) else None
            model = DawidSkene(n_iter=n_iter or DEFAULT_ITERATIONS["ds"])
            probas = model.fit_predict_proba(frame, truth)
        elif method == "glad":
            from crowdkit.aggregation import GLAD

            priors = pd.Series(1.0 / len(labels), index=pd.Index(labels))
            model = GLAD(
                n_iter=n_iter or DEFAULT_ITERATIONS["glad"], m_step_max_iter=GLAD_M_STEP_ITERATIONS, labels_priors=priors
            )
            probas = model.fit_predict_proba(frame)
        else:
            probas = _sorted_mace(n_iter or DEFAULT_ITERATIONS["mace"], seed).fit_predict_proba(frame)
    probas = probas.reindex(columns=labels).astype(float).fillna(0.0).clip(lower=0.0)
    # rows the method could not score (all weights zero, numerical underflow): vote shares instead
    totals = probas.sum(axis=1)
    bad = ~(totals > 0) | ~totals.apply(math.isfinite)
    if bad.any():
        votes = frame[frame["task"].isin(probas.index[bad])].groupby(["task", "label"]).size().unstack(fill_value=0)
        probas.loc[bad] = votes.reindex(index=probas.index[bad], columns=labels).fillna(0.0).to_numpy(dtype=float)
        totals = probas.sum(axis=1)
    return probas.div(totals, axis=0)


def _single(
    answers: list[Answer], method: str, labels: list[str], weight, seed: int, n_iter: int | None, gold: Mapping[str, Any]
) -> list[Aggregated]:
    if not answers:
        return []
    probas = _probas(answers, method, labels, weight, seed, n_iter, gold)
    support: dict[str, int] = defaultdict(int)
    for a in answers:
        support[a.item] += 1
    out = []
    for item, row in zip(probas.index, probas.to_numpy(dtype=float)):
        best = int(row.argmax())  # the first maximum in the project's label order: ties are stable
        posteriors = {label: _clip01(p) for label, p in zip(labels, row)}
        out.append(Aggregated(str(item), labels[best], _clip01(row[best]), support[str(item)], posteriors))
    return out


# --- multi labels (crowd-kit BinaryRelevance) -----------------------------------------------------


def _binary_aggregator(method: str, weight, seed: int, n_iter: int | None):
    """A crowd-kit classification aggregator for one yes/no question of BinaryRelevance, running
    `method` through `_probas` (weights, MACE re-coding and GLAD priors included)."""
    import attr
    from crowdkit.aggregation.base import BaseClassificationAggregator

    @attr.s
    class Binary(BaseClassificationAggregator):
        method: str = attr.ib(default="mv")
        weight: Any = attr.ib(default=None)
        seed: int = attr.ib(default=0)
        n_iter: Any = attr.ib(default=None)
        probas_: Any = attr.ib(init=False, default=None)

        def fit(self, data: pd.DataFrame) -> Binary:
            answers = [Answer(t, w, int(v)) for t, w, v in data[["task", "worker", "label"]].itertuples(index=False)]
            self.probas_ = _probas(answers, self.method, [0, 1], self.weight, self.seed, self.n_iter)
            # present when at least half the probability says so, as for spans and boxes
            self.labels_ = (self.probas_[1] >= SUPPORT_THRESHOLD).astype(int)
            return self

        def fit_predict(self, data: pd.DataFrame) -> pd.Series:
            self.fit(data)
            assert self.labels_ is not None
            return self.labels_

    return Binary(method=method, weight=weight, seed=seed, n_iter=n_iter)


def _multi(answers: list[Answer], method: str, labels: list[str], weight, seed: int, n_iter: int | None) -> list[Aggregated]:
    if not answers:
        return []
    from crowdkit.aggregation import BinaryRelevance

    frame = _frame(answers)
    model = BinaryRelevance(_binary_aggregator(method, weight, seed, n_iter))
    model.aggregators_ = {}  # crowd-kit declares it as a class-level dict shared by every instance
    with _quiet():
        chosen = model.fit_predict(frame)
    present: dict[str, dict[str, float]] = defaultdict(dict)
    for label, aggregator in model.aggregators_.items():
        probas = aggregator.probas_
        for item, p in zip(probas.index, probas[1].to_numpy(dtype=float)):
            present[str(item)][str(label)] = _clip01(p)
    support: dict[str, int] = defaultdict(int)
    for a in answers:
        support[a.item] += 1
    out = []
    for item in sorted(support):
        posteriors = {label: present[item].get(label, 0.0) for label in labels}
        value = sorted(str(v) for v in chosen.get(item, []))
        confidence = min(max(p, 1.0 - p) for p in posteriors.values())
        out.append(Aggregated(item, value, _clip01(confidence), support[item], posteriors))
    return out


# --- spans ---------------------------------------------------------------------------------------


def _spans_item(item: str, answers: list[Answer], weight, labels: list[str]) -> Aggregated:
    total = sum(weight(a.worker) for a in answers)
    order = {label: i for i, label in enumerate(labels)}
    points = sorted({p for a in answers for s in a.value for p in (s[0], s[1])})
    # per segment [points[i], points[i+1]): the weight behind each label, and behind "no label"
    segments = []
    for start, end in pairwise(points):
        by_label: dict[str, float] = defaultdict(float)
        covered = 0.0
        for a in answers:
            inside = {s[2] for s in a.value if s[0] <= start and end <= s[1]}
            for label in inside:
                by_label[label] += weight(a.worker)
            if inside:
                covered += weight(a.worker)
        shares = {label: w / total for label, w in by_label.items()}
        kept = None
        if shares:
            label, share = max(shares.items(), key=lambda kv: (kv[1], -order[kv[0]]))
            if share >= SUPPORT_THRESHOLD:
                kept = label
        agreement = shares[kept] if kept is not None else 1.0 - covered / total
        segments.append((start, end, kept, agreement, covered > 0))

    def split_here(at: int, label: str) -> bool:
        ending = sum(weight(a.worker) for a in answers if any(s[1] == at and s[2] == label for s in a.value))
        return ending / total >= SUPPORT_THRESHOLD

    spans: list[list[Any]] = []
    for start, end, kept, _, _ in segments:
        if kept is None:
            continue
        if spans and spans[-1][1] == start and spans[-1][2] == kept and not split_here(start, kept):
            spans[-1][1] = end
        else:
            spans.append([start, end, kept])
    marked = [(end - start, agreement) for start, end, _, agreement, touched in segments if touched]
    length = sum(n for n, _ in marked)
    confidence = sum(n * agreement for n, agreement in marked) / length if length else 1.0
    return Aggregated(item, spans, _clip01(confidence), len(answers), None)


# --- boxes ---------------------------------------------------------------------------------------


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    """Intersection over union of two `[x0, y0, x1, y1, ...]` boxes."""
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2.0


def _boxes_item(item: str, answers: list[Answer], weight, labels: list[str]) -> Aggregated:
    total = sum(weight(a.worker) for a in answers)
    order = {label: i for i, label in enumerate(labels)}
    ranked = sorted(answers, key=lambda a: (-weight(a.worker), a.worker))
    clusters: list[dict[str, Any]] = []  # {"members": [(worker, box)], "workers": set, "centre": box}
    for a in ranked:
        for box in a.value:
            best, best_iou = None, IOU_THRESHOLD
            for cluster in clusters:
                if a.worker in cluster["workers"]:
                    continue
                overlap = iou(box, cluster["centre"])
                if overlap >= best_iou and (best is None or overlap > best_iou):
                    best, best_iou = cluster, overlap
            if best is None:
                best = {"members": [], "workers": set()}
                clusters.append(best)
            best["members"].append((a.worker, box))
            best["workers"].add(a.worker)
            best["centre"] = [_median([b[i] for _, b in best["members"]]) for i in range(4)]
    boxes, agreements = [], []
    for cluster in clusters:
        support = sum(weight(w) for w in cluster["workers"]) / total
        votes: dict[str, float] = defaultdict(float)
        for worker, box in cluster["members"]:
            votes[box[4]] += weight(worker)
        label, label_weight = max(votes.items(), key=lambda kv: (kv[1], -order[kv[0]]))
        if support >= SUPPORT_THRESHOLD:
            boxes.append([*cluster["centre"], label])
            agreements.append(support * label_weight / sum(votes.values()))
        else:
            agreements.append(1.0 - support)
    boxes.sort(key=lambda b: (b[0], b[1], b[2], b[3], b[4]))
    confidence = sum(agreements) / len(agreements) if agreements else 1.0
    return Aggregated(item, boxes, _clip01(confidence), len(answers), None)
