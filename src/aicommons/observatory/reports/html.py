"""HTML: a report as one self-contained page, through a Jinja2 template (the observatory's
templates/report.html.j2) with the charts inlined as PNG data: URIs."""

from __future__ import annotations

import base64
import functools
from datetime import date
from typing import Any

from aicommons.observatory.reports.charts import _chart_png
from aicommons.observatory.reports.contents import SAMPLE_MARK, AnnualData, BulletinData
from aicommons.observatory.reports.fonts import FONT_NOTE, _script
from aicommons.observatory.reports.views import SectionView, _views, annual_title, bulletin_title, narrative


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("aicommons.observatory", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def _html(kind: str, title: str, period: str, as_of: date, views: list[SectionView], paragraphs: list[str], cjk: bool | None) -> str:
    script = _script(cjk)
    sections = []
    for view in views:
        charts = [{"name": c.name, "title": c.title,
                   "uri": "data:image/png;base64," + base64.b64encode(_chart_png(c, script)).decode("ascii")} for c in view.charts]
        sections.append({"view": view, "charts": charts})
    return _environment().get_template("report.html.j2").render(
        kind=kind, title=title, period=period, as_of=as_of.isoformat(), sections=sections, narrative=paragraphs,
        sample=any(v.sample for v in views), sample_mark=SAMPLE_MARK, font_note=None if script.family else FONT_NOTE,
    )


def render_bulletin_html(data: BulletinData, *, cjk: bool | None = None) -> str:
    """The bulletin as one self-contained HTML page; `cjk=False` draws the charts as a machine
    without a Chinese font would."""
    return _html("bulletin", bulletin_title(data.quarter), data.quarter.label, data.quarter.last_day, _views(data, annual=False), [], cjk)


def render_annual_html(data: AnnualData, *, cjk: bool | None = None) -> str:
    return _html("annual", annual_title(data.year), str(data.year), data.last_day, _views(data, annual=True), narrative(data), cjk)
