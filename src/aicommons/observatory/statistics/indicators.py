"""Indicators: the catalogue of ``targets.yaml`` and the platform indicators computed from records.

A platform indicator reads the platform's own tables for one region and quarter. Records belong to
an org; an org belongs to a region through its entry in the enterprise registry (培育库, the
`Enterprise` row whose `org_id` is the org), so the province counts every org's records and a city
or district counts those of orgs registered there. Stocks are read at the quarter's end, flows
over the quarter:

| indicator | what is counted | kind |
|---|---|---|
| platform.enterprises | enterprises in the registry (created before the quarter ends), by their own city/district | stock |
| platform.datasets | datasets created before the quarter ends | stock |
| platform.filed_models | filings in force at the quarter's end (issued, not ended) | stock |
| platform.compute_hours | hours of jobs that finished in the quarter (finished − started) | flow |
| platform.endpoints | serving endpoints created before the quarter ends | stock |
| platform.endpoint_calls | inference calls metered in the quarter, by the calling org | flow |

Built-ins register in `platform_indicators` exactly as an extension would.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core.errors import Invalid
from aicommons.core.registry import Registry
from aicommons.core.tables import Job
from aicommons.data.tables import Dataset
from aicommons.filing.tables import Filing
from aicommons.observatory.statistics.areas import Area
from aicommons.observatory.statistics.periods import Quarter
from aicommons.observatory.statistics.schemas import IndicatorRead
from aicommons.observatory.statistics.targets import catalogue
from aicommons.serving.tables import Endpoint, EndpointUsage


@dataclass(frozen=True)
class Reading:
    value: float
    sample: bool = False  # some of what was counted is sample data


@dataclass(frozen=True)
class PlatformIndicator:
    name_zh: str
    name_en: str
    unit: str
    aggregation: Literal["last", "sum"]
    description: str
    read: Callable[[Session, Area, Quarter], Reading]


platform_indicators: Registry[PlatformIndicator] = Registry("platform indicator")


def _enterprise_table() -> Any:
    try:
        from aicommons.observatory.enterprises.tables import Enterprise
    except ImportError:  # the registry is optional for every indicator but the region breakdown
        return None
    return Enterprise


def _in_area(stmt: sa.Select[Any], table: Any, area: Area) -> sa.Select[Any]:
    if area.scope == "city":
        return stmt.where(table.city == area.name)
    if area.scope == "district":
        return stmt.where(table.city == area.city, table.district == area.name)
    return stmt


def _orgs_in(session: Session, area: Area) -> list[str] | None:
    """The orgs registered in `area`; None for the province (every org)."""
    if area.scope == "province":
        return None
    enterprise = _enterprise_table()
    if enterprise is None:
        raise Invalid(f"Platform figures for {area.name} need the enterprise registry, which is not installed; compute them for 330000 (浙江省).")
    stmt = _in_area(sa.select(enterprise.org_id).where(enterprise.org_id.is_not(None)), enterprise, area)
    return sorted(set(session.scalars(stmt)))


def _owned_by(stmt: sa.Select[Any], column: Any, orgs: list[str] | None) -> sa.Select[Any]:
    return stmt if orgs is None else stmt.where(column.in_(orgs))


def _count(session: Session, stmt: sa.Select[Any]) -> Reading:
    return Reading(float(session.scalar(stmt) or 0))


def read_enterprises(session: Session, area: Area, quarter: Quarter) -> Reading:
    enterprise = _enterprise_table()
    if enterprise is None:
        raise Invalid("platform.enterprises needs the enterprise registry (aicommons.observatory.enterprises), which is not installed.")
    stmt = _in_area(sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(sa.case((enterprise.sample, 1), else_=0)), 0)), enterprise, area)
    total, samples = session.execute(stmt.where(enterprise.created_at < quarter.end)).one()
    return Reading(float(total), sample=bool(samples))


def read_datasets(session: Session, area: Area, quarter: Quarter) -> Reading:
    stmt = sa.select(sa.func.count()).select_from(Dataset).where(Dataset.created_at < quarter.end)
    return _count(session, _owned_by(stmt, Dataset.org_id, _orgs_in(session, area)))


def read_filed_models(session: Session, area: Area, quarter: Quarter) -> Reading:
    stmt = sa.select(sa.func.count()).select_from(Filing).where(
        Filing.issued_at < quarter.end, sa.or_(Filing.ended_at.is_(None), Filing.ended_at >= quarter.end)
    )
    return _count(session, _owned_by(stmt, Filing.org_id, _orgs_in(session, area)))


def read_compute_hours(session: Session, area: Area, quarter: Quarter) -> Reading:
    stmt = sa.select(Job.started_at, Job.finished_at).where(
        Job.started_at.is_not(None), Job.finished_at >= quarter.start, Job.finished_at < quarter.end
    )
    spans = session.execute(_owned_by(stmt, Job.org_id, _orgs_in(session, area))).all()
    return Reading(round(sum(max((finished - started).total_seconds(), 0.0) for started, finished in spans) / 3600, 6))


def read_endpoints(session: Session, area: Area, quarter: Quarter) -> Reading:
    stmt = sa.select(sa.func.count()).select_from(Endpoint).where(Endpoint.created_at < quarter.end)
    return _count(session, _owned_by(stmt, Endpoint.org_id, _orgs_in(session, area)))


def read_endpoint_calls(session: Session, area: Area, quarter: Quarter) -> Reading:
    stmt = sa.select(sa.func.coalesce(sa.func.sum(EndpointUsage.calls), 0)).where(
        EndpointUsage.minute >= quarter.start, EndpointUsage.minute < quarter.end
    )
    return _count(session, _owned_by(stmt, EndpointUsage.org_id, _orgs_in(session, area)))


platform_indicators.add("platform.enterprises", PlatformIndicator(
    "平台登记人工智能企业数", "enterprises in the platform's registry", "家", "last",
    "Enterprises in the registry (培育库) at the quarter's end, by their city and district.", read_enterprises))
platform_indicators.add("platform.datasets", PlatformIndicator(
    "平台数据集数", "datasets on the platform", "个", "last", "Datasets created before the quarter ends.", read_datasets))
platform_indicators.add("platform.filed_models", PlatformIndicator(
    "备案模型数", "filed models", "个", "last", "Filings in force at the quarter's end: issued and not revoked, deregistered or superseded.",
    read_filed_models))
platform_indicators.add("platform.compute_hours", PlatformIndicator(
    "平台算力使用时长", "compute hours used", "小时", "sum", "Hours of jobs that finished in the quarter (finished − started).",
    read_compute_hours))
platform_indicators.add("platform.endpoints", PlatformIndicator(
    "推理服务端点数", "serving endpoints", "个", "last", "Serving endpoints created before the quarter ends.", read_endpoints))
platform_indicators.add("platform.endpoint_calls", PlatformIndicator(
    "推理调用次数", "inference calls", "次", "sum", "Inference calls metered in the quarter, by the calling org.", read_endpoint_calls))


def list_indicators() -> list[IndicatorRead]:
    """The catalogue's indicators, then the platform's."""
    found = [IndicatorRead(key=key, **spec.model_dump()) for key, spec in catalogue().indicators.items()]
    for key in platform_indicators.names():
        item = platform_indicators.get(key)
        found.append(IndicatorRead(key=key, name_zh=item.name_zh, name_en=item.name_en, unit=item.unit, aggregation=item.aggregation,
                                   platform=True, description=item.description))
    return found


def find_indicator(key: str, name: str = "indicator") -> IndicatorRead:
    found = next((i for i in list_indicators() if i.key == key), None)
    if found is None:
        raise Invalid(
            f"The {name!r} parameter must be a known indicator (see `aicommons observatory stats indicators`), e.g. ai_enterprises "
            f"or platform.datasets; got {key!r} instead."
        )
    return found
