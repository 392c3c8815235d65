"""The data service's public shapes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from aicommons.core.schemas import Name, Schema, Visibility

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class Modality(StrEnum):
    tabular = "tabular"
    text = "text"
    image = "image"
    traffic = "traffic"  # road networks and their demand (SUMO files), for signal-control scenarios


class DatasetCreate(Schema):
    name: Name
    modality: Modality
    visibility: Visibility = Visibility.private
    licence: Annotated[str, StringConstraints(max_length=100)] = ""
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    tags: list[Tag] = Field(default_factory=list, max_length=30)
    shared_with: list[str] = Field(default_factory=list, max_length=100, description="Org ids, for `shared`.")


class DatasetUpdate(Schema):
    visibility: Visibility | None = None
    licence: Annotated[str, StringConstraints(max_length=100)] | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    tags: list[Tag] | None = Field(None, max_length=30)
    shared_with: list[str] | None = Field(None, max_length=100)


class DatasetRead(Schema):
    id: str
    org_id: str
    name: str
    modality: Modality
    visibility: Visibility
    licence: str
    description: str
    tags: list[str]
    created_at: datetime
    latest_version: int


class VersionRead(Schema):
    id: str
    dataset_id: str
    number: int
    manifest_sha256: str
    record_count: int
    columns: list[dict[str, Any]] = Field(description="The record fields and their Arrow types.")
    statistics: dict[str, Any]
    parent_version_id: str | None
    operation: str
    parameters: dict[str, Any]
    report_sha256: str | None
    job_id: str | None
    created_at: datetime


class RecordFilter(Schema):
    column: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    op: Literal["=", "!=", "<", "<=", ">", ">=", "contains"]
    value: str | int | float | bool | None


class RecordPage(Schema):
    version_id: str
    items: list[dict[str, Any]]
    next_cursor: str | None = None
    total: int


class VersionDiff(Schema):
    base_version_id: str
    other_version_id: str
    added: int
    removed: int
    changed: int
    resplit: int
    unchanged: int
    added_ids: list[str]
    removed_ids: list[str]
    changed_ids: list[str]


class SplitParams(Schema):
    train: float = Field(0.8, ge=0, le=1)
    validation: float = Field(0.1, ge=0, le=1)
    test: float = Field(0.1, ge=0, le=1)
    seed: int = Field(0, ge=0, le=2**31)
    stratify: bool = True

    @model_validator(mode="after")
    def _fractions_add_up(self) -> SplitParams:
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"train + validation + test must add up to 1; they add up to {total:g}")
        return self
