"""Charts as inline SVG, drawn on the server: no chart library to ship, nothing for a browser
without JavaScript to miss, and text a screen reader can read (every chart has a <title>, and
each bar or point a <title> with its value).

Colours come from one palette with enough contrast on white; numbers in labels go through the
page's translator so they read in the visitor's locale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

PALETTE = ("#0b5cad", "#c2410c", "#1d6b2f", "#7c3aed", "#a4161a", "#0e7490", "#854d0e", "#4a4f57")
Format = Callable[[float], str]


def _plain(value: float) -> str:
    return f"{value:,.4g}"


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 × 10^k at or above value: where an axis ends."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def bar_chart(
    labels: Sequence[str], values: Sequence[float], *, title: str, unit: str = "", fmt: Format = _plain,
    width: int = 640, bar_height: int = 22, highlight: Sequence[int] = (),
) -> Markup:
    """Horizontal bars, one per label, longest scale from zero; `highlight` indexes draw in the accent colour."""
    if len(labels) != len(values):
        raise ValueError("A bar chart needs one value per label.")
    label_width, value_width, gap = 170, 90, 6
    top = ceiling = nice_ceiling(max((abs(v) for v in values), default=0.0))
    plot = width - label_width - value_width
    height = len(values) * (bar_height + gap) + gap
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet">',
             f"<title>{escape(title)}</title>"]
    for index, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = gap + index * (bar_height + gap)
        length = plot * abs(value) / top if ceiling else 0
        colour = PALETTE[0] if not highlight or index in highlight else "#9aa4b1"
        text = f"{fmt(value)}{unit}"
        parts.append(
            f'<g><title>{escape(label)}: {escape(text)}</title>'
            f'<text x="{label_width - 8}" y="{y + bar_height * 0.7:.1f}" text-anchor="end" font-size="13">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" fill="{colour}"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + bar_height * 0.7:.1f}" font-size="12">{escape(text)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    x: Sequence[float], series: dict[str, Sequence[float | None]], *, title: str, x_label: str = "", y_label: str = "",
    fmt: Format = _plain, width: int = 640, height: int = 260,
) -> Markup:
    """One line per series over shared x values (None leaves a gap), with a legend and y-axis ticks from zero."""
    for name, values in series.items():
        if len(values) != len(x):
            raise ValueError(f"Series {name!r} has {len(values)} values for {len(x)} x positions.")
    left, right, top_pad, bottom = 64, 16, 14, 40
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    finite = [v for values in series.values() for v in values if v is not None]
    top = nice_ceiling(max(finite, default=0.0))
    x_min, x_max = (min(x), max(x)) if x else (0.0, 1.0)
    span = (x_max - x_min) or 1.0

    def px(value: float) -> float:
        return left + plot_w * (value - x_min) / span

    def py(value: float) -> float:
        return top_pad + plot_h * (1 - value / top)

    legend_h = 18 * ((len(series) + 2) // 3)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height + legend_h}" width="100%" preserveAspectRatio="xMinYMin meet">',
             f"<title>{escape(title)}</title>"]
    for tick in range(5):
        value = top * tick / 4
        y = py(value)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#c9ced6"/>'
                     f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{escape(fmt(value))}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle" font-size="12">{escape(x_label)}</text>'
                 f'<text x="{left - 6}" y="{top_pad - 2}" text-anchor="start" font-size="12" transform="translate(-{left - 10} 0)">{escape(y_label)}</text>')
    for end, anchor in ((x_min, "start"), (x_max, "end")):
        parts.append(f'<text x="{px(end):.1f}" y="{top_pad + plot_h + 16}" text-anchor="{anchor}" font-size="11">{escape(fmt(end))}</text>')
    for index, (name, values) in enumerate(series.items()):
        colour = PALETTE[index % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for xv, yv in zip(x, values, strict=True):
            if yv is None:
                runs.append([])
            else:
                runs[-1].append(f"{px(xv):.1f},{py(yv):.1f}")
        for run in runs:
            if run:
                parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"><title>{escape(name)}</title></polyline>')
        lx, ly = left + (index % 3) * (plot_w / 3), height + 4 + 18 * (index // 3)
        parts.append(f'<rect x="{lx:.1f}" y="{ly}" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{lx + 16:.1f}" y="{ly + 11}" font-size="12">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
