"""The annual regional comprehensive evaluation (001 七(四) 每年对各地人工智能产业发展情况进行综合评价).

An official chooses indicators (with directions and, optionally, weights), regions (default: the 11
cities) and a normalisation; the run reads each region's value of each indicator for the year from
the current observations (a stock, `aggregation: last`: the year's latest quarter; a flow, `sum`:
the year's quarters summed), computes the composite index (see `composite`), and does the same for
the year before with the same choices, so every region shows its previous rank and score and the
change. A region without a value for every indicator in a year is left out of that year, and the
evaluation says so. The evaluation is stored with its inputs, weights and arithmetic, and audited;
everyone signed in may read it. The latest evaluation of a year is its published ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import Invalid, NotFound, not_found
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Actor
from aicommons.core.schemas import Page
from aicommons.core.officials import require_official
from aicommons.observatory.statistics import composite
from aicommons.observatory.statistics.areas import city_codes, find_area
from aicommons.observatory.statistics.indicators import find_indicator
from aicommons.observatory.statistics.observations import series
from aicommons.observatory.statistics.periods import Quarter, check_year
from aicommons.observatory.statistics.schemas import (
    Direction,
    EvaluationCreate,
    EvaluationIndicator,
    EvaluationRead,
    RegionScore,
)
from aicommons.observatory.statistics.tables import Evaluation

KIND = "stat_evaluation"


@dataclass
class YearInputs:
    values: dict[str, dict[str, float]]  # region -> indicator -> value, complete regions only
    left_out: list[str]
    sample: bool


def annual_inputs(session: Session, year: int, regions: list[str], indicators: list[str]) -> YearInputs:
    values: dict[str, dict[str, float]] = {code: {} for code in regions}
    missing: dict[str, list[str]] = {code: [] for code in regions}
    sample = False
    for key in indicators:
        aggregation = find_indicator(key).aggregation
        for code, rows in series(session, key, regions, until=Quarter(year, 4)).items():
            in_year = [r for r in rows if r.quarter.startswith(f"{year}Q")]
            if not in_year:
                missing[code].append(key)
                continue
            sample = sample or any(r.sample for r in in_year)
            values[code][key] = in_year[-1].value if aggregation == "last" else sum(r.value for r in in_year)
    left_out = [f"{code} {find_area(code).name}: no {year} value of {', '.join(keys)}" for code, keys in missing.items() if keys]
    return YearInputs({code: row for code, row in values.items() if not missing[code]}, left_out, sample)


@dataclass
class YearResult:
    weights: list[float]
    scored: list[composite.Scored]
    arithmetic: list[str]


def evaluate_year(spec: EvaluationCreate, inputs: YearInputs) -> YearResult:
    keys = [i.indicator for i in spec.indicators]
    regions = sorted(inputs.values)
    matrix = [[inputs.values[code][key] for key in keys] for code in regions]
    higher = [i.direction == Direction.higher_is_better for i in spec.indicators]
    unit_range = composite.min_max(matrix, higher)
    arithmetic = []
    if spec.indicators[0].weight is not None:
        weights = composite.scale_weights([i.weight or 0.0 for i in spec.indicators])
        arithmetic.append("given weights, scaled to sum to 1: " + ", ".join(f"{k} {w:.4f}" for k, w in zip(keys, weights, strict=True)))
    else:
        found = composite.entropy_weights(unit_range)
        weights = found.weights
        arithmetic.append(f"entropy weights over {len(regions)} regions (k = 1/ln {len(regions)}): " + "; ".join(
            f"{k}: e = {e:.4f}, d = 1 − e = {d:.4f}, w = d/Σd = {w:.4f}"
            for k, e, d, w in zip(keys, found.entropy, found.divergence, weights, strict=True)))
    normalised = unit_range if spec.normalisation == "min-max" else composite.z_score(matrix, higher)
    scale = 100.0 if spec.normalisation == "min-max" else 1.0
    scored = composite.score(regions, normalised, weights, scale)
    arithmetic.append(f"score = {'100 × ' if scale == 100 else ''}Σ w_j · x'_j ({spec.normalisation}); ties ordered by region code")
    return YearResult(weights, scored, arithmetic)


def _check(spec: EvaluationCreate) -> list[str]:
    check_year(spec.year)
    keys = [find_indicator(i.indicator, "indicators").key for i in spec.indicators]
    if len(set(keys)) != len(keys):
        raise Invalid(f"The 'indicators' parameter must name each indicator once; got {keys!r}.")
    given = [i.weight is not None for i in spec.indicators]
    if any(given) and not all(given):
        raise Invalid("The 'weight' of the indicators must be given for all of them or none (none: entropy-weight method).")
    if all(given) and sum(i.weight or 0 for i in spec.indicators) <= 0:
        raise Invalid("The given weights must not all be zero.")
    regions = sorted({find_area(r, "regions").code for r in spec.regions}) if spec.regions else city_codes()
    if len(regions) < 2:
        raise Invalid(f"The 'regions' parameter must name at least two regions to rank; got {spec.regions!r}.")
    return regions


def to_read(row: Evaluation) -> EvaluationRead:
    return EvaluationRead(
        id=row.id, name=row.name, year=row.year, normalisation=row.normalisation, weighting=row.weighting,  # type: ignore[arg-type]
        indicators=[EvaluationIndicator(**i) for i in row.indicators], weights=row.weights, regions=row.regions, inputs=row.inputs,
        rows=[RegionScore(**r) for r in row.rows], left_out=row.left_out, arithmetic=row.arithmetic, sample=row.sample,
        created_by=row.created_by, created_at=row.created_at,
    )  # fmt: skip


def run_evaluation(session: Session, actor: Actor, spec: EvaluationCreate) -> EvaluationRead:
    """An official ranks the regions for `spec.year`; stored with its inputs and audited."""
    require_official(session, actor, "run regional evaluations")
    regions = _check(spec)
    keys = [i.indicator for i in spec.indicators]
    this_year = annual_inputs(session, spec.year, regions, keys)
    if len(this_year.values) < 2:
        raise Invalid(f"At least two regions need a {spec.year} value of every indicator to rank them; "
                      f"{len(this_year.values)} do. Missing: {'; '.join(this_year.left_out)}.")
    result = evaluate_year(spec, this_year)
    last_year = annual_inputs(session, spec.year - 1, regions, keys)
    previous = {s.region: (rank, s.score) for rank, s in enumerate(evaluate_year(spec, last_year).scored, 1)} if len(last_year.values) >= 2 else {}
    rows = []
    for rank, scored in enumerate(result.scored, 1):
        strongest, weakest = composite.extremes(scored.normalised)
        before = previous.get(scored.region)
        rows.append(RegionScore(
            rank=rank, region=scored.region, region_name=find_area(scored.region).name, score=round(scored.score, 6),
            previous_rank=before[0] if before else None, previous_score=round(before[1], 6) if before else None,
            change=round(scored.score - before[1], 6) if before else None, strongest=keys[strongest], weakest=keys[weakest],
            values=this_year.values[scored.region], normalised={k: round(x, 6) for k, x in zip(keys, scored.normalised, strict=True)},
        ))  # fmt: skip
    arithmetic = result.arithmetic + ([f"{spec.year - 1} ranked the same way for the change"] if previous else
                                      [f"{spec.year - 1}: fewer than two regions with every indicator, so no change is shown"])
    row = Evaluation(
        id=new_id("eval"), name=spec.name, year=spec.year, normalisation=spec.normalisation,
        weighting="given" if spec.indicators[0].weight is not None else "entropy",
        indicators=[i.model_dump(mode="json") for i in spec.indicators], weights={k: round(w, 6) for k, w in zip(keys, result.weights, strict=True)},
        regions=regions, inputs={str(spec.year): this_year.values, str(spec.year - 1): last_year.values},
        rows=[r.model_dump(mode="json") for r in rows], left_out=this_year.left_out, arithmetic=arithmetic,
        sample=this_year.sample or last_year.sample, created_by=actor.user_id, created_at=utcnow(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    after = to_read(row)
    audit.record(session, actor, "statistics.evaluate", KIND, row.id, org_id=None, after=after,
                 detail={"year": spec.year, "indicators": keys, "weighting": row.weighting, "normalisation": spec.normalisation})
    return after


def get_evaluation(session: Session, actor: Actor, evaluation_id: str) -> EvaluationRead:
    row = session.get(Evaluation, evaluation_id)
    if row is None:
        raise not_found(KIND, evaluation_id)
    return to_read(row)


def list_evaluations(session: Session, actor: Actor, *, year: int | None = None, limit: int = 50, cursor: str | None = None) -> Page[EvaluationRead]:
    """Newest first; readable by every signed-in actor."""
    stmt = sa.select(Evaluation)
    if year is not None:
        stmt = stmt.where(Evaluation.year == check_year(year))
    rows, next_cursor = page_rows(session, stmt, Evaluation.id, limit=limit, cursor=cursor, owner="list_evaluations")
    return Page[EvaluationRead](items=[to_read(r) for r in rows], next_cursor=next_cursor)


def get_ranking(session: Session, actor: Actor, year: int) -> EvaluationRead:
    """The published ranking of `year`: its latest evaluation."""
    row = session.scalar(sa.select(Evaluation).where(Evaluation.year == check_year(year)).order_by(Evaluation.id.desc()).limit(1))
    if row is None:
        raise NotFound(f"No regional evaluation of {year} has been run yet; an official runs one with `aicommons observatory stats evaluate`.")
    return to_read(row)
