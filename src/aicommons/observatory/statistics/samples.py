"""Sample statistics for the demo: quarterly figures for Zhejiang, its 11 cities and Binjiang.

Every row is marked: source `sample` and `sample = True`, and reports print 示例数据 beside them.
They are not real statistics. The figures are drawn from a seeded generator, so the same seed
gives the same rows: the province's path of each indicator is a straight line (chosen so that the
targets of 001 一(二) land on different verdicts), each city takes a share of it with its own tilt
and noise, and the province's row is the sum of its cities' (the share of high-performance compute
is a level of its own per city). Binjiang gets the two indicators of 002 一(二) it has targets for.
"""

from __future__ import annotations

import random

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import Invalid
from aicommons.core.ids import new_id
from aicommons.core.permissions import Actor
from aicommons.core.officials import require_official
from aicommons.observatory.statistics.areas import PROVINCE_CODE, city_codes, find_area
from aicommons.observatory.statistics.periods import Quarter, parse_quarter
from aicommons.observatory.statistics.schemas import (
    EvaluationCreate,
    EvaluationIndicator,
)
from aicommons.observatory.statistics.tables import Observation

SOURCE = "sample"
BINJIANG = "330108"
FIRST, LAST = "2024Q1", "2026Q3"

# indicator: (province value at the first quarter, change a quarter, decimals); additive over cities.
PROVINCE_PATHS = {
    "ai_enterprises": (1500.0, 70.0, 0),
    "ai_revenue": (5200.0, 230.0, 1),
    "compute_capacity": (6.0, 1.0, 2),
    "core_invention_patents": (300.0, 25.0, 0),
    "industry_models": (4.0, 2.0, 0),
    "application_scenarios": (60.0, 22.0, 0),
}
SHARE_PATH = ("high_performance_compute_share", 18.0, 0.6)  # %, a level per city
BINJIANG_PATHS = {"ai_revenue": (820.0, 30.0, 1), "ai_high_tech_enterprises": (150.0, 3.0, 0)}

# Each city's share of the province's AI activity (Hangzhou leads, then Ningbo), by GB/T 2260 code.
CITY_SHARES = {
    "330100": 0.52, "330200": 0.14, "330300": 0.06, "330400": 0.05, "330500": 0.04, "330600": 0.05,
    "330700": 0.05, "330800": 0.015, "330900": 0.01, "331000": 0.04, "331100": 0.01,
}  # fmt: skip

SAMPLE_EVALUATION = EvaluationCreate(
    year=2025, name="示例数据：2025年度各市人工智能产业发展综合评价",
    indicators=[EvaluationIndicator(indicator=key) for key in (*PROVINCE_PATHS, SHARE_PATH[0])],
)


def sample_values(first: Quarter, last: Quarter, seed: int) -> dict[tuple[str, str, str], float]:
    """{(indicator, region, quarter): value} for the province, its cities and Binjiang."""
    if set(CITY_SHARES) != set(city_codes()):
        raise RuntimeError("The sample's city shares must name exactly Zhejiang's 11 cities.")
    rng = random.Random(seed)
    tilts = {code: rng.uniform(-0.012, 0.02) for code in sorted(CITY_SHARES)}
    levels = {code: rng.uniform(-6.0, 6.0) for code in sorted(CITY_SHARES)}
    quarters = [Quarter.from_index(i) for i in range(first.index, last.index + 1)]
    values: dict[tuple[str, str, str], float] = {}
    for step, quarter in enumerate(quarters):
        for indicator, (start, change, decimals) in PROVINCE_PATHS.items():
            province = start + change * step
            total = 0.0
            for code in sorted(CITY_SHARES):
                value = round(province * CITY_SHARES[code] * (1 + tilts[code] * step) * rng.uniform(0.95, 1.05), decimals)
                values[(indicator, code, quarter.label)] = value
                total += value
            values[(indicator, PROVINCE_CODE, quarter.label)] = round(total, decimals)
        indicator, start, change = SHARE_PATH
        for code in sorted(CITY_SHARES):
            values[(indicator, code, quarter.label)] = round(min(max(start + levels[code] + change * step + rng.uniform(-0.5, 0.5), 0.0), 100.0), 1)
        values[(indicator, PROVINCE_CODE, quarter.label)] = round(start + change * step, 1)
        for indicator, (start, change, decimals) in BINJIANG_PATHS.items():
            values[(indicator, BINJIANG, quarter.label)] = round((start + change * step) * rng.uniform(0.98, 1.02), decimals)
    return values


def add_sample_observations(session: Session, actor: Actor, *, first: str = FIRST, last: str = LAST, seed: int = 7) -> int:
    """Record the sample figures (superseding earlier ones of the same keys); one audit entry. Returns the row count."""
    require_official(session, actor, "add sample statistics")
    start, end = parse_quarter(first, "first"), parse_quarter(last, "last")
    if end < start or end.index - start.index >= 40:
        raise Invalid(f"The sample's quarters must run forwards over at most 40 quarters; got {start} to {end}.")
    values = sample_values(start, end, seed)
    now = utcnow()
    current = {
        (row.indicator, row.region, row.quarter): row
        for row in session.scalars(sa.select(Observation).where(
            Observation.superseded_by.is_(None), Observation.quarter >= start.label, Observation.quarter <= end.label))
    }  # fmt: skip
    for (indicator, region, quarter), value in sorted(values.items()):
        previous = current.get((indicator, region, quarter))
        row = Observation(
            id=new_id("obs"), indicator=indicator, region=find_area(region).code, quarter=quarter, value=value, source=SOURCE, sample=True,
            note="示例数据 (sample data, not real statistics)", recorded_by=actor.user_id, recorded_at=now,
            supersedes=previous.id if previous else None,
        )  # fmt: skip
        if previous is not None:
            previous.superseded_by = row.id
        session.add(row)
    session.flush()
    audit.record(session, actor, "statistics.sample", "stat_observation", f"sample:{start}-{end}:{seed}", org_id=None,
                 detail={"rows": len(values), "first": start.label, "last": end.label, "seed": seed})
    return len(values)
