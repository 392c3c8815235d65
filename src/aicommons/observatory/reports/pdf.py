"""PDF: a report as A4 pages through matplotlib's PdfPages, charts drawn as vectors; the same
data gives the same bytes."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from aicommons.observatory.reports.charts import Chart
from aicommons.observatory.reports.contents import SAMPLE_MARK, AnnualData, BulletinData, Label
from aicommons.observatory.reports.fonts import FONT_NOTE, Script, _script, _style
from aicommons.observatory.reports.formatting import _clip, _width
from aicommons.observatory.reports.views import SectionView, Table, _views, annual_title, bulletin_title, narrative

if TYPE_CHECKING:
    from matplotlib.figure import Figure

A4 = (8.27, 11.69)
TOP, BOTTOM, LEFT = 0.95, 0.05, 0.07
ROW_HEIGHT = 15 / 72 / A4[1]  # a table row or a line of text: 15 pt, as a share of the page
LINE_UNITS = 104  # a 9 pt line's width in half-width characters; a Chinese character counts two
TABLE_UNITS = 150  # the same for a table row at 6.5 pt, cells padded


def _wrap(text: str, units: int = LINE_UNITS) -> list[str]:
    """Break `text` into lines of at most `units` display columns (Chinese has no spaces to break at)."""
    lines, line, width = [], "", 0
    for char in text:
        w = _width(char)
        if width + w > units:
            lines.append(line)
            line, width = "", 0
        line, width = line + char, width + w
    return [*lines, line] if line else lines


class _Pages:
    """A4 pages that headings, text, tables and charts flow down, starting a new page when full."""

    def __init__(self, pdf: Any, script: Script):
        self.pdf, self.script = pdf, script
        self.fig: Figure | None = None
        self.y = TOP

    def _new(self) -> None:
        from matplotlib.figure import Figure

        if self.fig is not None:
            self.pdf.savefig(self.fig)
        self.fig, self.y = Figure(figsize=A4), TOP

    def room(self, height: float) -> None:
        if self.fig is None or (self.y - height < BOTTOM and self.y < TOP):
            self._new()

    def text(self, text: str, *, size: float = 9, weight: str = "normal", colour: str = "#1a1a1a") -> None:
        for line in _wrap(self.script(text), int(LINE_UNITS * 9 / size)):
            step = (size + 6) / 72 / A4[1]
            self.room(step)
            assert self.fig is not None
            self.fig.text(LEFT, self.y, line, fontsize=size, weight=weight if self.script.family is None else "normal", color=colour, va="top")
            self.y -= step

    def gap(self, height: float = 0.01) -> None:
        self.y -= height

    def table(self, table: Table) -> None:
        rows = table.rows or [["—"] * len(table.columns)]
        start = 0
        while start < len(rows):
            self.room(ROW_HEIGHT * 3)
            fitting = max(int((self.y - BOTTOM) / ROW_HEIGHT) - 1, 1)
            chunk = rows[start:start + fitting]
            self._draw_table(table, chunk)
            start += len(chunk)

    def _draw_table(self, table: Table, rows: list[list[str]]) -> None:
        assert self.fig is not None
        height = ROW_HEIGHT * (len(rows) + 1)
        ax = self.fig.add_axes((LEFT, self.y - height, 1 - 2 * LEFT, height))
        ax.axis("off")
        widths = table.widths or [1 / len(table.columns)] * len(table.columns)
        cells = [[_clip(self.script(c), int(w * TABLE_UNITS)) for c, w in zip(row, widths)] for row in rows]
        headers = [_clip(self.script(zh) if self.script.family else en, int(w * TABLE_UNITS)) for (zh, en), w in zip(table.columns, widths)]
        drawn = ax.table(cellText=cells, colLabels=headers,
                         colWidths=widths, loc="upper left", cellLoc="left", colLoc="left", bbox=(0, 0, 1, 1))
        drawn.auto_set_font_size(False)
        drawn.set_fontsize(6.5)
        for (row, _), cell in drawn.get_celld().items():
            cell.set_linewidth(0.3)
            if row == 0:
                cell.set_facecolor("#eeeeee")
        self.y -= height + 0.015

    def chart(self, chart: Chart) -> None:
        height = min(chart.height / A4[1], TOP - BOTTOM - 0.05)
        self.room(height + 0.03)
        assert self.fig is not None
        ax = self.fig.add_axes((LEFT + 0.2, self.y - height + 0.02, 1 - 2 * LEFT - 0.22, height - 0.04))
        ax.set_title(self.script(chart.title), fontsize=9)
        chart.draw(ax, self.script)
        self.y -= height + 0.02

    def close(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)


def _pdf(title: Label, period: str, as_of: date, views: list[SectionView], paragraphs: list[str], cjk: bool | None) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    script = _script(cjk)
    metadata = {"Title": script(title[0]) if script.family else title[1], "Subject": period, "Creator": "aicommons", "Producer": "aicommons",
                "CreationDate": datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)}
    out = io.BytesIO()
    with plt.rc_context(_style(script)), PdfPages(out, metadata=metadata) as pdf:
        pages = _Pages(pdf, script)
        pages.text(title[0] if script.family else title[1], size=17, weight="bold")
        pages.text(f"数据截至 {as_of.isoformat()}" if script.family else f"Figures as of {as_of.isoformat()}", size=9, colour="#555555")
        if any(v.sample for v in views):
            pages.text(f"本报告含{SAMPLE_MARK}：标注“{SAMPLE_MARK}”的数字来自示例数据，不代表真实统计。" if script.family
                       else "Contains sample data: figures marked as such are not real statistics.", colour="#b00020", weight="bold")
        if not script.family:
            pages.text(FONT_NOTE, colour="#b00020")
        if paragraphs:
            pages.gap()
            pages.text(script.label(("综述", "Overview")), size=13, weight="bold")
            if script.family:
                for paragraph in paragraphs:
                    pages.text(paragraph)
            else:
                pages.text("The overview is written in Chinese: see the HTML report.")
        for view in views:
            pages.gap(0.015)
            pages.room(0.12)
            pages.text(script.label(view.title) + (f"（{SAMPLE_MARK}）" if view.sample and script.family else ""), size=13, weight="bold")
            if view.sample:
                pages.text(f"本节含{SAMPLE_MARK}。" if script.family else "This section contains sample data.", colour="#b00020")
            if view.missing:
                pages.text(("暂无数据：" if script.family else "No data: ") + view.missing, colour="#555555")
                continue
            for line in view.lines:
                pages.text(line)
            for table in view.tables:
                pages.table(table)
            for chart in view.charts:
                pages.chart(chart)
        pages.close()
    return out.getvalue()


def render_bulletin_pdf(data: BulletinData, *, cjk: bool | None = None) -> bytes:
    """The bulletin as a PDF; the same data gives the same bytes."""
    return _pdf((bulletin_title(data.quarter), f"AI industry statistics bulletin, {data.quarter.label}"), data.quarter.label, data.quarter.last_day, _views(data, annual=False), [], cjk)


def render_annual_pdf(data: AnnualData, *, cjk: bool | None = None) -> bytes:
    return _pdf((annual_title(data.year), f"AI industry development report {data.year}"), str(data.year), data.last_day, _views(data, annual=True), narrative(data), cjk)
