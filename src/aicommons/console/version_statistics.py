"""The charts of a dataset version's statistics: records per label and per split, and the
histograms the data service computed when it wrote the version (text lengths, image sizes).

The statistics are stored with the version (`data.statistics.compute`), so drawing them costs
no pass over the records.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from aicommons.console.charts import bar_chart
from aicommons.console.locales import Translator

# A version can hold thousands of labels; a chart of the most frequent ones stays readable.
MOST_FREQUENT = 30


@dataclass(frozen=True)
class StatisticsChart:
    heading: str
    chart: Markup
    note: str = ""


def statistics_charts(
    statistics: dict[str, Any], translator: Translator
) -> list[StatisticsChart]:
    """One chart per statistic the version has, in the order a reader wants them."""
    _ = translator.gettext
    charts = []
    for key, heading in (
        ("by_label", _("Records per label")),
        ("by_split", _("Records per split")),
    ):
        counts = statistics.get(key) or {}
        if counts:
            charts.append(_count_chart(heading, counts, translator))
    for key, heading, unit in (
        ("text_length", _("Text length (characters)"), _("characters")),
        ("image_width", _("Image width (pixels)"), _("pixels")),
        ("image_height", _("Image height (pixels)"), _("pixels")),
    ):
        histogram = statistics.get(key) or {}
        if histogram.get("counts"):
            charts.append(_histogram_chart(heading, unit, histogram, translator))
    return charts


def _count_chart(
    heading: str, counts: dict[str, int], translator: Translator
) -> StatisticsChart:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked[:MOST_FREQUENT]
    note = ""
    if len(ranked) > len(shown):
        note = translator.gettext(
            "The {shown} most frequent of {total} values.",
            shown=translator.number(len(shown)),
            total=translator.number(len(ranked)),
        )
    labels = [
        translator.gettext("(none)") if label == "(none)" else label
        for label, _ in shown
    ]
    chart = bar_chart(
        labels, [count for _, count in shown], title=heading, fmt=translator.number
    )
    return StatisticsChart(heading, chart, note)


def _histogram_chart(
    heading: str, unit: str, histogram: dict[str, Any], translator: Translator
) -> StatisticsChart:
    labels = bin_labels(histogram["edges"], translator)
    chart = bar_chart(labels, histogram["counts"], title=heading, fmt=translator.number)
    note = translator.gettext(
        "From {low} to {high} {unit}, {mean} on average.",
        low=translator.number(histogram["min"]),
        high=translator.number(histogram["max"]),
        mean=translator.number(histogram["mean"]),
        unit=unit,
    )
    return StatisticsChart(heading, chart, note)


def bin_labels(edges: Sequence[float], translator: Translator) -> list[str]:
    """`low–high` for each bin between consecutive edges."""
    return [
        f"{translator.number(low)}–{translator.number(high)}"
        for low, high in itertools.pairwise(edges)
    ]
