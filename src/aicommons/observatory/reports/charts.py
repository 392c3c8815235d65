"""Charts: what a section draws (`Chart`), the bar charts of progress, ranking, tiers and
activity, and a chart as PNG bytes for the HTML."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aicommons.observatory.reports.contents import ACTIVITY_FIELDS, VERDICTS, ActivityRow, CountRow, ProgressRow, RankingRow
from aicommons.observatory.reports.fonts import Script, _style
from aicommons.observatory.reports.formatting import _clip, number

if TYPE_CHECKING:
    from matplotlib.axes import Axes


@dataclass
class Chart:
    name: str
    title: str
    draw: Callable[[Axes, Script], None]
    height: float = 3.2  # inches


CHART_LABEL_UNITS = 30  # a bar's label, in half-width characters: longer ones would leave the page


def _draw_progress(rows: list[ProgressRow], ax: Axes, script: Script) -> None:
    labels = [_clip(script(f"{r.region} {r.indicator}"), CHART_LABEL_UNITS) for r in rows][::-1]
    values = [min(max(r.progress or 0.0, 0.0), 1.5) * 100 for r in rows][::-1]
    colours = [VERDICTS.get(r.verdict, ("", "", "#9e9e9e"))[2] for r in rows][::-1]
    ax.barh(range(len(rows)), values, color=colours)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.axvline(100, color="#333333", linewidth=0.8, linestyle="--")
    ax.set_xlabel(script.label(("进度 %", "progress %")), fontsize=8)
    handles = [_patch(colour, script.label((zh, en))) for key, (zh, en, colour) in VERDICTS.items() if any(r.verdict == key for r in rows)]
    ax.set_xlim(0, max(values, default=100) + 60)  # room on the right for the legend
    ax.legend(handles=handles, fontsize=7, loc="lower right")


def _patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


def _draw_ranking(rows: list[RankingRow], ax: Axes, script: Script) -> None:
    ordered = rows[::-1]
    ax.barh(range(len(ordered)), [r.score for r in ordered], color="#1565c0")
    ax.set_yticks(range(len(ordered)), [_clip(script(f"{r.rank}. {r.region}"), CHART_LABEL_UNITS) for r in ordered], fontsize=7)
    ax.set_xlabel(script.label(("综合得分", "score")), fontsize=8)
    for i, r in enumerate(ordered):
        ax.text(r.score, i, f" {number(r.score)}", va="center", fontsize=6)


def _draw_tiers(rows: list[CountRow], annual: bool, ax: Axes, script: Script) -> None:
    ordered = rows[::-1]
    positions = list(range(len(ordered)))
    if annual:
        ax.barh([p + 0.2 for p in positions], [r.count for r in ordered], height=0.4, color="#2e7d32", label=script.label(("本年", "this year")))
        ax.barh([p - 0.2 for p in positions], [r.previous or 0 for r in ordered], height=0.4, color="#a5d6a7", label=script.label(("上年", "last year")))
        ax.legend(fontsize=7, loc="lower right")
    else:
        ax.barh(positions, [r.count for r in ordered], color="#2e7d32")
    ax.set_yticks(positions, [_clip(script(r.label), CHART_LABEL_UNITS) for r in ordered], fontsize=7)
    ax.set_xlabel(script.label(("企业数", "enterprises")), fontsize=8)


def _draw_activity(rows: list[ActivityRow], ax: Axes, script: Script) -> None:
    shown = [(name, label) for name, label in ACTIVITY_FIELDS if name != "endpoint_calls"]  # calls dwarf the rest: the table has them
    width = 0.8 / len(shown)
    for i, (name, label) in enumerate(shown):
        ax.bar([q + i * width for q in range(len(rows))], [getattr(r, name) for r in rows], width=width, label=script.label(label))
    ax.set_xticks([q + 0.4 - width / 2 for q in range(len(rows))], [r.period for r in rows], fontsize=7)
    ax.margins(y=0.35)  # headroom for the legend above the bars
    ax.legend(fontsize=6, ncols=3, loc="upper left")
    ax.set_ylabel(script.label(("数量", "count")), fontsize=8)


def _chart_png(chart: Chart, script: Script) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    with plt.rc_context(_style(script)):
        fig = Figure(figsize=(7.5, chart.height))
        ax = fig.add_subplot()
        ax.set_title(script(chart.title), fontsize=10)
        chart.draw(ax, script)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=110, metadata={"Software": None})
    return out.getvalue()
