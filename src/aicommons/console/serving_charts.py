"""The endpoint page's charts: calls and compute per call over the last hours (from the metered
usage rows), request latency since the server started (from the serving engine's histogram),
and a prediction's class probabilities. Drawn with the console's own SVG charts."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup

from aicommons import serving
from aicommons.console.charts import bar_chart, line_chart
from aicommons.console.locales import Translator

MAX_CLASSES_SHOWN = 10


def calls_per_hour(
    hours: Sequence[serving.HourlyUsageRead], translator: Translator
) -> Markup:
    _ = translator.gettext
    x = [
        float(i - len(hours) + 1) for i in range(len(hours))
    ]  # hours before now: …, -1, 0
    return line_chart(
        x,
        {
            _("Calls"): [float(h.calls) for h in hours],
            _("Errors"): [float(h.errors) for h in hours],
        },
        title=_("Calls per hour"),
        x_label=_("Hours before now"),
        y_label=_("Calls"),
        fmt=translator.number,
    )


def compute_per_call(
    hours: Sequence[serving.HourlyUsageRead], translator: Translator
) -> Markup:
    _ = translator.gettext
    x = [float(i - len(hours) + 1) for i in range(len(hours))]
    return line_chart(
        x,
        {_("Model compute per call (ms)"): [h.compute_ms_per_call for h in hours]},
        title=_("Model compute per call, by hour"),
        x_label=_("Hours before now"),
        y_label=_("ms"),
        fmt=translator.number,
    )


def latency_histogram(
    histogram: serving.LatencyHistogram, translator: Translator
) -> Markup:
    """Requests per latency bucket, each labelled by its upper bound in milliseconds."""
    _ = translator.gettext
    labels, last = [], 0.0
    for bound in histogram.upper_bounds_s:
        if math.isinf(bound):
            labels.append(_("over {ms} ms", ms=translator.number(last * 1000)))
        else:
            labels.append(_("up to {ms} ms", ms=translator.number(bound * 1000)))
            last = bound
    return bar_chart(
        labels,
        [float(c) for c in histogram.counts],
        title=_("Requests by latency"),
        fmt=translator.number,
    )


def probabilities(
    prediction: dict[str, object], translator: Translator
) -> Markup | None:
    """A classifier's probabilities, most likely class first (the top few), or None for other outputs."""
    shown = prediction.get("probabilities")
    if not isinstance(shown, dict) or not shown:
        return None
    ranked = sorted(shown.items(), key=lambda item: -float(item[1]))[:MAX_CLASSES_SHOWN]
    return bar_chart(
        [str(name) for name, _p in ranked],
        [float(p) for _name, p in ranked],
        title=translator.gettext("Class probabilities"),
        fmt=translator.percent,
        highlight=[0],
    )
