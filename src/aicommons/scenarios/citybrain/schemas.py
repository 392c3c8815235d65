"""City Brain's public shapes: a run request and a run with its results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from aicommons.core.schemas import Schema

Sha256 = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[0-9a-f]{64}$")]
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
# The metrics summarised over seeds as mean ± std, as the literature reports them.
SUMMARY_METRICS = ("average_travel_time", "throughput", "average_queue", "average_delay", "simulated_per_wall_second")


class TimingSpec(Schema):
    action_interval: float = Field(5.0, ge=1, le=600, description="Seconds between two decisions of the controller.")
    yellow: float = Field(3.0, ge=0, le=60, description="Seconds of yellow between two different greens.")
    min_green: float = Field(5.0, ge=0, le=600, description="A switch asked for before this many seconds of green is ignored.")


class RunCreate(Schema):
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=120)] = ""
    kind: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=30)] = Field(
        "signal-control", description="What to simulate: signal-control, green-wave or incidents (GET /citybrain/kinds)."
    )
    scenario: dict[str, Any] = Field(default_factory=dict, description="The kind's parameters (none for signal-control).")
    net_sha256: Sha256 = Field(description="The SUMO .net.xml, uploaded with POST /citybrain/files.")
    routes_sha256: Sha256 = Field(description="The SUMO .rou.xml, uploaded with POST /citybrain/files.")
    controller: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)] = "max-pressure"
    params: dict[str, Any] = Field(default_factory=dict, description="The controller's keyword arguments.")
    timing: TimingSpec = Field(default_factory=TimingSpec)
    seeds: list[Annotated[int, Field(ge=0, le=2**31 - 1)]] = Field(default_factory=lambda: [0], description="1 to 10 SUMO seeds; one episode each.")
    duration: float = Field(3600.0, description="Simulated seconds per episode, 60 to 86400.")


class MetricSummary(Schema):
    mean: float
    std: float


class RunRead(Schema):
    id: str
    org_id: str
    created_by: str | None
    name: str
    kind: str
    scenario: dict[str, Any]
    net_sha256: str
    routes_sha256: str
    controller: str
    params: dict[str, Any]
    timing: dict[str, Any]
    seeds: list[int]
    duration: float
    job_id: str
    status: RunStatus
    progress: float
    message: str
    episodes: list[dict[str, Any]] = Field(default_factory=list, description="Per seed: the episode's metrics (EpisodeResult).")
    summary: dict[str, MetricSummary] = Field(default_factory=dict, description="Mean ± std over the seeds of the headline metrics.")
    created_at: datetime
    finished_at: datetime | None


class FileRead(Schema):
    sha256: str
    size: int


class KindRead(Schema):
    name: str
    description: str


class ControllerRead(Schema):
    name: str
    description: str
