"""The "privacy" test: a membership-inference attack that tells a memorising model from a regularised
one, and a PII scan with the data service's detectors."""

from __future__ import annotations

import functools
import random

import numpy as np
import pytest
from evaluation.subjects import (
    DIGITS_CLASSES,
    ProgressLog,
    cancer_subject,
    onnx_classifier,
    split,
    tabular_subject,
)
from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from aicommons.data.deid.fakes import fake_cn_mobile, fake_cn_resident_id
from aicommons.evaluation.builtin import privacy
from aicommons.evaluation.catalogue import evaluation_tests

pytestmark = pytest.mark.no_database


@functools.cache
def _digits_split():
    """400 digits to train on (few, so that a forest memorises them) and 597 unseen ones."""
    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.target))
    train, test = order[:400], order[1200:]
    x = bunch.data / 16.0
    return x[train], bunch.target[train], x[test], bunch.target[test]


@functools.cache
def _trained(kind: str):
    x_train, y_train, _, _ = _digits_split()
    if kind == "forest":  # fully grown trees: every training record sits in a leaf of its own class
        model = RandomForestClassifier(n_estimators=30, random_state=0)
    else:  # strongly regularised: cannot single out records
        model = LogisticRegression(C=0.05, max_iter=2000)
    model.fit(x_train, y_train)
    return model, onnx_classifier(model, x_train)


def _digits_subject(kind: str, **options):
    x_train, y_train, x_test, y_test = _digits_split()
    _, onnx_bytes = _trained(kind)
    return tabular_subject(
        onnx_bytes, [f"pixel_{i}" for i in range(64)], DIGITS_CLASSES, split(list(x_test), y_test), split(list(x_train), y_train), **options
    )


def test_registered_with_its_sample_size():
    assert evaluation_tests.get("privacy") is privacy.SPEC
    assert privacy.SPEC.params == {"samples": 500}


def test_membership_inference_finds_the_memorising_model():
    progress = ProgressLog()
    forest = privacy.run(_digits_subject("forest", progress=progress), {}).metrics
    logistic = privacy.run(_digits_subject("logistic"), {}).metrics

    assert forest["membership_inference_auc"] > 0.75
    assert logistic["membership_inference_auc"] < 0.6
    assert forest["membership_inference_auc"] - logistic["membership_inference_auc"] > 0.2
    assert forest["membership_inference_advantage"] > logistic["membership_inference_advantage"] + 0.2
    # Members: all 400 training records; non-members: 500 of the 597 test records.
    assert forest["membership_inference"]["members"] == 400 and forest["membership_inference"]["non_members"] == 500
    assert forest["membership_inference"]["member_confidence"] > forest["membership_inference"]["non_member_confidence"]
    progress.check()


def test_membership_inference_auc_is_scikit_learns_on_the_true_label_probability():
    model, _ = _trained("forest")
    x_train, y_train, x_test, y_test = _digits_split()
    outcome = privacy.run(_digits_subject("forest"), {"samples": 1000})  # every record of both splits

    scores = np.concatenate([
        model.predict_proba(x_train)[np.arange(len(y_train)), y_train],
        model.predict_proba(x_test)[np.arange(len(y_test)), y_test],
    ])
    membership = np.r_[np.ones(len(y_train)), np.zeros(len(y_test))]
    assert outcome.metrics["membership_inference_auc"] == pytest.approx(roc_auc_score(membership, scores), abs=0.005)
    assert [c.name for c in outcome.charts] == ["membership-inference-roc"]


def test_sampling_follows_the_seed():
    first = privacy.run(_digits_subject("forest", seed=7), {"samples": 100}).metrics
    again = privacy.run(_digits_subject("forest", seed=7), {"samples": 100}).metrics
    other = privacy.run(_digits_subject("forest", seed=8), {"samples": 100}).metrics
    assert first["membership_inference_auc"] == again["membership_inference_auc"]
    assert first["membership_inference_auc"] != other["membership_inference_auc"]


def test_without_training_records_the_attack_is_skipped_with_a_note():
    outcome = privacy.run(cancer_subject(pii_scan=privacy.pii_counter()), {})
    assert "membership_inference_auc" not in outcome.metrics
    assert any("membership-inference attack was not run" in note for note in outcome.notes)
    assert outcome.metrics["pii"] == {"training_data": {}, "outputs": {}} and outcome.metrics["pii_total"] == 0


def test_pii_counter_uses_the_data_services_detectors():
    rng = random.Random(5)
    resident_id, mobile = fake_cn_resident_id(rng), fake_cn_mobile(rng)
    count = privacy.pii_counter()
    assert count([
        f"患者身份证号{resident_id}，请核对。",
        f"联系电话：{mobile}",
        "Write to li.wei@example.com for the results.",
        "这家店的菜很好吃，下次还来。",
    ]) == {"cn_resident_id": 1, "email": 1, "phone": 1}
    assert count([]) == {} and count(["", "   "]) == {}


def test_pii_in_training_records_and_outputs_is_counted():
    rng = random.Random(9)
    notes = [f"referred by 13{rng.randrange(10**8, 10**9)}" if i % 20 == 0 else "routine screening" for i in range(380)]
    notes[1] = "contact: zhao.min@example.org"
    subject = cancer_subject(with_training=True, pii_scan=privacy.pii_counter(), training_fields={"note": notes})

    outcome = privacy.run(subject, {})

    # Every string field but ids is scanned when the records have no "text" field.
    assert outcome.metrics["pii"]["training_data"] == {"email": 1, "phone": 19}
    assert outcome.metrics["pii"]["outputs"] == {}  # "malignant" / "benign" name nobody
    assert outcome.metrics["pii_total"] == 20


def test_outputs_scanned_are_the_predicted_class_names():
    scanned: list[list[str]] = []

    def spy(texts):
        scanned.append(list(texts))
        return {"email": sum("@" in t for t in texts)}

    subject = cancer_subject(pii_scan=spy)
    subject.classes = ["malignant", "benign (ask dr.wu@example.com)"]
    predicted = subject.predict(subject.evaluation.raw)

    outcome = privacy.run(subject, {})

    assert outcome.metrics["pii"]["outputs"] == {"email": int((predicted == 1).sum())}
    assert {text for texts in scanned for text in texts} == set(subject.classes)


def test_text_field_is_what_gets_scanned_when_there_is_one():
    records = split([0.0] * 3, None, text=["mail me: a.b@example.com", "nothing here", "also nothing"], author=["x@example.com"] * 3)
    assert privacy.record_texts(records.records) == ["mail me: a.b@example.com", "nothing here", "also nothing"]
    no_text = split([0.0] * 2, None, author=["x@example.com", None], file_sha256=["ab" * 32, "cd" * 32])
    assert privacy.record_texts(no_text.records) == ["x@example.com"]


def test_without_a_scanner_pii_is_not_reported():
    outcome = privacy.run(cancer_subject(with_training=True), {})
    assert "pii" not in outcome.metrics and "pii_total" not in outcome.metrics
    assert any("No PII scanner" in note for note in outcome.notes)
    assert 0.3 < outcome.metrics["membership_inference_auc"] < 0.7
