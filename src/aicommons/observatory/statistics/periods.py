"""Quarters as the statistics key them: `2026Q3`, ordered, with an index for fitting trends."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from aicommons.core.errors import Invalid

FIRST_YEAR, LAST_YEAR = 2000, 2100
QUARTERS_ZH = ("一", "二", "三", "四")
_QUARTER = re.compile(r"(\d{4})\s*-?\s*Q(\d)", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    number: int  # 1 to 4

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def label_zh(self) -> str:
        return f"{self.year}年第{QUARTERS_ZH[self.number - 1]}季度"

    @property
    def index(self) -> int:
        """Quarters since year 0: consecutive quarters differ by one."""
        return self.year * 4 + self.number - 1

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the quarter."""
        return Quarter.from_index(self.index + 1).start

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    @classmethod
    def from_index(cls, index: int) -> Quarter:
        return cls(index // 4, index % 4 + 1)

    def trailing(self, count: int) -> list[Quarter]:
        """This quarter and the `count - 1` before it, oldest first."""
        return [Quarter.from_index(i) for i in range(self.index - count + 1, self.index + 1)]

    def __str__(self) -> str:
        return self.label


def parse_quarter(text: object, name: str = "quarter") -> Quarter:
    """`2026Q3` (also `2026-Q3`, `2026q3`); Invalid naming the expected form for `2026Q5` and the like."""
    match = _QUARTER.fullmatch(str(text).strip())
    if not match or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR or not 1 <= int(match.group(2)) <= 4:
        raise Invalid(
            f"The {name!r} parameter must be a year from {FIRST_YEAR} to {LAST_YEAR} and a quarter 1 to 4 written "
            f"like 2026Q3; got {text!r} instead."
        )
    return Quarter(int(match.group(1)), int(match.group(2)))


def check_year(year: int, name: str = "year") -> int:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise Invalid(f"The {name!r} parameter must be a year from {FIRST_YEAR} to {LAST_YEAR}; got {year!r} instead.")
    return year
