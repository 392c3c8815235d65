"""k-anonymity for tables: generalise quasi-identifier columns until every combination of their
values is shared by at least k rows, then suppress the few rows still in smaller groups.

The search is Datafly's greedy one (Sweeney 2002): while some group is smaller than k, raise
the generalisation level of the quasi-identifier with the most distinct values. Each column
climbs its own hierarchy: ages to 5/10/20-year bands, postcodes by truncation, dates to month
and year, anything else straight to '*'.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from aicommons.core.errors import invalid_parameter

SUPPRESSED = "*"


@dataclass(frozen=True)
class Hierarchy:
    """Levels of generalisation for one column: level 0 is the value itself, `levels` is '*'."""

    name: str
    levels: int
    step: Callable[[Any, int], Any]

    def __call__(self, value: Any, level: int) -> Any:
        if level <= 0:
            return value
        if level >= self.levels or value is None:
            return SUPPRESSED
        return self.step(value, level)


def numeric_bands(widths: Sequence[int] = (5, 10, 20), name: str = "numeric bands") -> Hierarchy:
    """35 → '35-39' (width 5) → '30-39' (10) → '20-39' (20) → '*'."""

    def step(value: Any, level: int) -> Any:
        try:
            number = int(float(value))
        except (TypeError, ValueError):
            return SUPPRESSED
        width = widths[level - 1]
        low = number // width * width
        return f"{low}-{low + width - 1}"

    return Hierarchy(name, len(widths) + 1, step)


def prefix_truncation(length: int = 6, name: str = "prefix truncation") -> Hierarchy:
    """310012 → 31001* → 3100** → … → '*': postcodes, region codes, phone prefixes."""

    def step(value: Any, level: int) -> Any:
        text = str(value)
        keep = max(0, len(text) - level)
        return text[:keep] + "*" * (len(text) - keep) if keep else SUPPRESSED

    return Hierarchy(name, length, step)


def date_levels(name: str = "date") -> Hierarchy:
    """1990-05-12 → 1990-05 → 1990 → 1990s → '*'."""

    def step(value: Any, level: int) -> Any:
        date = _as_date(value)
        if date is None:
            return SUPPRESSED
        return [f"{date:%Y-%m}", f"{date:%Y}", f"{date.year // 10 * 10}s"][level - 1]

    return Hierarchy(name, 4, step)


def suppression(name: str = "suppression") -> Hierarchy:
    """Any value → '*'."""
    return Hierarchy(name, 1, lambda value, level: SUPPRESSED)


def taxonomy(parents: Mapping[Any, Sequence[Any]], name: str = "taxonomy") -> Hierarchy:
    """A hand-made tree: {'西湖区': ['杭州市', '浙江省'], …}; a value missing from it goes to '*'."""
    depth = max((len(p) for p in parents.values()), default=0)

    def step(value: Any, level: int) -> Any:
        chain = parents.get(value)
        return chain[level - 1] if chain and level - 1 < len(chain) else SUPPRESSED

    return Hierarchy(name, depth + 1, step)


BUILTIN_HIERARCHIES: dict[str, Callable[[], Hierarchy]] = {
    "age": lambda: numeric_bands((5, 10, 20), "age"),
    "number": lambda: numeric_bands((10, 100, 1000, 10000), "number"),
    "postcode": lambda: prefix_truncation(6, "postcode"),
    "zip": lambda: prefix_truncation(5, "zip"),
    "date": date_levels,
    "category": suppression,
}

_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})")


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    m = _ISO_DATE.match(str(value))
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    return None


def infer_hierarchy(column: str, values: Iterable[Any]) -> Hierarchy:
    """A built-in hierarchy from the column's name and values: age → age bands, numbers →
    decimal bands, 5-6 digit strings → postcode truncation, dates → month/year, else '*'."""
    sample = [v for v in values if v is not None][:200]
    lowered = column.lower()
    if "age" in lowered.split("_") or lowered in ("age", "年龄"):
        return BUILTIN_HIERARCHIES["age"]()
    if sample and all(isinstance(v, str) and v.isdigit() and len(v) in (5, 6) for v in sample):
        return prefix_truncation(max(len(v) for v in sample), "postcode")
    if sample and all(_as_date(v) is not None for v in sample):
        return date_levels()
    if sample and all(isinstance(v, int | float) and not isinstance(v, bool) for v in sample):
        return BUILTIN_HIERARCHIES["number"]()
    return suppression()


@dataclass(frozen=True)
class Step:
    """One move of the search: `column` raised to `level` (or, with `suppressed`, rows dropped),
    and the smallest group size afterwards."""

    column: str | None
    level: int
    min_group: int
    suppressed: int = 0


class KAnonymityResult(NamedTuple):
    rows: Any  # the input's kind: list of dicts, pandas DataFrame or pyarrow Table
    k_reached: int
    steps: list[Step]

    @property
    def suppressed(self) -> int:
        return sum(s.suppressed for s in self.steps)

    @property
    def levels(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in self.steps:
            if s.column is not None:
                out[s.column] = s.level
        return out


def min_group_size(rows: Sequence[Mapping[str, Any]], quasi_identifiers: Sequence[str]) -> int:
    """The size of the smallest group of rows sharing all quasi-identifier values (0 when empty)."""
    counts = Counter(tuple(r[q] for q in quasi_identifiers) for r in rows)
    return min(counts.values(), default=0)


def generalise_for_k(
    rows: Any,
    quasi_identifiers: Sequence[str],
    k: int,
    hierarchies: Mapping[str, Hierarchy | str] | None = None,
    *,
    max_suppression: float = 0.05,
) -> KAnonymityResult:
    """Generalise `quasi_identifiers` until each group has at least `k` rows.

    `rows` is a list of dicts, a pandas DataFrame or a pyarrow Table; the result's rows are of
    the same kind. `hierarchies` maps a column to a `Hierarchy` or a built-in name (age, number,
    postcode, zip, date, category); other columns get `infer_hierarchy`. Once the rows in
    too-small groups are at most `max_suppression` of the table they are dropped (counted in the
    last step) rather than generalising every row further. `k_reached` is the smallest group
    size of the result: at least `k` unless the table has fewer than `k` rows.
    """
    if not isinstance(k, int) or k < 1:
        raise invalid_parameter("k", "generalise_for_k", "an int >= 1", k)
    if not 0 <= max_suppression < 1:
        raise invalid_parameter("max_suppression", "generalise_for_k", "a fraction in [0, 1)", max_suppression)
    records, rebuild = _to_records(rows)
    qis = list(quasi_identifiers)
    missing = [q for q in qis if records and q not in records[0]]
    if not qis or missing:
        raise invalid_parameter("quasi_identifiers", "generalise_for_k", "a non-empty list of the table's columns", missing or qis)
    chosen = {q: _resolve(q, (hierarchies or {}).get(q), [r[q] for r in records]) for q in qis}
    levels = {q: 0 for q in qis}
    steps: list[Step] = []
    keep = list(range(len(records)))

    def keys() -> list[tuple[Any, ...]]:
        return [tuple(chosen[q](records[i][q], levels[q]) for q in qis) for i in range(len(records))]

    current = keys()
    while True:
        counts = Counter(current)
        small = [i for i, key in enumerate(current) if counts[key] < k]
        if not small:
            break
        if len(small) <= max_suppression * len(records) or all(levels[q] >= chosen[q].levels for q in qis):
            if len(small) < len(records):
                dropped = set(small)
                keep = [i for i in range(len(records)) if i not in dropped]
                remaining = Counter(current[i] for i in keep)
                steps.append(Step(None, 0, min(remaining.values()), suppressed=len(small)))
            break
        # Datafly: generalise the column with the most distinct values still open to it.
        open_columns = [q for q in qis if levels[q] < chosen[q].levels]
        distinct = {q: len({key[qis.index(q)] for key in current}) for q in open_columns}
        column = max(open_columns, key=lambda q: (distinct[q], -qis.index(q)))
        levels[column] += 1
        current = keys()
        steps.append(Step(column, levels[column], min(Counter(current).values())))
    out = [{**records[i], **{q: current[i][j] for j, q in enumerate(qis)}} for i in keep]
    return KAnonymityResult(rebuild(out), min_group_size(out, qis), steps)


def _resolve(column: str, given: Hierarchy | str | None, values: list[Any]) -> Hierarchy:
    if isinstance(given, Hierarchy):
        return given
    if isinstance(given, str):
        if given not in BUILTIN_HIERARCHIES:
            raise invalid_parameter(f"hierarchies[{column!r}]", "generalise_for_k", f"one of {sorted(BUILTIN_HIERARCHIES)} or a Hierarchy", given)
        return BUILTIN_HIERARCHIES[given]()
    if given is not None:
        raise invalid_parameter(f"hierarchies[{column!r}]", "generalise_for_k", "a Hierarchy or a built-in name", given)
    return infer_hierarchy(column, values)


def _to_records(rows: Any) -> tuple[list[dict[str, Any]], Callable[[list[dict[str, Any]]], Any]]:
    """Rows as a list of dicts, and a function that turns such a list back into the input's kind."""
    if isinstance(rows, list):
        return [dict(r) for r in rows], lambda out: out
    if hasattr(rows, "to_pylist") and hasattr(rows, "schema"):  # pyarrow.Table
        import pyarrow as pa

        names = list(rows.column_names)
        return rows.to_pylist(), lambda out: pa.Table.from_pylist(out) if out else rows.slice(0, 0).select(names)
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # pandas.DataFrame
        import pandas as pd

        columns = list(rows.columns)
        return rows.to_dict("records"), lambda out: pd.DataFrame(out, columns=columns)
    raise invalid_parameter("rows", "generalise_for_k", "a list of dicts, a pandas DataFrame or a pyarrow Table", type(rows).__name__)
