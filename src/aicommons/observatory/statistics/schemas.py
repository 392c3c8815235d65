"""What the statistics service takes and returns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from aicommons.core.schemas import Schema

Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


class Kind(StrEnum):
    level = "level"  # an amount: revenue, compute capacity
    count = "count"  # a number of things
    share = "share"  # a percentage
    growth_rate = "growth_rate"  # a yearly growth rate, %


class Comparator(StrEnum):
    at_least = "at_least"  # 以上, 不少于, 突破, 达到, or a plain count
    about = "about"  # 左右
    range = "range"  # 1—2 个


class Verdict(StrEnum):
    achieved = "achieved"
    on_track = "on_track"
    at_risk = "at_risk"
    off_track = "off_track"
    no_data = "no_data"


class IndicatorRead(Schema):
    key: str
    name_zh: str
    name_en: str
    unit: str
    aggregation: Literal["last", "sum"] = Field(description="How a year's value comes from its quarters: the last quarter's (a stock) or their sum (a flow).")
    platform: bool = Field(False, description="Computed from the platform's own records (`compute`).")
    description: str = ""


class TargetRead(Schema):
    id: str
    document: str
    clause: str
    citation: str = Field(description='Document and clause as INDEX.md cites them, e.g. "001 一(二)".')
    quote: str = Field(description="The Chinese phrase of the policy the target rests on, unchanged.")
    indicator: str
    indicator_name: str
    value: float
    value_max: float | None = None
    comparator: Comparator
    unit: str
    kind: Kind
    every_year: bool
    deadline: int
    region: str
    region_name: str
    scope: Literal["province", "city", "district"]
    baseline: float | None = None
    note: str = ""


class ObservationCreate(Schema):
    indicator: str = Field(max_length=60)
    region: str = Field(max_length=40, description="A GB/T 2260 code (330100) or name (杭州市, Hangzhou, 滨江区).")
    quarter: str = Field(max_length=10, description="Like 2026Q3.")
    value: float | str = Field(description="A finite number; text such as '1,250.5' is read as a number.")
    note: Text = ""


class ObservationRead(Schema):
    id: str
    indicator: str
    region: str
    region_name: str
    quarter: str
    value: float
    unit: str
    source: str = Field(description="manual, csv:<file digest>, platform:<indicator> or sample.")
    sample: bool
    note: str
    recorded_by: str
    recorded_at: datetime
    supersedes: str | None = None
    superseded_by: str | None = None


class ImportProblem(Schema):
    row: int = Field(description="The file's line number (the header is line 1).")
    message: str


class ImportReport(Schema):
    source: str
    rows: int
    recorded: list[ObservationRead]
    problems: list[ImportProblem]


class ComputeRequest(Schema):
    indicator: str = Field(max_length=60, description="A platform indicator, e.g. platform.enterprises.")
    quarter: str = Field(max_length=10)
    regions: list[str] | None = Field(None, max_length=200, description="Default: the province and its 11 cities.")


class ProgressRead(Schema):
    target_id: str
    citation: str
    indicator: str
    indicator_name: str
    region: str
    region_name: str
    unit: str
    kind: Kind
    target: float
    target_max: float | None = None
    deadline: int
    as_of: str | None = Field(None, description="The last quarter read.")
    observations: int
    latest: float | None = None
    latest_quarter: str | None = None
    share_of_target: float | None = Field(None, description="latest ÷ target (from the baseline where one is stated); for growth targets the CAGR ÷ target rate.")
    trend_per_quarter: float | None = Field(None, description="Least-squares slope over the quarters.")
    growth_rate: float | None = Field(None, description="Yearly growth (CAGR, %) of the series.")
    projected: float | None = Field(None, description="The projected value at the deadline's fourth quarter (for growth targets the CAGR).")
    projected_share: float | None = None
    verdict: Verdict
    arithmetic: str
    sample: bool = False


class Direction(StrEnum):
    higher_is_better = "higher"
    lower_is_better = "lower"


class EvaluationIndicator(Schema):
    indicator: str = Field(max_length=60)
    direction: Direction = Direction.higher_is_better
    weight: float | None = Field(None, ge=0, description="Given weights (all or none); none: entropy-weight method.")


class EvaluationCreate(Schema):
    year: int
    indicators: list[EvaluationIndicator] = Field(min_length=2, max_length=30)
    regions: list[str] | None = Field(None, max_length=200, description="Default: Zhejiang's 11 cities.")
    normalisation: Literal["min-max", "z-score"] = "min-max"
    name: Text = ""


class RegionScore(Schema):
    rank: int
    region: str
    region_name: str
    score: float
    previous_rank: int | None = None
    previous_score: float | None = None
    change: float | None = Field(None, description="score − previous_score.")
    strongest: str = Field(description="The indicator with the highest normalised value.")
    weakest: str = Field(description="The indicator with the lowest normalised value.")
    values: dict[str, float]
    normalised: dict[str, float]


class EvaluationRead(Schema):
    id: str
    name: str
    year: int
    normalisation: str
    weighting: Literal["given", "entropy"]
    indicators: list[EvaluationIndicator]
    weights: dict[str, float]
    regions: list[str]
    inputs: dict[str, dict[str, dict[str, float]]] = Field(description="{year: {region: {indicator: value}}} as read from the observations.")
    rows: list[RegionScore]
    left_out: list[str] = Field(description="Regions without a value for every indicator in the year, and why.")
    arithmetic: list[str]
    sample: bool
    created_by: str
    created_at: datetime
