"""The "accuracy" test: how often the model is right on the test records, per class, and how well
its probabilities are calibrated.

Metrics (scikit-learn's implementations):

- `accuracy`; `macro_f1`, the unweighted mean F1 over the classes that occur in the labels or the
  predictions (scikit-learn's default for `f1_score(average="macro")`, so the figure equals theirs);
- `per_class`: precision, recall, F1 and support for every class of the model (0 where a class is
  never predicted or never present);
- `confusion_matrix`: counts, rows the true classes and columns the predicted ones, in class order;
- `roc_auc`: for binary models only, the area under the ROC curve of the second class's probability
  (absent when the labels hold one class only);
- `ece`: expected calibration error of the top-class probability, see `calibration_bins`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from aicommons.evaluation.builtin import charts
from aicommons.evaluation.catalogue import TestSpec, register_test
from aicommons.evaluation.outcomes import Chart, TestOutcome
from aicommons.evaluation.subject import Subject

ECE_BINS = 15


def calibration_bins(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict[str, Any]:
    """Records grouped by confidence, the probability of the predicted (top) class, into `bins`
    equal-width bins over [0, 1]: bin k holds confidences in (k/bins, (k+1)/bins], and the first
    bin also holds a confidence of exactly 0. Per bin: record count, mean confidence and accuracy
    (None for an empty bin).

    ECE = sum over bins of (count / total) * |accuracy - mean confidence| (Guo et al., 2017, "On
    Calibration of Modern Neural Networks", with their 15 bins)."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    counts = np.bincount(index, minlength=bins)
    confidence_sum = np.bincount(index, weights=confidence, minlength=bins)
    correct_sum = np.bincount(index, weights=correct.astype(float), minlength=bins)
    occupied = counts > 0
    mean_confidence = np.where(occupied, confidence_sum / np.maximum(counts, 1), np.nan)
    accuracy = np.where(occupied, correct_sum / np.maximum(counts, 1), np.nan)
    gaps = np.where(occupied, np.abs(accuracy - mean_confidence), 0.0)
    ece = float(np.sum(counts / max(len(labels), 1) * gaps))
    return {
        "counts": counts.tolist(),
        "confidence": [None if np.isnan(v) else float(v) for v in mean_confidence],
        "accuracy": [None if np.isnan(v) else float(v) for v in accuracy],
        "ece": ece,
    }


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    return calibration_bins(probabilities, labels, bins)["ece"]


def applies(subject: Subject) -> str | None:
    if subject.evaluation.labels is None:
        return "The test records carry no labels in the model's classes, so accuracy cannot be measured."
    return None


def run(subject: Subject, params: dict[str, Any]) -> TestOutcome:
    labels = np.asarray(subject.evaluation.labels)
    subject.progress(0.0, "predicting the test records")
    probabilities = subject.probabilities(subject.evaluation.raw)
    subject.progress(0.7, "computing metrics")
    predicted = probabilities.argmax(axis=1)
    every_class = list(range(len(subject.classes)))
    precision, recall, f1, support = skm.precision_recall_fscore_support(labels, predicted, labels=every_class, zero_division=0)
    matrix = skm.confusion_matrix(labels, predicted, labels=every_class)
    calibration = calibration_bins(probabilities, labels)
    metrics: dict[str, Any] = {
        "accuracy": float(skm.accuracy_score(labels, predicted)),
        "macro_f1": float(skm.f1_score(labels, predicted, average="macro", zero_division=0)),
        "per_class": {
            name: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(support[i])}
            for i, name in enumerate(subject.classes)
        },
        "confusion_matrix": matrix.tolist(),
        "ece": calibration["ece"],
        "samples": len(labels),
    }
    notes = []
    subject.progress(0.8, "drawing charts")
    drawn = [
        Chart("confusion-matrix", "Confusion matrix", charts.confusion_matrix_chart(matrix, subject.classes)),
        Chart(
            "reliability-diagram", f"Reliability diagram ({ECE_BINS} bins)",
            charts.reliability_diagram(calibration["confidence"], calibration["accuracy"], calibration["counts"], ece=calibration["ece"]),
        ),
    ]
    if len(subject.classes) == 2:
        if len(np.unique(labels)) == 2:
            scores = probabilities[:, 1]
            metrics["roc_auc"] = float(skm.roc_auc_score(labels, scores))
            fpr, tpr, _ = skm.roc_curve(labels, scores)
            drawn.append(Chart("roc-curve", "ROC curve", charts.roc_chart(fpr, tpr, auc=metrics["roc_auc"], title=f"ROC curve ({charts.ascii_label(subject.classes[1], 'class 1')} positive)")))
        else:
            notes.append("ROC-AUC is not reported: the test records hold one class only.")
    subject.progress(1.0, "done")
    return TestOutcome(metrics=metrics, charts=drawn, notes=notes)


SPEC = register_test(
    TestSpec(
        name="accuracy",
        title="Accuracy",
        title_zh="准确性",
        category="accuracy",
        run=run,
        description=(
            "Accuracy, macro-F1, per-class precision/recall/F1, confusion matrix, ROC-AUC (binary models) and "
            f"expected calibration error ({ECE_BINS} equal-width bins of the top-class probability) on the test records."
        ),
        applies=applies,
    )
)
