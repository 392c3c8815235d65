"""The "accuracy" test against scikit-learn's own metrics on real models and data."""

from __future__ import annotations

import numpy as np
import pytest
from evaluation.subjects import (
    ProgressLog,
    cancer_data,
    cancer_model,
    cancer_subject,
    digits_data,
    digits_model,
    digits_subject,
)
from sklearn import metrics as skm

from aicommons.evaluation.builtin import accuracy, charts
from aicommons.evaluation.catalogue import evaluation_tests
from aicommons.evaluation.subject import Split

pytestmark = pytest.mark.no_database

PNG = b"\x89PNG\r\n\x1a\n"


def test_registered_under_its_name():
    assert evaluation_tests.get("accuracy") is accuracy.SPEC
    assert accuracy.SPEC.category == "accuracy" and accuracy.SPEC.thresholds == {}


@pytest.mark.parametrize("kind", ["image", "tabular"])
def test_digits_metrics_equal_scikit_learn(kind):
    progress = ProgressLog()
    subject = digits_subject(kind, progress=progress)
    model, _ = digits_model()
    _, _, test_images, test_labels = digits_data()
    expected = model.predict(test_images.reshape(len(test_images), -1) / 16.0)

    outcome = accuracy.run(subject, {})
    metrics = outcome.metrics

    assert metrics["samples"] == len(test_labels)
    assert metrics["accuracy"] == pytest.approx(skm.accuracy_score(test_labels, expected))
    assert metrics["accuracy"] > 0.9
    assert metrics["macro_f1"] == pytest.approx(skm.f1_score(test_labels, expected, average="macro"))
    assert metrics["confusion_matrix"] == skm.confusion_matrix(test_labels, expected, labels=range(10)).tolist()
    precision, recall, f1, support = skm.precision_recall_fscore_support(test_labels, expected, labels=range(10))
    assert list(metrics["per_class"]) == [str(d) for d in range(10)]
    for digit in range(10):
        row = metrics["per_class"][str(digit)]
        assert row == pytest.approx({"precision": precision[digit], "recall": recall[digit], "f1": f1[digit], "support": support[digit]})
    assert "roc_auc" not in metrics  # multi-class
    assert 0.0 <= metrics["ece"] <= 1.0
    assert [c.name for c in outcome.charts] == ["confusion-matrix", "reliability-diagram"]
    assert all(c.png.startswith(PNG) for c in outcome.charts)
    progress.check()


def test_binary_model_reports_roc_auc_of_the_second_class():
    subject = cancer_subject()
    model, _ = cancer_model()
    *_, x_test, y_test = cancer_data()

    outcome = accuracy.run(subject, {})

    assert outcome.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]), abs=1e-4)
    assert outcome.metrics["roc_auc"] > 0.95
    assert outcome.metrics["accuracy"] == pytest.approx(skm.accuracy_score(y_test, model.predict(x_test)))
    assert list(outcome.metrics["per_class"]) == ["malignant", "benign"]
    assert [c.name for c in outcome.charts] == ["confusion-matrix", "reliability-diagram", "roc-curve"]


def test_binary_records_of_one_class_say_why_there_is_no_roc_auc():
    subject = cancer_subject()
    labels = subject.evaluation.labels
    benign = np.flatnonzero(labels == 1)
    subject.evaluation = Split(
        raw=[subject.evaluation.raw[i] for i in benign], labels=labels[benign], records=subject.evaluation.records.take(benign)
    )

    outcome = accuracy.run(subject, {})

    assert "roc_auc" not in outcome.metrics
    assert any("one class" in note for note in outcome.notes)
    assert outcome.metrics["per_class"]["malignant"]["support"] == 0


def test_calibration_bins_are_fifteen_equal_width_bins_of_the_top_probability():
    # Ten records at confidence 0.9, five right: |0.5 - 0.9| = 0.4 in one bin.
    probabilities = np.array([[0.9, 0.1]] * 10)
    labels = np.array([0] * 5 + [1] * 5)
    bins = accuracy.calibration_bins(probabilities, labels)
    assert len(bins["counts"]) == 15 and sum(bins["counts"]) == 10
    assert bins["ece"] == pytest.approx(0.4)
    assert bins["counts"][13] == 10  # 0.9 lies in (13/15, 14/15]
    assert bins["accuracy"][13] == pytest.approx(0.5) and bins["accuracy"][0] is None

    # Right as often as confident: no calibration error. Two bins, weighted by their counts.
    calibrated = np.array([[1.0, 0.0]] * 4 + [[0.5, 0.5]] * 4)
    assert accuracy.expected_calibration_error(calibrated, np.array([0, 0, 0, 0, 0, 0, 1, 1])) == pytest.approx(0.0)
    skewed = np.array([[1.0, 0.0]] * 4 + [[0.5, 0.5]] * 4)
    # Bin of 1.0: accuracy 0.5 (gap 0.5, weight 1/2); bin of 0.5: argmax picks class 0, accuracy 0.5 (gap 0).
    assert accuracy.expected_calibration_error(skewed, np.array([0, 0, 1, 1, 0, 0, 1, 1])) == pytest.approx(0.25)
    # Bins are closed on the right: 1/15 (15 equally likely classes) is in the first, 14/15 in the 14th, 1.0 in the last.
    rows = np.vstack([np.full(15, 1 / 15), [14 / 15] + [1 / 210] * 14, np.eye(15)[0]])
    edges = accuracy.calibration_bins(rows, np.zeros(3, dtype=int))
    assert edges["counts"][0] == edges["counts"][13] == edges["counts"][14] == 1


def test_does_not_apply_without_labels():
    subject = digits_subject("image", limit=20)
    assert accuracy.SPEC.applies(subject) is None
    subject.evaluation = Split(raw=subject.evaluation.raw, labels=None, records=subject.evaluation.records)
    assert "no labels" in accuracy.SPEC.applies(subject)


def test_charts_draw_class_names_they_have_no_font_for_as_class_numbers():
    assert charts.class_labels(["正面", "negative"]) == ["class 0", "negative"]
    png = charts.confusion_matrix_chart([[3, 1], [0, 4]], ["正面", "负面"])
    assert png.startswith(PNG)
