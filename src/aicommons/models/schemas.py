"""The model hub's public shapes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints

from aicommons.core.schemas import Name, Schema, Visibility
from aicommons.data.schemas import Tag

AliasName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_-]*$")]


class Task(StrEnum):
    image_classification = "image-classification"
    text_classification = "text-classification"
    tabular_classification = "tabular-classification"
    tabular_regression = "tabular-regression"
    feature_extraction = "feature-extraction"
    object_detection = "object-detection"
    signal_control = "signal-control"


class ModelCreate(Schema):
    name: Name
    task: Task
    visibility: Visibility = Visibility.private
    licence: Annotated[str, StringConstraints(max_length=100)] = ""
    description: Annotated[str, StringConstraints(max_length=10_000)] = ""
    name_zh: Annotated[str, StringConstraints(max_length=100)] = ""
    description_zh: Annotated[str, StringConstraints(max_length=10_000)] = ""
    tags: list[Tag] = Field(default_factory=list, max_length=30)


class ModelUpdate(Schema):
    visibility: Visibility | None = None
    licence: Annotated[str, StringConstraints(max_length=100)] | None = None
    description: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    name_zh: Annotated[str, StringConstraints(max_length=100)] | None = None
    description_zh: Annotated[str, StringConstraints(max_length=10_000)] | None = None
    tags: list[Tag] | None = Field(None, max_length=30)


class ModelRead(Schema):
    id: str
    org_id: str
    name: str
    task: Task
    visibility: Visibility
    licence: str
    description: str
    name_zh: str
    description_zh: str
    tags: list[str]
    created_at: datetime
    latest_version: int
    aliases: dict[str, int] = Field(default_factory=dict, description="Alias → version number.")


class VersionMeta(Schema):
    """What an uploader may say about a version beyond its file."""

    metrics: dict[str, float] = Field(default_factory=dict, max_length=50)
    dataset_version_ids: list[str] = Field(default_factory=list, max_length=20)
    preprocessing: dict[str, Any] = Field(default_factory=dict)
    classes: list[str] = Field(default_factory=list, max_length=10_000, description="Class names by output index, for classifiers.")
    architecture: dict[str, Any] | None = Field(None, description='For safetensors uploads: {"name": a registered architecture, "config": {...}}.')


class ModelVersionRead(Schema):
    id: str
    model_id: str
    number: int
    onnx_sha256: str
    onnx_size: int
    source_format: str
    source_sha256: str | None
    framework: str
    signature: dict[str, Any]
    preprocessing: dict[str, Any]
    metrics: dict[str, Any]
    details: dict[str, Any]
    dataset_version_ids: list[str]
    parent_version_id: str | None
    operation: str
    parameters: dict[str, Any]
    job_id: str | None
    created_at: datetime


class CardUpdate(Schema):
    card: Annotated[str, StringConstraints(max_length=200_000)]
