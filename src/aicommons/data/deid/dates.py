"""Dates of birth: a real calendar date in a common Chinese or English format, next to a birth
keyword. Any other date (a meeting, an order's timestamp) is not a date of birth."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass

from aicommons.data.deid.detectors import Span, detectors, keyword_pattern

_MONTH_LIST = [
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
    ("november", "nov"), ("december", "dec"),
]
MONTHS = {name: i for i, names in enumerate(_MONTH_LIST, start=1) for name in names}
_MONTH_NAMES = [(names[0], names[1] if len(names) > 1 else names[0]) for names in _MONTH_LIST]
_MONTH = r"(?P<mon>" + "|".join(sorted(MONTHS, key=len, reverse=True)) + r")\.?"
_DAY_SUFFIX = r"(?:st|nd|rd|th)?"

# Each alternative names its parts: y, m (or mon), d; `a`/`b` are the two ambiguous numeric parts
# of dd/mm/yyyy and mm/dd/yyyy.
_FORMATS = [
    r"(?P<y>(?:19|20)\d{2})(?P<sep>[-/.])(?P<m>0?[1-9]|1[0-2])(?P=sep)(?P<d>0?[1-9]|[12]\d|3[01])(?!\d)",
    r"(?P<y>(?:19|20)\d{2})\s?年\s?(?P<m>0?[1-9]|1[0-2])\s?月\s?(?P<d>0?[1-9]|[12]\d|3[01])\s?[日号]",
    r"(?P<y>(?:19|20)\d{2})(?P<m>0[1-9]|1[0-2])(?P<d>0[1-9]|[12]\d|3[01])(?!\d)",
    _MONTH + r"\s+(?P<d>[12]\d|3[01]|0?[1-9])" + _DAY_SUFFIX + r",?\s+(?P<y>(?:19|20)\d{2})(?!\d)",
    r"(?P<d>[12]\d|3[01]|0?[1-9])" + _DAY_SUFFIX + r"\s+(?:of\s+)?" + _MONTH + r",?\s+(?P<y>(?:19|20)\d{2})(?!\d)",
    r"(?P<a>0?[1-9]|[12]\d|3[01])(?P<sep>[-/.])(?P<b>0?[1-9]|[12]\d|3[01])(?P=sep)(?P<y>(?:19|20)\d{2})(?!\d)",
]
_DATES = [re.compile(r"(?<![0-9A-Za-z])" + f, re.IGNORECASE) for f in _FORMATS]
_COMPACT = 2  # index of the yyyymmdd format: a bare 8-digit number counts only with context

_BIRTH_BEFORE = keyword_pattern(
    ["出生", "生日", "生于", "出生于", "出生日期", "出生年月", "出生年月日", "诞生", "诞辰", "生辰",
     "born", "birth", "date of birth", "birthday", "DOB", "D.O.B"]
)
_BIRTH_AFTER = re.compile(r"^\s*(?:出生|生人|诞生|生(?![效产成活意气长病]))")
_TIME_AFTER = re.compile(r"^\s*(?:T|\s)?\d{1,2}:\d{2}|^\s*\d{1,2}[时点]")


@dataclass(frozen=True)
class FoundDate:
    start: int
    end: int
    date: dt.date
    text: str
    format: int  # index into the formats, used by the generalise and pseudonym operators


def find_dates(text: str, today: dt.date | None = None) -> list[FoundDate]:
    """Every real calendar date in `text` (1900 to today), leftmost-longest, without overlaps."""
    today = today or dt.date.today()
    found: list[FoundDate] = []
    for index, pattern in enumerate(_DATES):
        for m in pattern.finditer(text):
            date = _to_date(m)
            if date is not None and dt.date(1900, 1, 1) <= date <= today:
                found.append(FoundDate(m.start(), m.end(), date, m.group(), index))
    found.sort(key=lambda f: (f.start, -(f.end - f.start)))
    kept: list[FoundDate] = []
    for f in found:
        if not kept or f.start >= kept[-1].end:
            kept.append(f)
    return kept


def _to_date(m: re.Match[str]) -> dt.date | None:
    groups = m.groupdict()
    year = int(groups["y"])
    if groups.get("mon"):
        month = MONTHS[groups["mon"].lower().rstrip(".")]
        days = [int(groups["d"])]
        months = [month]
    elif groups.get("a"):
        a, b = int(groups["a"]), int(groups["b"])
        months, days = [a, b], [b, a]  # mm/dd (US) first, then dd/mm
    else:
        months, days = [int(groups["m"])], [int(groups["d"])]
    for month, day in zip(months, days):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    return None


@detectors.register("birth_date")
def find_birth_dates(text: str) -> Iterator[Span]:
    """A date with a birth keyword shortly before it (not beyond the previous date) or 出生/生
    right after it: 0.9. A date followed by a time of day is a timestamp (0.05); any other date
    scores 0.25 and is not reported by default."""
    previous_end = 0
    for f in find_dates(text):
        window_start = max(previous_end, f.start - 24)
        previous_end = f.end
        if _TIME_AFTER.search(text[f.end : f.end + 6]):
            score = 0.05
        elif _BIRTH_BEFORE.search(text[window_start : f.start]) or _BIRTH_AFTER.search(text[f.end : f.end + 4]):
            score = 0.9
        else:
            score = 0.25
        if f.format == _COMPACT and score < 0.9:
            continue
        yield Span(f.start, f.end, "birth_date", f.text, score)


def _match_date(text: str) -> re.Match[str] | None:
    for pattern in _DATES:
        m = pattern.fullmatch(text.strip())
        if m is not None and _to_date(m) is not None:
            return m
    return None


def reformat_date(original: str, new: dt.date) -> str:
    """`new` written the way `original` is (1990-05-12, 1990年5月12日, May 12, 1990, 05/12/1990 …)."""
    m = _match_date(original)
    if m is None:
        return new.isoformat()
    old = _to_date(m)
    groups = m.groupdict()
    values: dict[str, str] = {"y": str(new.year)}
    if groups.get("mon"):
        token = groups["mon"]
        bare = token.rstrip(".").lower()
        full, abbr = _MONTH_NAMES[new.month - 1]
        name = full if bare == _MONTH_NAMES[MONTHS[bare] - 1][0] and len(bare) > 3 else abbr
        name = name.capitalize() if token[0].isupper() else name
        values["mon"] = name + ("." if token.endswith(".") and name == abbr else "")
    numbers = [groups[k] for k in ("m", "d", "a", "b") if groups.get(k)]
    padded = (
        m.re is _DATES[_COMPACT]
        or any(n.startswith("0") for n in numbers)
        or (m.re is _DATES[0] and all(len(n) == 2 for n in numbers))
    )

    def put(key: str, number: int) -> str:
        return f"{number:02d}" if padded else str(number)

    for key, number in (("m", new.month), ("d", new.day)):
        if groups.get(key):
            values[key] = put(key, number)
    if groups.get("a"):
        month_first = old is not None and int(groups["a"]) == old.month and int(groups["b"]) == old.day
        first, second = (new.month, new.day) if month_first else (new.day, new.month)
        values["a"], values["b"] = put("a", first), put("b", second)
    out, last = [], 0
    spans = sorted((m.span(k), k) for k in values if groups.get(k))
    for (s, e), key in spans:
        out.append(m.string[last:s])
        out.append(values[key])
        last = e
    out.append(m.string[last:])
    return "".join(out)


def year_of(original: str) -> str | None:
    """The year of a date as text, kept in the date's language: 1990年 or 1990."""
    m = _match_date(original)
    if m is None:
        return None
    return m.group("y") + ("年" if "年" in original else "")
