"""Progress of each policy target: latest value, share of the target, trend, projection, verdict.

For a target on indicator X in region R, the series is the current observations of X for R (up to
`as_of`). The verdict, with its arithmetic in words:

- **achieved**: the latest value reaches the target (a range: its lower end; 左右: within ±10%);
- **level / count / share** targets not yet reached: the least-squares line over the quarters is
  projected to the fourth quarter of the deadline year (one observation: no trend, the latest value
  stands), and the projection's share of the target (from the baseline where one is stated) gives
  **on track** (≥ 100%), **at risk** (≥ 80%) or **off track** (< 80%). After the deadline, an
  unreached target is off track.
- **growth-rate** targets (年均增长 15%): the CAGR of the series against the rate, same thresholds;
  achieved once the deadline has passed with the CAGR at or above the rate.
- **every-year** targets (每年…): the latest year's quarters summed, annualised when the year is
  not complete (sum ÷ quarters × 4), against the yearly value; a complete year that reaches it is achieved.
- **no data**: no observation yet (or, for growth, fewer than two, or a first value of zero).

Example: "projected 2,640 at 2027Q4 = 88% of 3,000 → at risk (≥ 80%)".
"""

from __future__ import annotations

import math

from sqlalchemy.orm import Session

from aicommons.core.permissions import Actor
from aicommons.observatory.statistics.areas import find_area
from aicommons.observatory.statistics.indicators import find_indicator
from aicommons.observatory.statistics.observations import series
from aicommons.observatory.statistics.periods import Quarter, parse_quarter
from aicommons.observatory.statistics.schemas import (
    Comparator,
    Kind,
    ProgressRead,
    Verdict,
)
from aicommons.observatory.statistics.tables import Observation
from aicommons.observatory.statistics.targets import (
    TargetSpec,
    catalogue,
    check_document,
    find_target,
    to_read,
)
from aicommons.observatory.statistics.trends import cagr, figure, least_squares

ON_TRACK, AT_RISK = 1.0, 0.8  # shares of the target a projection must reach
ABOUT_TOLERANCE = 0.10  # 左右: within ±10% of the value counts as reached


def percent(ratio: float) -> str:
    """A share as whole percent, rounded down so a shown 100% never sits beside a verdict below it."""
    return f"{math.floor(ratio * 100 + 1e-9)}%"


def _banded(ratio: float) -> tuple[Verdict, str]:
    if ratio >= ON_TRACK:
        return Verdict.on_track, f"on track (≥ {ON_TRACK:.0%})"
    if ratio >= AT_RISK:
        return Verdict.at_risk, f"at risk (≥ {AT_RISK:.0%})"
    return Verdict.off_track, f"off track (< {AT_RISK:.0%})"


def _share(target: TargetSpec, value: float) -> float:
    base = target.baseline or 0.0
    return (value - base) / (target.value - base)


def _reached(target: TargetSpec, value: float) -> bool:
    if target.comparator == Comparator.about:
        return abs(value - target.value) <= ABOUT_TOLERANCE * target.value
    return value >= target.value


def _target_text(target: TargetSpec) -> str:
    if target.comparator == Comparator.range:
        return f"{figure(target.value)}–{figure(target.value_max)} {target.unit}"
    about = "about " if target.comparator == Comparator.about else ""
    return f"{about}{figure(target.value)} {target.unit}"


def _judge_growth(target: TargetSpec, rows: list[Observation], now: Quarter, result: dict) -> None:
    first, last = rows[0], rows[-1]
    t0, t1 = parse_quarter(first.quarter), parse_quarter(last.quarter)
    if len(rows) < 2 or first.value <= 0 or t1.index == t0.index:
        result.update(verdict=Verdict.no_data, arithmetic=f"growth needs two quarters with a first value above zero; have {len(rows)} observation(s)")
        return
    rate = cagr(first.value, last.value, t1.index - t0.index)
    ratio = rate / target.value
    head = (f"CAGR {t0}→{t1} = ({figure(last.value)} / {figure(first.value)})^(4/{t1.index - t0.index}) − 1 = {rate:.1f}% a year "
            f"= {percent(ratio)} of {figure(target.value)}%")
    if now > Quarter(target.deadline, 4):
        verdict, band = (Verdict.achieved, "achieved by the deadline") if rate >= target.value else (Verdict.off_track, f"off track (deadline {target.deadline} passed)")
    else:
        verdict, band = _banded(ratio)
    result.update(growth_rate=rate, projected=rate, projected_share=ratio, share_of_target=ratio, verdict=verdict, arithmetic=f"{head} → {band}")


def _judge_yearly(target: TargetSpec, rows: list[Observation], result: dict) -> None:
    year = parse_quarter(rows[-1].quarter).year
    in_year = [r for r in rows if r.quarter.startswith(str(year))]
    total = sum(r.value for r in in_year)
    annualised = total / len(in_year) * 4
    ratio = _share(target, annualised)
    if len(in_year) == 4:
        head = f"{year}: four quarters sum to {figure(total)} = {percent(ratio)} of {figure(target.value)} a year"
        verdict, band = (Verdict.achieved, "achieved") if _reached(target, total) else _banded(ratio)
    else:
        head = (f"{year}: {len(in_year)} quarter(s) sum to {figure(total)}, annualised {figure(total)} / {len(in_year)} × 4 = "
                f"{figure(annualised)} = {percent(ratio)} of {figure(target.value)} a year")
        verdict, band = _banded(ratio)
    result.update(latest=total, share_of_target=_share(target, total), projected=annualised, projected_share=ratio, verdict=verdict,
                  arithmetic=f"{head} → {band}")


def _judge_level(target: TargetSpec, rows: list[Observation], now: Quarter, result: dict) -> None:
    latest = rows[-1]
    deadline = Quarter(target.deadline, 4)
    share = _share(target, latest.value)
    result["share_of_target"] = share
    points = [(parse_quarter(r.quarter).index, r.value) for r in rows]
    if len(points) >= 2:
        intercept, slope = least_squares(points)
        result["trend_per_quarter"] = slope
        projected = intercept + slope * deadline.index
        how = f"least-squares trend {figure(slope)} a quarter over {len(points)} quarters; projected {figure(projected)} at {deadline}"
    else:
        projected = latest.value
        how = f"one observation, no trend; projected {figure(projected)} at {deadline}"
    ratio = _share(target, projected)
    result.update(projected=projected, projected_share=ratio)
    reached = f"latest {figure(latest.value)} ({latest.quarter}) = {percent(share)} of {_target_text(target)}"
    if _reached(target, latest.value):
        result.update(verdict=Verdict.achieved, arithmetic=f"{reached} → achieved")
    elif now > deadline:
        result.update(verdict=Verdict.off_track, arithmetic=f"{reached}; deadline {deadline} passed → off track")
    else:
        verdict, band = _banded(ratio)
        result.update(verdict=verdict, arithmetic=f"{reached}; {how} = {percent(ratio)} of {figure(target.value)} → {band}")


def judge(target: TargetSpec, rows: list[Observation], as_of: Quarter | None) -> ProgressRead:
    """The progress of `target` from its observations `rows` (oldest first)."""
    read = to_read(target)
    unit = find_indicator(target.indicator).unit
    result: dict = {
        "target_id": target.id, "citation": read.citation, "indicator": target.indicator, "indicator_name": read.indicator_name,
        "region": target.region, "region_name": read.region_name, "unit": target.unit if target.kind == Kind.growth_rate else unit,
        "kind": target.kind, "target": target.value, "target_max": target.value_max, "deadline": target.deadline,
        "observations": len(rows), "sample": any(r.sample for r in rows),
    }  # fmt: skip
    if not rows:
        where = f"{read.indicator_name} ({target.indicator}) in {read.region_name}"
        return ProgressRead(**result, as_of=as_of.label if as_of else None, verdict=Verdict.no_data, arithmetic=f"no observation of {where} yet")
    now = as_of or parse_quarter(rows[-1].quarter)
    result.update(as_of=now.label, latest=rows[-1].value, latest_quarter=rows[-1].quarter)
    if target.kind == Kind.growth_rate:
        _judge_growth(target, rows, now, result)
    elif target.every_year:
        _judge_yearly(target, rows, result)
    else:
        _judge_level(target, rows, now, result)
    return ProgressRead(**result)


def get_progress(session: Session, actor: Actor, target_id: str, *, as_of: str | None = None) -> ProgressRead:
    """One target's progress; readable by every signed-in actor."""
    target = find_target(target_id)
    until = parse_quarter(as_of, "as_of") if as_of is not None else None
    return judge(target, series(session, target.indicator, [target.region], until=until)[target.region], until)


def list_progress(
    session: Session, actor: Actor, *, as_of: str | None = None, document: str | None = None, region: str | None = None
) -> list[ProgressRead]:
    """Every target's progress (filtered by document or region), in the catalogue's order."""
    check_document(document)
    until = parse_quarter(as_of, "as_of") if as_of is not None else None
    code = find_area(region).code if region is not None else None
    chosen = [t for t in catalogue().targets if (document is None or t.document == document) and (code is None or t.region == code)]
    by_indicator: dict[str, set[str]] = {}
    for target in chosen:
        by_indicator.setdefault(target.indicator, set()).add(target.region)
    found = {indicator: series(session, indicator, regions, until=until) for indicator, regions in by_indicator.items()}
    return [judge(t, found[t.indicator][t.region], until) for t in chosen]
