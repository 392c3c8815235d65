"""The "privacy" test: does the model give away who it was trained on, and does personal
information sit in its training data or come out of it?

Membership inference, the confidence-threshold attack (Yeom et al., 2018, "Privacy Risk in
Machine Learning"): an attacker who holds a record and its label guesses "it was in the training
set" when the model's probability for the true label is high, because a model that memorised its
training records is surer of them than of unseen ones. Up to `samples` records (default 500, a
sample seeded by the run's seed) are drawn from the model's training split (members) and from the
test split (non-members); the attack's ROC-AUC over them is `membership_inference_auc` (0.5: the
model treats both alike; 1.0: membership is plain), and `membership_inference_advantage` is its
best TPR - FPR over all thresholds. Without a training split (an evaluation on other records),
the attack is skipped and a note says so.

PII scan, with the data service's detectors (`aicommons.data.deid.detect`): the training records'
texts (their "text" field, or else every other string field but ids and digests), and the model's
outputs on the test records (the predicted class names), as counts per entity type.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa

from aicommons.core.errors import Invalid
from aicommons.evaluation.builtin import charts
from aicommons.evaluation.catalogue import TestSpec, register_test
from aicommons.evaluation.outcomes import Chart, TestOutcome
from aicommons.evaluation.subject import Split, Subject

# Bookkeeping fields of a dataset's records: never personal data, and hex digests can look like numbers.
NOT_SCANNED = frozenset({"record_id", "file_sha256", "split", "label", "source", "mime_type"})


def pii_counter(min_score: float | None = None) -> Callable[[list[str]], dict[str, int]]:
    """A PII scan over texts with the data service's detectors: texts → {entity type: spans found}."""
    from aicommons.data.deid.detectors import DEFAULT_MIN_SCORE, detect

    floor = DEFAULT_MIN_SCORE if min_score is None else min_score

    def count_pii(texts: list[str]) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for text in texts:
            if isinstance(text, str) and text.strip():
                counts.update(span.type for span in detect(text, min_score=floor))
        return dict(sorted(counts.items()))

    return count_pii


def record_texts(records: pa.Table) -> list[str]:
    """The texts in records: the "text" field when there is one, else every string field that is
    not bookkeeping (ids, digests, splits, labels)."""
    if "text" in records.column_names:
        return [t for t in records["text"].to_pylist() if isinstance(t, str)]
    texts: list[str] = []
    for name, column in zip(records.column_names, records.columns, strict=True):
        if name in NOT_SCANNED or name.endswith(("_id", "_sha256")):
            continue
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            texts.extend(t for t in column.to_pylist() if isinstance(t, str))
    return texts


def _sample(size: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.sort(rng.choice(size, size=limit, replace=False)) if size > limit else np.arange(size)


def true_label_confidence(subject: Subject, split: Split, rows: np.ndarray) -> np.ndarray:
    """The model's probability of each sampled record's true label: the attack's score."""
    probabilities = subject.probabilities([split.raw[i] for i in rows])
    labels = np.asarray(split.labels)[rows]
    return probabilities[np.arange(len(rows)), labels]


def membership_inference(subject: Subject, samples: int) -> dict[str, Any]:
    """The confidence-threshold attack's AUC, advantage and ROC curve on members against non-members."""
    from sklearn.metrics import roc_auc_score, roc_curve

    training, evaluation = subject.training, subject.evaluation
    assert training is not None and training.labels is not None and evaluation.labels is not None
    rng = np.random.default_rng(subject.seed)
    members = _sample(len(training), samples, rng)
    non_members = _sample(len(evaluation), samples, rng)
    subject.progress(0.1, f"scoring {len(members)} training records (members)")
    member_scores = true_label_confidence(subject, training, members)
    subject.progress(0.35, f"scoring {len(non_members)} test records (non-members)")
    outsider_scores = true_label_confidence(subject, evaluation, non_members)
    is_member = np.concatenate([np.ones(len(members), dtype=int), np.zeros(len(non_members), dtype=int)])
    scores = np.concatenate([member_scores, outsider_scores])
    fpr, tpr, _ = roc_curve(is_member, scores)
    return {
        "auc": float(roc_auc_score(is_member, scores)),
        "advantage": float(np.max(tpr - fpr)),
        "members": len(members),
        "non_members": len(non_members),
        "member_confidence": float(member_scores.mean()),
        "non_member_confidence": float(outsider_scores.mean()),
        "fpr": fpr,
        "tpr": tpr,
    }


def output_pii(subject: Subject, scan: Callable[[list[str]], dict[str, int]]) -> dict[str, int]:
    """PII in what the model says about the test records: its predicted class names. Each distinct
    label is scanned once and its finds counted once per record it was predicted for."""
    predicted = subject.predict(subject.evaluation.raw)
    counts: Counter[str] = Counter()
    for index, times in Counter(predicted.tolist()).items():
        for kind, found in scan([subject.classes[index]]).items():
            counts[kind] += found * times
    return dict(sorted(counts.items()))


def run(subject: Subject, params: dict[str, Any]) -> TestOutcome:
    try:
        samples = int(params.get("samples", 500))
    except (TypeError, ValueError):
        samples = 0
    if samples < 2:
        raise Invalid(f"The 'samples' parameter of privacy must be a whole number of at least 2; got {params.get('samples')!r} instead.")
    metrics: dict[str, Any] = {}
    notes: list[str] = []
    drawn: list[Chart] = []
    subject.progress(0.0, "membership inference")
    training = subject.training
    if training is None or len(training) == 0:
        notes.append("No training records are known for this evaluation, so the membership-inference attack was not run.")
    elif training.labels is None or subject.evaluation.labels is None:
        notes.append("The training or test records carry no labels in the model's classes, so the membership-inference attack was not run.")
    else:
        attack = membership_inference(subject, samples)
        metrics["membership_inference_auc"] = attack["auc"]
        metrics["membership_inference_advantage"] = attack["advantage"]
        metrics["membership_inference"] = {
            key: attack[key] for key in ("members", "non_members", "member_confidence", "non_member_confidence")
        }
        drawn.append(Chart(
            "membership-inference-roc", "Membership-inference attack ROC",
            charts.roc_chart(attack["fpr"], attack["tpr"], auc=attack["auc"], title="Membership inference (confidence threshold)"),
        ))
    subject.progress(0.6, "scanning for personal information")
    if subject.pii_scan is None:
        notes.append("No PII scanner was given, so training data and outputs were not scanned.")
    else:
        training_pii = subject.pii_scan(record_texts(training.records)) if training is not None else {}
        if training is None:
            notes.append("No training records are known for this evaluation, so only the model's outputs were scanned for PII.")
        subject.progress(0.8, "scanning the model's outputs")
        outputs = output_pii(subject, subject.pii_scan)
        metrics["pii"] = {"training_data": training_pii, "outputs": outputs}
        metrics["pii_training_data_total"] = int(sum(training_pii.values()))
        metrics["pii_outputs_total"] = int(sum(outputs.values()))
        metrics["pii_total"] = metrics["pii_training_data_total"] + metrics["pii_outputs_total"]
    subject.progress(1.0, "done")
    return TestOutcome(metrics=metrics, charts=drawn, notes=notes)


SPEC = register_test(
    TestSpec(
        name="privacy",
        title="Privacy",
        title_zh="隐私保护",
        category="privacy",
        run=run,
        description=(
            "Membership-inference attack (confidence threshold on the true label's probability) AUC between "
            "training and test records, and a PII scan of the training data and the model's outputs."
        ),
        params={"samples": 500},
    )
)
