"""The "fairness" test against fairlearn computed directly, on UCI Adult and ProPublica's COMPAS data.

The real data with sensitive attributes ships outside the repository, in ../shared/data/fairness/;
the tests that need it skip, saying so, where it is absent.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from evaluation.subjects import (
    ProgressLog,
    cancer_data,
    cancer_model,
    cancer_subject,
    digits_subject,
    onnx_classifier,
    split,
    tabular_subject,
)
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aicommons.core.errors import Invalid
from aicommons.evaluation.builtin import fairness
from aicommons.evaluation.catalogue import evaluation_tests
from aicommons.evaluation.subject import Split
from aicommons.models.artifacts import inspect_model_bytes

pytestmark = pytest.mark.no_database

FAIRNESS_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "fairness"
ADULT_NUMERIC = {"age": 0, "education-num": 4, "capital-gain": 10, "capital-loss": 11, "hours-per-week": 12}


def shared_file(name: str) -> Path:
    path = FAIRNESS_DATA / name
    if not path.is_file():
        pytest.skip(f"{path} is absent: the fairness data (UCI Adult, ProPublica COMPAS) ships outside the repository.")
    return path


def fairlearn_frame(y_true, y_pred, groups) -> MetricFrame:
    return MetricFrame(
        metrics={"accuracy": accuracy_score, "selection_rate": selection_rate, "tpr": true_positive_rate,
                 "fpr": false_positive_rate, "count": count},
        y_true=y_true, y_pred=y_pred, sensitive_features=groups,
    )


def assert_equal_to_fairlearn(metrics, y_true, y_pred, groups):
    frame = fairlearn_frame(y_true, y_pred, groups)
    assert set(metrics["groups"]) == {str(g) for g in frame.by_group.index}
    for group, row in frame.by_group.iterrows():
        ours = metrics["groups"][str(group)]
        for name in ("accuracy", "selection_rate", "tpr", "fpr"):
            assert ours[name] == pytest.approx(row[name], abs=1e-12), (group, name)
        assert ours["count"] == row["count"]
    assert metrics["demographic_parity_difference"] == pytest.approx(demographic_parity_difference(y_true, y_pred, sensitive_features=groups), abs=1e-12)
    assert metrics["equalized_odds_difference"] == pytest.approx(equalized_odds_difference(y_true, y_pred, sensitive_features=groups), abs=1e-12)
    assert metrics["accuracy_difference"] == pytest.approx(frame.difference()["accuracy"], abs=1e-12)


def test_registered_and_only_for_labelled_records():
    assert evaluation_tests.get("fairness") is fairness.SPEC
    subject = digits_subject("tabular", limit=40)
    assert fairness.SPEC.applies(subject) is None
    subject.evaluation = Split(raw=subject.evaluation.raw, labels=None, records=subject.evaluation.records)
    assert "no labels" in fairness.SPEC.applies(subject)


def test_per_group_metrics_equal_fairlearn_metric_frame():
    # Breast-cancer records have no sensitive attribute; tumour size stands in as the grouping.
    model, _ = cancer_model()
    *_, x_test, y_test = cancer_data()
    size = np.where(x_test[:, 0] > np.median(x_test[:, 0]), "large", "small")
    progress = ProgressLog()
    subject = cancer_subject(evaluation_fields={"size": size.tolist()}, progress=progress)

    outcome = fairness.run(subject, {"sensitive_attribute": "size"})

    # The default positive class of a binary model is its second, "benign".
    assert outcome.metrics["positive_class"] == "benign" and outcome.metrics["sensitive_attribute"] == "size"
    assert_equal_to_fairlearn(outcome.metrics, y_test, model.predict(x_test), size)
    assert outcome.metrics["samples"] == len(y_test)
    assert [c.name for c in outcome.charts] == ["fairness-groups"] and outcome.charts[0].png.startswith(b"\x89PNG")
    progress.check()


def test_multi_class_models_are_audited_one_class_against_the_rest():
    subject = digits_subject("tabular")
    labels = subject.evaluation.labels
    ink = np.array([row.sum() for row in subject.evaluation.raw])
    groups = np.where(ink > np.median(ink), "heavy", "light")
    subject.evaluation = Split(raw=subject.evaluation.raw, labels=labels, records=subject.evaluation.records.append_column("ink", [groups.tolist()]))

    with pytest.raises(Invalid, match="'positive_class' parameter of fairness must name one of the model's 10 classes"):
        fairness.run(subject, {"sensitive_attribute": "ink"})
    outcome = fairness.run(subject, {"sensitive_attribute": "ink", "positive_class": 9})

    predicted = subject.predict(subject.evaluation.raw)
    assert_equal_to_fairlearn(outcome.metrics, (labels == 9).astype(int), (predicted == 9).astype(int), groups)
    assert any("against every other class" in note for note in outcome.notes)


def test_a_missing_or_unknown_attribute_is_refused_naming_the_fields():
    subject = cancer_subject(evaluation_fields={"size": ["large"] * 189})
    with pytest.raises(Invalid, match=r"'sensitive_attribute' parameter of fairness must name the field .*'record_id', 'size'.*got None"):
        fairness.run(subject, {})
    with pytest.raises(Invalid, match=r"test records \('record_id', 'size'\); got 'sex' instead"):
        fairness.run(subject, {"sensitive_attribute": "sex"})
    with pytest.raises(Invalid, match="'positive_class' parameter of fairness must be one of"):
        fairness.run(subject, {"sensitive_attribute": "size", "positive_class": "healthy"})
    with pytest.raises(Invalid, match="'threshold' parameter of fairness must be a probability"):
        fairness.run(subject, {"sensitive_attribute": "size", "threshold": 2})


def test_small_groups_are_folded_into_other():
    groups, folded = fairness.fold_small_groups(["a"] * 40 + ["b"] * 3 + ["c"] * 2, 30)
    assert folded == ["b", "c"] and groups == ["a"] * 40 + ["other"] * 5
    # A real group called "Other" (as in COMPAS) keeps its own name.
    groups, _ = fairness.fold_small_groups(["Other"] * 40 + ["b"] * 3, 30)
    assert set(groups) == {"Other", "other (groups under 30)"}
    assert fairness.fold_small_groups(["a", "b"], 1) == (["a", "b"], [])


def test_threshold_scores_model_turns_deciles_into_probabilities():
    model = fairness.threshold_scores_model("decile_score", threshold=5, maximum=10)
    artifact = inspect_model_bytes(model)  # a model the hub stores like any other
    assert [t.name for t in artifact.signature.inputs] == ["features"]
    scores = np.arange(1, 11, dtype=np.float32).reshape(-1, 1)
    (probabilities,) = ort.InferenceSession(model, providers=["CPUExecutionProvider"]).run(["probabilities"], {"features": scores})
    high = probabilities[:, 1]
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert np.all(np.diff(high) > 0)  # ranks kept
    assert list(high >= 0.5) == [False] * 4 + [True] * 6  # deciles 5-10 are "high risk"
    assert list(probabilities.argmax(axis=1)) == [0] * 4 + [1] * 6
    assert high[-1] == pytest.approx(1.0)
    with pytest.raises(Invalid, match="'threshold' parameter of threshold_scores_model"):
        fairness.threshold_scores_model("s", threshold=11, maximum=10)


def _adult():
    rows = []
    with shared_file("adult.data").open(newline="") as handle:
        for row in csv.reader(handle):
            if len(row) == 15:
                rows.append([cell.strip() for cell in row])
    features = np.array([[float(row[i]) for i in ADULT_NUMERIC.values()] for row in rows])
    income = np.array([row[14] == ">50K" for row in rows], dtype=int)
    return features, income, [row[9] for row in rows], [row[8] for row in rows]


def test_a_model_trained_on_adult_selects_men_more_often_than_women():
    features, income, sex, race = _adult()
    order = np.random.default_rng(0).permutation(len(income))
    train, test = order[: int(0.7 * len(order))], order[int(0.7 * len(order)):]
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features[train], income[train])
    onnx_bytes = onnx_classifier(model, features[train])
    evaluation = split(list(features[test]), income[test], sex=[sex[i] for i in test], race=[race[i] for i in test])
    subject = tabular_subject(onnx_bytes, list(ADULT_NUMERIC), ["<=50K", ">50K"], evaluation)

    outcome = fairness.run(subject, {"sensitive_attribute": "sex"})

    # fairlearn on the ONNX model's own labels, run without our code.
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    predicted = session.run(["label"], {session.get_inputs()[0].name: features[test].astype(np.float32)})[0]
    test_sex = np.array([sex[i] for i in test])
    assert_equal_to_fairlearn(outcome.metrics, income[test], predicted, test_sex)
    groups = outcome.metrics["groups"]
    assert groups["Male"]["selection_rate"] > 1.5 * groups["Female"]["selection_rate"]
    assert outcome.metrics["demographic_parity_difference"] > 0.05


def test_compas_decile_scores_have_a_higher_false_positive_rate_for_african_american_defendants():
    with shared_file("compas-two-years-reduced.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    scores = np.array([[float(r["decile_score"])] for r in rows])
    reoffended = np.array([int(r["two_year_recid"]) for r in rows])
    race = np.array([r["race"] for r in rows])
    subject = tabular_subject(
        fairness.threshold_scores_model("decile_score", threshold=5, maximum=10), ["decile_score"], ["no", "yes"],
        split(list(scores), reoffended, race=race.tolist()),
    )

    outcome = fairness.run(subject, {"sensitive_attribute": "race", "positive_class": "yes", "threshold": 0.5, "min_group_size": 1})

    # ProPublica's rule, straight from the scores: deciles 5-10 are "high risk".
    assert_equal_to_fairlearn(outcome.metrics, reoffended, (scores[:, 0] >= 5).astype(int), race)
    groups = outcome.metrics["groups"]
    # ProPublica (2016): 44.9% of African-American and 23.5% of white defendants who did not reoffend were labelled high risk.
    assert groups["African-American"]["fpr"] == pytest.approx(0.449, abs=0.01)
    assert groups["Caucasian"]["fpr"] == pytest.approx(0.235, abs=0.01)
    assert groups["African-American"]["fpr"] - groups["Caucasian"]["fpr"] > 0.15
    # With the default min_group_size the smallest groups are folded, COMPAS's own "Other" kept apart.
    folded = fairness.run(subject, {"sensitive_attribute": "race", "threshold": 0.5})
    assert "other (groups under 30)" in folded.metrics["groups"] and "Other" in folded.metrics["groups"]
    assert folded.metrics["groups"]["African-American"] == groups["African-American"]
