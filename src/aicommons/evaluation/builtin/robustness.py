"""The built-in "robustness" test: accuracy on perturbed inputs, per perturbation and severity.

A seeded sample of the evaluation split (`samples` records, 300 by default) is classified as it
is and again after each perturbation for the model's kind (`perturbations.py`: pixel noise, blur,
brightness, rotation and JPEG for images; Chinese typos, traditional characters and punctuation
noise for text; feature noise for tabular models) at each severity. The perturbations act on raw
instances, and the model's own preprocessing runs after them, as it would in serving.

Metrics:

- `clean_accuracy`: accuracy on the unperturbed sample;
- `perturbations.<name>.accuracy.<severity>` and `.relative_drop.<severity>`, where
  relative drop = (clean − perturbed) / clean (0 when clean accuracy is 0; negative when a
  perturbation happens to help);
- `worst_relative_drop` and `mean_relative_drop` over every (perturbation, severity) measured;
- `samples`: how many records were perturbed.

Each record's perturbations draw from a generator seeded by (run seed, perturbation, record), so
a run is reproducible and a record is perturbed the same way whatever else is sampled; the
model's answers are cached by input digest, so a repeated or resumed run recomputes nothing.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aicommons.core.errors import Invalid
from aicommons.evaluation.builtin.charts import ascii_label
from aicommons.evaluation.builtin.perturbations import (
    SEVERITIES,
    Perturbation,
    by_kind,
    for_model_kind,
    perturbations,
)
from aicommons.evaluation.catalogue import TestSpec, register_test
from aicommons.evaluation.outcomes import Chart, TestOutcome
from aicommons.evaluation.subject import Subject

DEFAULT_PARAMS: dict[str, Any] = {"severities": list(SEVERITIES), "perturbations": None, "samples": 300}


@dataclass(frozen=True)
class RobustnessSettings:
    severities: list[int]
    perturbations: list[Perturbation]
    samples: int


def settings_for(subject: Subject, params: dict[str, Any]) -> RobustnessSettings:
    """The test's parameters checked against the subject's kind, defaults filled in."""
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise Invalid(f"robustness takes the parameters {', '.join(DEFAULT_PARAMS)}; got an unknown one, {unknown[0]!r}.")
    merged = {**DEFAULT_PARAMS, **params}
    return RobustnessSettings(
        severities=_severities(merged["severities"]),
        perturbations=_perturbations(merged["perturbations"], subject.kind),
        samples=_samples(merged["samples"]),
    )


def _severities(value: Any) -> list[int]:
    allowed = ", ".join(map(str, SEVERITIES))
    values = value if isinstance(value, (list, tuple)) else [value]
    if not values or any(isinstance(s, bool) or s not in SEVERITIES for s in values):
        raise Invalid(f"The 'severities' parameter of robustness must be a non-empty list of severities among {allowed}; got {value!r} instead.")
    return sorted({int(s) for s in values})


def _perturbations(value: Any, kind: str) -> list[Perturbation]:
    available = for_model_kind(kind)
    known = ", ".join(p.name for p in available) or "none"
    if value is None:
        return available
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise Invalid(f"The 'perturbations' parameter of robustness must be a list of perturbation names (known for {kind} models: {known}) or null for all; got {value!r} instead.")
    chosen = []
    for name in dict.fromkeys(names):
        match = next((p for p in available if p.name == name), None)
        if match is None:
            elsewhere = f" ({name!r} is for {perturbations.get(name).instance_kind} models)" if name in perturbations else ""
            raise Invalid(f"The 'perturbations' parameter of robustness names {name!r}, which is not a perturbation for {kind} models{elsewhere}; known: {known}.")
        chosen.append(match)
    return chosen


def _samples(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise Invalid(f"The 'samples' parameter of robustness must be a positive whole number; got {value!r} instead.")
    return int(value)


def applies(subject: Subject) -> str | None:
    if not for_model_kind(subject.kind):
        kinds = ", ".join(sorted(by_kind()))
        return f"No perturbations are defined for {subject.kind!r} models; robustness covers {kinds} models."
    if subject.evaluation.labels is None:
        return "The evaluation records carry no labels, so accuracy under perturbation cannot be measured."
    if len(subject.evaluation) == 0:
        return "The evaluation split has no records to perturb."
    return None


def sample_rows(total: int, samples: int, seed: int) -> np.ndarray:
    """Up to `samples` record indices out of `total`, seeded, in split order."""
    if total <= samples:
        return np.arange(total)
    return np.sort(np.random.default_rng(seed).choice(total, size=samples, replace=False))


def instance_rng(seed: int, perturbation: str, row: int) -> np.random.Generator:
    """One record's generator for one perturbation: the same at every severity, so severities
    differ in amount only (see perturbations.py), and independent of which others are sampled."""
    return np.random.default_rng([seed, zlib.crc32(perturbation.encode()), int(row)])


def relative_drop(clean: float, perturbed: float) -> float:
    return (clean - perturbed) / clean if clean > 0 else 0.0


def run(subject: Subject, params: dict[str, Any]) -> TestOutcome:
    settings = settings_for(subject, params)
    split = subject.evaluation
    assert split.labels is not None  # `applies` keeps unlabelled splits away
    rows = sample_rows(len(split), settings.samples, subject.seed)
    raw = [split.raw[i] for i in rows]
    labels = np.asarray(split.labels)[rows]
    steps = 1 + len(settings.perturbations) * len(settings.severities)
    subject.progress(0.0, f"classifying {len(raw)} clean records")
    clean = _accuracy(subject, raw, labels)
    done = 1
    measured: dict[str, dict[str, dict[str, float]]] = {}
    for perturbation in settings.perturbations:
        context = perturbation.prepare(split.raw)
        accuracy: dict[str, float] = {}
        for severity in settings.severities:
            subject.progress(done / steps, f"{perturbation.name} at severity {severity}")
            perturbed = [
                perturbation.apply(instance, severity, instance_rng(subject.seed, perturbation.name, row), **context)
                for instance, row in zip(raw, rows, strict=True)
            ]
            accuracy[str(severity)] = _accuracy(subject, perturbed, labels)
            done += 1
        measured[perturbation.name] = {"accuracy": accuracy, "relative_drop": {s: relative_drop(clean, a) for s, a in accuracy.items()}}
    subject.progress(1.0, "robustness measured")
    drops = [(d, name, s) for name, m in measured.items() for s, d in m["relative_drop"].items()]
    worst = max(drops)
    metrics = {
        "clean_accuracy": clean,
        "perturbations": measured,
        "worst_relative_drop": worst[0],
        "mean_relative_drop": float(np.mean([d for d, _, _ in drops])),
        "samples": len(raw),
    }
    notes = [
        (
            f"Measured on {len(raw):,} of {len(split):,} evaluation records (seed {subject.seed}); "
            "relative drop = (clean accuracy - perturbed accuracy) / clean accuracy."
        ),
        f"The largest drop is {worst[0]:.1%}, under {worst[1]} at severity {worst[2]}.",
    ]
    return TestOutcome(metrics=metrics, charts=[accuracy_chart(clean, measured)], notes=notes)


def _accuracy(subject: Subject, raw: Sequence[Any], labels: np.ndarray) -> float:
    return float(np.mean(subject.predict(raw) == labels))


def accuracy_chart(clean: float, measured: dict[str, dict[str, dict[str, float]]]) -> Chart:
    """Accuracy against severity, one line per perturbation, the clean accuracy dashed. Text in
    charts stays ASCII (`ascii_label`): no CJK font is installed where reports are drawn."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 4.0), dpi=100)
    axes = figure.add_subplot()
    for index, (name, values) in enumerate(measured.items()):
        severities = [int(s) for s in values["accuracy"]]
        axes.plot(severities, list(values["accuracy"].values()), marker="o", label=ascii_label(name, f"perturbation {index + 1}"))
    axes.axhline(clean, color="black", linestyle="--", linewidth=1, label="clean")
    axes.set_xticks(list(SEVERITIES))
    axes.set_xlabel("severity")
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1.02)
    axes.set_title("Accuracy under perturbation")
    axes.legend(fontsize="small", loc="lower left")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return Chart(name="robustness-accuracy", title="Accuracy under perturbation", png=buffer.getvalue())


SPEC = register_test(TestSpec(
    name="robustness",
    title="Robustness",
    title_zh="鲁棒性",
    category="robustness",
    run=run,
    description=(
        "Accuracy on a seeded sample of the evaluation records after perturbations at severities 1-3: "
        "Gaussian noise, blur, brightness, rotation and JPEG for images; homophone and look-alike "
        "typos, dropped and swapped characters, traditional characters and punctuation noise for "
        "Chinese text; feature noise for tabular models. Reports accuracy per severity and the "
        "relative drop from clean accuracy."
    ),
    params=dict(DEFAULT_PARAMS),
    applies=applies,
))
