"""The numeric targets of the five source policies, as data: ``targets.yaml``, checked when loaded.

Each target names an indicator of the file's catalogue, its value, unit, kind, deadline and region,
and cites its document and clause with the Chinese phrase it rests on. Loading checks that ids are
unique, every indicator exists and the target's unit is its indicator's (growth targets: %), ranges
are ordered, and every region is a known one; tests/observatory/statistics/test_targets.py checks the
quotes against the policy texts.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Annotated, Literal

import yaml
from pydantic import Field, StringConstraints

from aicommons.core.errors import Invalid, not_found
from aicommons.core.schemas import Schema
from aicommons.observatory.statistics.areas import find_area
from aicommons.observatory.statistics.schemas import Comparator, Kind, TargetRead

Key = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
Slug = Annotated[str, StringConstraints(pattern=r"^[0-9]{3}-[a-z0-9-]{1,60}$")]


class IndicatorSpec(Schema):
    name_zh: str
    name_en: str
    unit: str
    aggregation: Literal["last", "sum"]


class TargetSpec(Schema):
    id: Slug
    document: Literal["000", "001", "002", "003", "004"]
    clause: Annotated[str, StringConstraints(pattern=r"^[一二三四五六七八九]\([一二三四五六七八九十]\)[0-9]*$")]
    quote: Annotated[str, StringConstraints(min_length=2)]
    indicator: Key
    value: float = Field(gt=0)
    value_max: float | None = None
    comparator: Comparator = Comparator.at_least
    unit: str
    kind: Kind
    every_year: bool = False
    deadline: int = Field(ge=2017, le=2035)
    region: str
    baseline: float | None = None
    note: str = ""


class Catalogue(Schema):
    indicators: dict[Key, IndicatorSpec]
    targets: list[TargetSpec]


def _check(catalogue: Catalogue) -> Catalogue:
    seen: set[str] = set()
    for target in catalogue.targets:
        if target.id in seen:
            raise ValueError(f"targets.yaml names the target {target.id!r} twice.")
        seen.add(target.id)
        if not target.id.startswith(target.document):
            raise ValueError(f"Target {target.id!r} must start with its document number {target.document}.")
        indicator = catalogue.indicators.get(target.indicator)
        if indicator is None:
            raise ValueError(f"Target {target.id!r} names the unknown indicator {target.indicator!r}.")
        expected_unit = "%" if target.kind == Kind.growth_rate else indicator.unit
        if target.unit != expected_unit:
            raise ValueError(f"Target {target.id!r} is in {target.unit!r}; its indicator {target.indicator!r} is in {expected_unit!r}.")
        if (target.comparator == Comparator.range) != (target.value_max is not None) or (target.value_max or target.value) < target.value:
            raise ValueError(f"Target {target.id!r}: a range needs value < value_max, and only a range has value_max.")
        find_area(target.region)
    return catalogue


@cache
def catalogue() -> Catalogue:
    text = resources.files(__package__).joinpath("targets.yaml").read_text(encoding="utf-8")
    return _check(Catalogue.model_validate(yaml.safe_load(text)))


def to_read(target: TargetSpec) -> TargetRead:
    area = find_area(target.region)
    return TargetRead(
        **target.model_dump(), citation=f"{target.document} {target.clause}",
        indicator_name=catalogue().indicators[target.indicator].name_zh, region_name=area.name, scope=area.scope,
    )


DOCUMENTS = ("000", "001", "002", "003", "004")


def check_document(document: str | None) -> str | None:
    if document is not None and document not in DOCUMENTS:
        raise Invalid(f"The 'document' parameter must be one of {', '.join(DOCUMENTS)}; got {document!r} instead.")
    return document


def list_targets(*, document: str | None = None, region: str | None = None, indicator: str | None = None) -> list[TargetRead]:
    """Every target (readable by anyone), in the file's order, filtered by document, region or indicator."""
    check_document(document)
    code = find_area(region).code if region is not None else None
    return [
        to_read(t) for t in catalogue().targets
        if (document is None or t.document == document) and (code is None or t.region == code) and (indicator is None or t.indicator == indicator)
    ]  # fmt: skip


def find_target(target_id: str) -> TargetSpec:
    found = next((t for t in catalogue().targets if t.id == target_id), None)
    if found is None:
        raise not_found("target", target_id)
    return found


def get_target(target_id: str) -> TargetRead:
    return to_read(find_target(target_id))
