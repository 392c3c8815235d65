"""Formatting: numbers, yuan, percentages, changes on last year, sample marks and verdicts as
text, and text clipped to a number of display columns (a Chinese character counts two)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

from aicommons.observatory.reports.contents import SAMPLE_MARK, VERDICTS


def number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def yuan(amount: float | None) -> str:
    """Amounts as 万元 (ten thousand yuan), the unit the policies use."""
    return "—" if amount is None else f"{amount / 10_000:,.2f} 万元"


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.1f}%"


def change(current: float, previous: float | None, shown: Callable[[float], str] = number) -> str:
    """`+12 (+25.0%)`: the change from last year, or — when there is nothing to compare."""
    if previous is None:
        return "—"
    delta = current - previous
    ratio = f" ({delta / previous * 100:+.1f}%)" if previous else ""
    return f"{'+' if delta >= 0 else '-'}{shown(abs(delta))}{ratio}"


def _with_sample(count: int, sample: int, unit: str = "") -> str:
    """`40 家（含示例数据 12 家）`: a count and how many of it are sample data."""
    return f"{count:,}{unit}（含{SAMPLE_MARK} {sample:,}{unit}）" if sample else f"{count:,}{unit}"


def _marked(text: str, sample: bool) -> str:
    return f"{text}（{SAMPLE_MARK}）" if sample else text


def verdict_label(verdict: str) -> str:
    return VERDICTS.get(verdict, (verdict, verdict, ""))[0]


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _clip(text: str, units: int) -> str:
    """`text` cut to `units` display columns with an ellipsis: a table cell does not wrap (the HTML has it whole)."""
    if sum(map(_width, text)) <= units:
        return text
    mark = f"（{SAMPLE_MARK}）"
    if text.endswith(mark):  # the mark survives the cut
        return _clip(text.removesuffix(mark), units - 2 * len(mark)) + mark
    kept, width = "", 1
    for char in text:
        if width + _width(char) > units:
            break
        kept, width = kept + char, width + _width(char)
    return kept + "…"
