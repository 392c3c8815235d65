"""The "fairness" test: the model's errors and decisions compared across the groups of a sensitive
attribute (sex, race, age band) that the test records carry, with fairlearn's metrics.

Parameters:

- `sensitive_attribute` (required): the records' field that names each record's group;
- `positive_class`: the class whose prediction is the "selected" outcome (a loan granted, high
  risk); by default the last class of a binary model. Multi-class models must name one: their
  predictions are reduced to "predicted `positive_class`" against "predicted anything else", and
  the labels to "is `positive_class`" against "is anything else", so selection rate, TPR and FPR
  are those of that one-against-the-rest decision;
- `threshold`: when given, a record is predicted positive when the positive class's probability is
  at least `threshold`; otherwise the model's own decision (its most probable class) counts;
- `min_group_size` (default 30): groups with fewer records are folded together into one group
  named "other" ("other (groups under N)" when the records have a group of that name already),
  because rates over a handful of records would swing the differences by chance.

Metrics: `groups` (per group: accuracy, selection_rate, tpr, fpr, count, from fairlearn's
`MetricFrame`), fairlearn's `demographic_parity_difference` and `equalized_odds_difference`, and
`accuracy_difference` (the largest minus the smallest group accuracy).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np

from aicommons.core.errors import Invalid
from aicommons.evaluation.builtin import charts
from aicommons.evaluation.catalogue import TestSpec, register_test
from aicommons.evaluation.outcomes import Chart, TestOutcome
from aicommons.evaluation.subject import Subject

OTHER_GROUP = "other"
MISSING_GROUP = "(missing)"
# The per-group metrics, in the order reports show them.
GROUP_METRICS = ("accuracy", "selection_rate", "tpr", "fpr", "count")


def applies(subject: Subject) -> str | None:
    if subject.evaluation.labels is None:
        return "The test records carry no labels in the model's classes, so error rates per group cannot be measured."
    return None


def sensitive_groups(subject: Subject, attribute: Any) -> list[str]:
    """Each test record's group under `attribute`, as text; Invalid when the records lack the field."""
    records = subject.evaluation.records
    names = records.column_names
    fields = ", ".join(map(repr, names[:12])) + (f" and {len(names) - 12} more" if len(names) > 12 else "")
    if not attribute or not isinstance(attribute, str):
        raise Invalid(
            "The 'sensitive_attribute' parameter of fairness must name the field of the test records that holds "
            f"each record's group (the records have {fields}); got {attribute!r} instead."
        )
    if attribute not in records.column_names:
        raise Invalid(
            f"The 'sensitive_attribute' parameter of fairness must name a field of the test records ({fields}); "
            f"got {attribute!r} instead."
        )
    return [MISSING_GROUP if value is None else str(value).strip() for value in records[attribute].to_pylist()]


def fold_small_groups(groups: list[str], min_group_size: int) -> tuple[list[str], list[str]]:
    """Groups with fewer than `min_group_size` records renamed to "other"; also the names folded."""
    sizes = Counter(groups)
    small = sorted(name for name, size in sizes.items() if size < min_group_size)
    if not small:
        return groups, []
    folded = set(small)
    # A real group already called "other" (COMPAS has "Other") must stay apart from the folded ones.
    taken = {name.casefold() for name in sizes if name not in folded}
    other = OTHER_GROUP if OTHER_GROUP not in taken else f"{OTHER_GROUP} (groups under {min_group_size})"
    return [other if g in folded else g for g in groups], small


def positive_index(subject: Subject, positive_class: Any) -> int:
    """The class index whose prediction counts as positive (selected)."""
    if positive_class is None:
        if len(subject.classes) != 2:
            raise Invalid(
                f"The 'positive_class' parameter of fairness must name one of the model's {len(subject.classes)} classes "
                "for a multi-class model (its predictions are audited as that class against the rest); got None instead."
            )
        return 1
    name = str(positive_class)
    if name not in subject.classes:
        raise Invalid(
            f"The 'positive_class' parameter of fairness must be one of the model's classes "
            f"({', '.join(map(repr, subject.classes))}); got {positive_class!r} instead."
        )
    return subject.classes.index(name)


def decision_threshold(params: dict[str, Any]) -> float | None:
    given = params.get("threshold")
    if given is None:
        return None
    try:
        limit = float(given)
    except (TypeError, ValueError):
        limit = math.nan
    if not 0.0 <= limit <= 1.0:
        raise Invalid(f"The 'threshold' parameter of fairness must be a probability between 0 and 1; got {given!r} instead.")
    return limit


def binary_decisions(probabilities: np.ndarray, positive: int, threshold: float | None) -> np.ndarray:
    """1 where the model selects the positive class: its probability reaches `threshold`, or, with no
    threshold, the positive class is the most probable one."""
    if threshold is None:
        return (probabilities.argmax(axis=1) == positive).astype(int)
    return (probabilities[:, positive] >= threshold).astype(int)


def group_metric_frame(y_true: np.ndarray, y_pred: np.ndarray, groups: list[str]) -> Any:
    """fairlearn's MetricFrame of the per-group metrics this test reports."""
    from fairlearn.metrics import (
        MetricFrame,
        count,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    return MetricFrame(
        metrics={
            "accuracy": accuracy_score, "selection_rate": selection_rate, "tpr": true_positive_rate,
            "fpr": false_positive_rate, "count": count,
        },
        y_true=y_true, y_pred=y_pred, sensitive_features=np.asarray(groups, dtype=object),
    )


def _number(value: Any) -> float | None:
    number = float(value)
    return None if math.isnan(number) else number


def run(subject: Subject, params: dict[str, Any]) -> TestOutcome:
    from fairlearn.metrics import (
        demographic_parity_difference,
        equalized_odds_difference,
    )

    if subject.evaluation.labels is None:
        raise Invalid(applies(subject) or "")
    attribute = params.get("sensitive_attribute")
    groups = sensitive_groups(subject, attribute)
    positive = positive_index(subject, params.get("positive_class"))
    threshold = decision_threshold(params)
    try:
        min_group_size = int(params.get("min_group_size", 30))
    except (TypeError, ValueError):
        raise Invalid(f"The 'min_group_size' parameter of fairness must be a whole number; got {params.get('min_group_size')!r} instead.") from None
    subject.progress(0.0, "predicting the test records")
    probabilities = subject.probabilities(subject.evaluation.raw)
    subject.progress(0.6, f"comparing groups by {attribute}")
    y_true = (np.asarray(subject.evaluation.labels) == positive).astype(int)
    y_pred = binary_decisions(probabilities, positive, threshold)
    groups, folded = fold_small_groups(groups, min_group_size)
    notes = [
        f"Positive outcome: predicting class {subject.classes[positive]!r}"
        + (f" with probability >= {threshold:g}." if threshold is not None else " (the most probable class).")
    ]
    if len(subject.classes) > 2:
        notes.append(f"A multi-class model: audited as {subject.classes[positive]!r} against every other class.")
    if folded:
        notes.append(f"Groups with fewer than {min_group_size} records were folded into one group: {', '.join(folded)}.")
    frame = group_metric_frame(y_true, y_pred, groups)
    by_group = frame.by_group
    per_group = {
        str(group): {name: (int(row[name]) if name == "count" else _number(row[name])) for name in GROUP_METRICS}
        for group, row in by_group.iterrows()
    }
    features = np.asarray(groups, dtype=object)
    metrics = {
        "sensitive_attribute": attribute,
        "positive_class": subject.classes[positive],
        "groups": per_group,
        "demographic_parity_difference": _number(demographic_parity_difference(y_true, y_pred, sensitive_features=features)),
        "equalized_odds_difference": _number(equalized_odds_difference(y_true, y_pred, sensitive_features=features)),
        "accuracy_difference": _number(frame.difference(method="between_groups")["accuracy"]),
        "samples": len(groups),
    }
    if len(per_group) < 2:
        notes.append(f"Only one group of {attribute!r} remains, so every difference is 0.")
    subject.progress(0.8, "drawing the chart")
    names = list(per_group)
    chart = charts.bar_chart(
        names, {metric: [per_group[g][metric] for g in names] for metric in ("accuracy", "selection_rate", "tpr", "fpr")},
        title=f"Per-group metrics by {charts.ascii_label(attribute, 'sensitive attribute')}", ylim=(0, 1),
    )
    subject.progress(1.0, "done")
    return TestOutcome(metrics=metrics, charts=[Chart("fairness-groups", f"Per-group metrics by {attribute}", chart)], notes=notes)


# --- scores as a model ------------------------------------------------------------------------


def threshold_scores_model(feature: str, threshold: float, maximum: float) -> bytes:
    """An ONNX classifier that turns a risk score into class probabilities, so that scores someone
    else's system produced (COMPAS decile scores) are stored and audited like any model's outputs.

    Input "features" [N, 1] float32: the score `s` in the field `feature` (recorded in the model's
    metadata; use preprocessing {"kind": "tabular", "input": "features", "features": [feature]}).
    Output "probabilities" [N, 2] float32: [1 - p, p], p the probability of the high class:

        p = 0.5 * s / threshold                                       when s < threshold
        p = 0.5 + 0.5 * (s - threshold + 1) / (maximum - threshold + 1)   when s >= threshold

    clipped to [0, 1]. Scores are taken as whole steps (deciles 1-10): the threshold score itself
    already reads above 0.5, so "s >= threshold is high" holds both for the model's most probable
    class and for a probability threshold of 0.5, and p rises with s, so rankings are kept. For
    COMPAS, threshold 5 and maximum 10 give ProPublica's split: deciles 5-10 are "high risk"
    (medium or high), deciles 1-4 "low risk".
    """
    import onnx
    from onnx import TensorProto, helper

    if not 0 < threshold <= maximum:
        raise Invalid(f"The 'threshold' parameter of threshold_scores_model must be in (0, maximum={maximum}]; got {threshold} instead.")

    def constant(name: str, value: float) -> onnx.TensorProto:
        return helper.make_tensor(name, TensorProto.FLOAT, [], [float(value)])

    nodes = [
        helper.make_node("Div", ["features", "threshold"], ["below_ratio"]),
        helper.make_node("Mul", ["below_ratio", "half"], ["below"]),
        helper.make_node("Sub", ["features", "threshold"], ["over"]),
        helper.make_node("Add", ["over", "one"], ["steps"]),
        helper.make_node("Div", ["steps", "span"], ["above_ratio"]),
        helper.make_node("Mul", ["above_ratio", "half"], ["above_half"]),
        helper.make_node("Add", ["above_half", "half"], ["above"]),
        helper.make_node("GreaterOrEqual", ["features", "threshold"], ["is_high"]),
        helper.make_node("Where", ["is_high", "above", "below"], ["unclipped"]),
        helper.make_node("Clip", ["unclipped", "zero", "one"], ["high"]),
        helper.make_node("Sub", ["one", "high"], ["low"]),
        helper.make_node("Concat", ["low", "high"], ["probabilities"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "threshold_scores",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, 1])],
        outputs=[helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, [None, 2])],
        initializer=[
            constant("threshold", threshold), constant("span", maximum - threshold + 1), constant("half", 0.5),
            constant("one", 1.0), constant("zero", 0.0),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="aicommons")
    model.ir_version = 8  # what ONNX Runtime releases of the last years all read
    model.doc_string = f"Scores in {feature!r} read as high risk at or above {threshold:g} (maximum {maximum:g})."
    helper.set_model_props(model, {"feature": feature, "threshold": f"{threshold:g}", "maximum": f"{maximum:g}"})
    onnx.checker.check_model(model)
    return model.SerializeToString()


SPEC = register_test(
    TestSpec(
        name="fairness",
        title="Fairness",
        title_zh="公平性",
        category="fairness",
        run=run,
        description=(
            "Per-group accuracy, selection rate, TPR and FPR by a sensitive attribute of the test records, "
            "with demographic-parity, equalised-odds and accuracy differences (fairlearn)."
        ),
        params={"sensitive_attribute": None, "positive_class": None, "threshold": None, "min_group_size": 30},
        applies=applies,
    )
)
