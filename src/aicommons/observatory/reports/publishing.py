"""Publishing: a report gathered once and rendered in each format asked for, one render at a time."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.orm import Session

from aicommons.core.errors import Invalid
from aicommons.core.permissions import Actor
from aicommons.observatory.reports.gathering import gather_annual, gather_bulletin
from aicommons.observatory.reports.html import render_annual_html, render_bulletin_html
from aicommons.observatory.reports.pdf import render_annual_pdf, render_bulletin_pdf

FORMATS = ("html", "pdf")
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
# Rendering sets matplotlib's global rcParams (fonts) for its duration: one render at a time, so
# two API requests in their worker threads never draw with each other's settings.
_RENDERING = threading.Lock()


@dataclass
class Publication:
    filename: str
    media_type: str
    content: bytes


def _check_formats(formats: Sequence[str]) -> list[str]:
    wrong = [f for f in formats if f not in FORMATS]
    if wrong or not formats:
        raise Invalid(f"The 'format' parameter must be one of {', '.join(FORMATS)}; got {', '.join(map(str, formats)) or 'nothing'} instead.")
    return list(dict.fromkeys(formats))


def publish_bulletin(session: Session, actor: Actor, quarter: str, formats: Sequence[str] = FORMATS) -> list[Publication]:
    """The quarter's bulletin in each format, gathered once; rendered synchronously (see docs)."""
    wanted = _check_formats(formats)
    data = gather_bulletin(session, actor, quarter)
    renderers = {"html": lambda: render_bulletin_html(data).encode("utf-8"), "pdf": lambda: render_bulletin_pdf(data)}
    with _RENDERING:
        return [Publication(f"bulletin-{data.quarter.label}.{f}", MEDIA_TYPES[f], renderers[f]()) for f in wanted]


def publish_annual(session: Session, actor: Actor, year: int, formats: Sequence[str] = FORMATS) -> list[Publication]:
    """The year's industry development report in each format, gathered once."""
    wanted = _check_formats(formats)
    data = gather_annual(session, actor, year)
    renderers = {"html": lambda: render_annual_html(data).encode("utf-8"), "pdf": lambda: render_annual_pdf(data)}
    with _RENDERING:
        return [Publication(f"annual-report-{data.year}.{f}", MEDIA_TYPES[f], renderers[f]()) for f in wanted]
