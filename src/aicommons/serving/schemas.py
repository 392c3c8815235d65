"""Serving's public shapes: endpoints, predictions and usage."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from aicommons.core.schemas import Schema

EndpointName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9-]*$")]
EndpointVisibility = Literal["private", "public"]
VersionRef = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^(latest|[0-9]+|[a-z][a-z0-9_-]*)$")]


class EndpointSettings(Schema):
    workers: int = Field(1, ge=1, le=16, description="Threads running batches on the endpoint's ONNX Runtime session.")
    max_batch_size: int = Field(32, ge=1, le=1024, description="Most rows one batch may hold.")
    max_wait_ms: float = Field(5.0, ge=0, le=1000, description="How long a batch's first request may wait for company.")
    latency_cap_ms: float = Field(200.0, ge=1, le=60_000, description="The p95 latency batching must stay under.")
    rate_limit_per_minute: int = Field(6000, ge=1, le=10_000_000, description="Requests a minute each calling org may make.")


class EndpointCreate(EndpointSettings):
    name: EndpointName
    model_id: str = Field(max_length=40)
    version: VersionRef = Field("latest", description="A version number, an alias (followed as it moves) or `latest`.")
    visibility: EndpointVisibility = Field(
        "private", description="`public`: every org may call it, only while the version it serves is filed (备案) and not revoked."
    )

    @model_validator(mode="after")
    def _wait_under_cap(self) -> EndpointCreate:
        if self.max_wait_ms >= self.latency_cap_ms:
            raise ValueError(f"max_wait_ms ({self.max_wait_ms}) must be below latency_cap_ms ({self.latency_cap_ms})")
        return self


class EndpointUpdate(Schema):
    version: VersionRef | None = None
    visibility: EndpointVisibility | None = Field(None, description="Org admins only; `public` needs a filed version.")
    workers: int | None = Field(None, ge=1, le=16)
    max_batch_size: int | None = Field(None, ge=1, le=1024)
    max_wait_ms: float | None = Field(None, ge=0, le=1000)
    latency_cap_ms: float | None = Field(None, ge=1, le=60_000)
    rate_limit_per_minute: int | None = Field(None, ge=1, le=10_000_000)
    status: Annotated[str, StringConstraints(pattern=r"^(active|stopped)$")] | None = None


class EndpointRead(Schema):
    id: str
    name: str
    org_id: str
    visibility: str
    model_id: str
    version_ref: str
    workers: int
    max_batch_size: int
    max_wait_ms: float
    latency_cap_ms: float
    rate_limit_per_minute: int
    status: str
    created_at: datetime
    updated_at: datetime
    url: str = ""


class PredictRequest(Schema):
    """Either named input arrays, or raw instances the version's preprocessing turns into them."""

    inputs: dict[str, Any] | None = None
    instances: list[Any] | None = Field(None, max_length=1024)

    @model_validator(mode="after")
    def _one_form(self) -> PredictRequest:
        if (self.inputs is None) == (self.instances is None):
            raise ValueError("send exactly one of 'inputs' (named arrays) or 'instances' (raw items)")
        return self


class PredictResponse(Schema):
    endpoint: str
    model_version_id: str
    predictions: list[dict[str, Any]]
    batch_rows: int = Field(description="Rows in the batch this request ran in (batching at work when > its own rows).")
    queue_ms: float
    compute_ms: float


class UsageRead(Schema):
    endpoint: str
    org_id: str
    calls: int
    rows: int
    errors: int
    compute_seconds: float
    since: datetime | None
    until: datetime | None


class HourlyUsageRead(Schema):
    """One hour of an endpoint's metered calls, summed over every calling org."""

    hour: datetime = Field(description="The hour's start (UTC).")
    calls: int
    rows: int
    errors: int
    compute_seconds: float

    @property
    def compute_ms_per_call(self) -> float | None:
        """Mean model compute per call in the hour, or None for an hour without calls."""
        return self.compute_seconds * 1000 / self.calls if self.calls else None
