"""Quarterly observations: one value per (indicator, region, quarter), entered, imported or computed.

Three ways in, one rule: an official records a value; recording the same (indicator, region,
quarter) again adds a new row that `supersedes` the old one (which keeps its value and gains
`superseded_by`), and the audit log holds both. The source says where a value came from:
`manual` (API or CLI), `csv:<sha256 of the file, 16 hex digits>`, `platform:<indicator>` or
`sample` (the demo's seeded figures, never real statistics).

A CSV import checks row by row: good rows are recorded, bad ones are reported with their line
number and reason, and a row never half-applies. Values must be finite and not negative; shares
(%) are at most 100; text such as "1,250.5" is read as a number.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from collections.abc import Iterable

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import AicommonsError, Invalid
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Actor
from aicommons.core.schemas import Page
from aicommons.core.officials import require_official
from aicommons.observatory.statistics.areas import (
    PROVINCE_CODE,
    Area,
    city_codes,
    find_area,
)
from aicommons.observatory.statistics.indicators import (
    find_indicator,
    platform_indicators,
)
from aicommons.observatory.statistics.periods import Quarter, parse_quarter
from aicommons.observatory.statistics.schemas import (
    ComputeRequest,
    ImportProblem,
    ImportReport,
    ObservationCreate,
    ObservationRead,
)
from aicommons.observatory.statistics.tables import Observation

KIND = "stat_observation"
CSV_COLUMNS = ("indicator", "region", "quarter", "value")
MAX_CSV_BYTES = 5 * 1024 * 1024


def to_read(row: Observation) -> ObservationRead:
    return ObservationRead(
        id=row.id, indicator=row.indicator, region=row.region, region_name=find_area(row.region).name, quarter=row.quarter,
        value=row.value, unit=find_indicator(row.indicator).unit, source=row.source, sample=row.sample, note=row.note,
        recorded_by=row.recorded_by, recorded_at=row.recorded_at, supersedes=row.supersedes, superseded_by=row.superseded_by,
    )  # fmt: skip


def parse_value(value: object, unit: str) -> float:
    """A finite, non-negative number (at most 100 for a share); Invalid naming what was given."""
    try:
        number = float(str(value).replace(",", "").strip()) if isinstance(value, str) else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or number < 0 or (unit == "%" and number > 100):
        expected = "a percentage from 0 to 100" if unit == "%" else "a finite number, zero or more"
        raise Invalid(f"The 'value' parameter must be {expected}; got {value!r} instead.")
    return number


def _checked(spec: ObservationCreate) -> tuple[str, Area, Quarter, float]:
    indicator = find_indicator(spec.indicator)
    area = find_area(spec.region)
    quarter = parse_quarter(spec.quarter)
    return indicator.key, area, quarter, parse_value(spec.value, indicator.unit)


def current(session: Session, indicator: str, region: str, quarter: str) -> Observation | None:
    return session.scalar(sa.select(Observation).where(
        Observation.indicator == indicator, Observation.region == region, Observation.quarter == quarter, Observation.superseded_by.is_(None)
    ))  # fmt: skip


def store(
    session: Session, actor: Actor, indicator: str, area: Area, quarter: Quarter, value: float, *, source: str, sample: bool = False, note: str = ""
) -> ObservationRead:
    """Add the observation, superseding the current one of its (indicator, region, quarter); audited."""
    previous = current(session, indicator, area.code, quarter.label)
    row = Observation(
        id=new_id("obs"), indicator=indicator, region=area.code, quarter=quarter.label, value=value, source=source, sample=sample,
        note=note, recorded_by=actor.user_id, recorded_at=utcnow(), supersedes=previous.id if previous else None,
    )  # fmt: skip
    before = None
    if previous is not None:
        before = to_read(previous)
        previous.superseded_by = row.id
    session.add(row)
    session.flush()
    after = to_read(row)
    audit.record(session, actor, "statistics.record", KIND, row.id, org_id=None, before=before, after=after,
                 detail={"indicator": indicator, "region": area.code, "quarter": quarter.label, "source": source,
                         "supersedes": previous.id if previous else None})
    return after


def record_observation(session: Session, actor: Actor, spec: ObservationCreate) -> ObservationRead:
    """An official records a value by hand (source `manual`)."""
    require_official(session, actor, "record statistics")
    indicator, area, quarter, value = _checked(spec)
    return store(session, actor, indicator, area, quarter, value, source="manual", note=spec.note)


def import_observations(session: Session, actor: Actor, content: bytes, filename: str = "upload.csv") -> ImportReport:
    """Record every good row of a CSV file (columns indicator, region, quarter, value[, note]); report the others."""
    require_official(session, actor, "import statistics")
    if len(content) > MAX_CSV_BYTES:
        raise Invalid(f"The CSV file {filename!r} must be at most {MAX_CSV_BYTES:,} bytes; got {len(content):,}.")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(f"The CSV file {filename!r} must be UTF-8 text.") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [column for column in CSV_COLUMNS if column not in header]
    if missing:
        raise Invalid(f"The CSV file {filename!r} must have the columns {', '.join(CSV_COLUMNS)} (and optionally note); it lacks {', '.join(missing)}.")
    reader.fieldnames = header
    source = f"csv:{hashlib.sha256(content).hexdigest()[:16]}"
    recorded, problems, rows = [], [], 0
    for row in reader:
        rows += 1
        line = reader.line_num
        try:
            spec = ObservationCreate(**{c: (row.get(c) or "").strip() for c in CSV_COLUMNS}, note=(row.get("note") or "").strip())
            indicator, area, quarter, value = _checked(spec)
        except AicommonsError as error:
            problems.append(ImportProblem(row=line, message=error.message))
            continue
        except ValidationError as error:
            problems.append(ImportProblem(row=line, message="; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())))
            continue
        # Every check is done before the row is stored, so a bad row leaves nothing behind.
        recorded.append(store(session, actor, indicator, area, quarter, value, source=source, note=spec.note))
    return ImportReport(source=source, rows=rows, recorded=recorded, problems=problems)


def default_regions() -> list[str]:
    return [PROVINCE_CODE, *city_codes()]


def compute_observations(session: Session, actor: Actor, request: ComputeRequest) -> list[ObservationRead]:
    """Read a platform indicator for each region and record it (source `platform:<indicator>`)."""
    require_official(session, actor, "compute statistics")
    if request.indicator not in platform_indicators:
        known = ", ".join(platform_indicators.names())
        raise Invalid(f"The 'indicator' parameter must be a platform indicator ({known}); got {request.indicator!r} instead.")
    indicator = platform_indicators.get(request.indicator)
    quarter = parse_quarter(request.quarter)
    areas = [find_area(code) for code in (request.regions or default_regions())]
    readings = [(area, indicator.read(session, area, quarter)) for area in areas]  # every read before any write
    return [
        store(session, actor, request.indicator, area, quarter, reading.value, source=f"platform:{request.indicator}", sample=reading.sample,
              note=indicator.description)
        for area, reading in readings
    ]  # fmt: skip


def list_observations(
    session: Session,
    actor: Actor,
    *,
    indicator: str | None = None,
    region: str | None = None,
    quarter: str | None = None,
    history: bool = False,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ObservationRead]:
    """Newest recorded first; current values only unless `history`. Readable by every signed-in actor."""
    stmt = sa.select(Observation)
    if indicator is not None:
        stmt = stmt.where(Observation.indicator == find_indicator(indicator).key)
    if region is not None:
        stmt = stmt.where(Observation.region == find_area(region).code)
    if quarter is not None:
        stmt = stmt.where(Observation.quarter == parse_quarter(quarter).label)
    if not history:
        stmt = stmt.where(Observation.superseded_by.is_(None))
    rows, next_cursor = page_rows(session, stmt, Observation.id, limit=limit, cursor=cursor, owner="list_observations")
    return Page[ObservationRead](items=[to_read(r) for r in rows], next_cursor=next_cursor)


def series(session: Session, indicator: str, regions: Iterable[str], *, until: Quarter | None = None) -> dict[str, list[Observation]]:
    """The current observations of `indicator` per region, oldest quarter first (up to `until`)."""
    codes = list(regions)
    stmt = sa.select(Observation).where(
        Observation.indicator == indicator, Observation.region.in_(codes), Observation.superseded_by.is_(None)
    )
    if until is not None:
        stmt = stmt.where(Observation.quarter <= until.label)
    found: dict[str, list[Observation]] = {code: [] for code in codes}
    for row in session.scalars(stmt.order_by(Observation.region, Observation.quarter)):
        found[row.region].append(row)
    return found
