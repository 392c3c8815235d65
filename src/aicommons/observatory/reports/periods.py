"""The periods a report covers: the statistics service's quarters (`2026Q3`, with the calendar
and the Chinese label a report needs), and a year's four quarters."""

from __future__ import annotations

from aicommons.observatory.statistics.periods import Quarter, parse_quarter

__all__ = ["Quarter", "parse_quarter", "year_quarters"]


def year_quarters(year: int) -> list[Quarter]:
    return [Quarter(year, n) for n in range(1, 5)]
