"""Two versions of a model side by side: their metrics, ONNX file sizes and latencies, and the
charts of them.

Latency is only worth comparing when measured alike, so it comes from where the platform
measured it: the comparison a compression job stored with its child version (`models.comparison`:
parent and child timed together, interleaved), else each version's latest efficiency test
(`evaluation`), one intra-op thread either way. A version never measured shows none.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from sqlalchemy.orm import Session

from aicommons import evaluation, models
from aicommons.console.charts import bar_chart
from aicommons.console.locales import Translator
from aicommons.core.permissions import Actor

BATCH_SIZES = ("1", "32")
# An evaluation run is a few per version; the newest of these with an efficiency test is used.
RECENT_EVALUATIONS = 20


@dataclass(frozen=True)
class Latency:
    """p50/p95 milliseconds by batch size (None where the graph's fixed batch excludes one), and where measured."""

    by_batch: dict[str, dict[str, float] | None]
    source: str  # "compression" or "evaluation"
    reference: str  # the version number compressed, or the evaluation's id

    def p(self, batch: str, quantile: str) -> float | None:
        figures = self.by_batch.get(batch)
        return None if figures is None else figures.get(quantile)


@dataclass(frozen=True)
class MetricRow:
    name: str
    base: Any
    other: Any

    @property
    def delta(self) -> float | None:
        numeric = all(
            isinstance(v, (int, float)) and not isinstance(v, bool)
            for v in (self.base, self.other)
        )
        return round(self.other - self.base, 6) if numeric else None


@dataclass(frozen=True)
class VersionComparison:
    base: models.ModelVersionRead
    other: models.ModelVersionRead
    metrics: list[MetricRow]
    base_latency: Latency | None
    other_latency: Latency | None

    @property
    def size_change(self) -> float:
        """The other version's file size relative to the base's: -0.5 is half the size."""
        return (
            self.other.onnx_size / self.base.onnx_size - 1
            if self.base.onnx_size
            else 0.0
        )


def compare_versions(
    session: Session, actor: Actor, model_id: str, base_number: int, other_number: int
) -> VersionComparison:
    base = models.resolve_version(session, actor, model_id, base_number)
    other = models.resolve_version(session, actor, model_id, other_number)
    names = sorted(set(base.metrics) | set(other.metrics))
    rows = [
        MetricRow(name, base.metrics.get(name), other.metrics.get(name))
        for name in names
    ]
    together = _measured_together(base, other)
    base_latency = together.get(base.id) or _efficiency_latency(session, actor, base)
    other_latency = together.get(other.id) or _efficiency_latency(session, actor, other)
    return VersionComparison(base, other, rows, base_latency, other_latency)


def _measured_together(
    a: models.ModelVersionRead, b: models.ModelVersionRead
) -> dict[str, Latency]:
    """Both latencies from a compression's stored comparison, when one version was compressed from the other."""
    for parent, child in ((a, b), (b, a)):
        stored = child.details.get("comparison")
        if child.parent_version_id == parent.id and isinstance(stored, dict):
            reference = str(child.number)
            return {
                parent.id: Latency(
                    stored["parent"]["latency_ms"], "compression", reference
                ),
                child.id: Latency(
                    stored["child"]["latency_ms"], "compression", reference
                ),
            }
    return {}


def _efficiency_latency(
    session: Session, actor: Actor, version: models.ModelVersionRead
) -> Latency | None:
    """The latency the newest succeeded efficiency test of this version measured, if the actor may read it."""
    runs = evaluation.list_evaluations(
        session, actor, version_id=version.id, limit=RECENT_EVALUATIONS
    ).items
    for run in runs:  # newest first
        if run.status != "succeeded":
            continue
        for result in run.results:
            if result.name == "efficiency" and isinstance(
                result.metrics.get("latency_ms"), dict
            ):
                return Latency(result.metrics["latency_ms"], "evaluation", run.id)
    return None


def comparison_charts(
    comparison: VersionComparison, translator: Translator
) -> list[tuple[str, Markup]]:
    """(heading, chart) for the metrics both versions have, the file sizes, and the p50 latencies measured."""
    _ = translator.gettext
    a, b = f"v{comparison.base.number}", f"v{comparison.other.number}"
    charts = []
    shared = [row for row in comparison.metrics if row.delta is not None]
    if shared:
        labels = [f"{row.name} · {side}" for row in shared for side in (a, b)]
        values = [value for row in shared for value in (row.base, row.other)]
        title = _("Metrics")
        charts.append(
            (
                title,
                bar_chart(
                    labels,
                    values,
                    title=title,
                    fmt=translator.number,
                    highlight=range(1, len(values), 2),
                ),
            )
        )
    sizes = [comparison.base.onnx_size / 1024, comparison.other.onnx_size / 1024]
    title = _("ONNX file size (KiB)")
    charts.append(
        (
            title,
            bar_chart([a, b], sizes, title=title, unit=" KiB", fmt=translator.number),
        )
    )
    timed = [
        (
            _("{version} · batch {size}", version=side, size=batch),
            latency.p(batch, "p50"),
        )
        for side, latency in (
            (a, comparison.base_latency),
            (b, comparison.other_latency),
        )
        if latency
        for batch in BATCH_SIZES
        if latency.p(batch, "p50") is not None
    ]
    if timed:
        title = _("Latency p50 (ms)")
        labels, values = [label for label, _v in timed], [value for _l, value in timed]
        charts.append(
            (
                title,
                bar_chart(
                    labels, values, title=title, unit=" ms", fmt=translator.number
                ),
            )
        )
    return charts
