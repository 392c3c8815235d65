"""Evaluation's public shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from aicommons.core.schemas import Schema

TestName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)]
ResultStatus = Literal["passed", "failed", "skipped", "error"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]


class TestRequest(Schema):
    name: TestName
    params: dict[str, Any] = Field(default_factory=dict, description="Merged over the test's (and suite's) default parameters.")
    thresholds: dict[str, Any] = Field(
        default_factory=dict, description='Metric path → [">=" | "<=", number]; merged over the defaults.'
    )


class EvaluationCreate(Schema):
    version_id: Annotated[str, StringConstraints(max_length=40)]
    dataset_version_id: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="The records to test on (their test split); default: the version's training data."
    )
    suite: TestName | None = Field("default", description="A registered suite; null runs only `tests`.")
    tests: list[TestRequest] = Field(default_factory=list, max_length=50, description="Tests to add to the suite, or to override its entries by name.")
    seed: int = Field(0, ge=0, le=2**31)


class TestResultRead(Schema):
    name: str
    title: str
    title_zh: str
    category: str
    status: ResultStatus
    metrics: dict[str, Any] = Field(default_factory=dict)
    checks: list[dict[str, Any]] = Field(default_factory=list, description="metric, op, threshold, value, passed")
    charts: dict[str, str] = Field(default_factory=dict, description="Chart name → blob sha256 of its PNG.")
    notes: list[str] = Field(default_factory=list)
    params: dict[str, Any] = Field(default_factory=dict)
    seconds: float = 0.0


class EvaluationRead(Schema):
    id: str
    org_id: str
    model_id: str
    model_name: str = ""
    version_id: str
    version_number: int
    dataset_version_id: str | None
    suite: str | None
    status: RunStatus
    progress: float = Field(0.0, description="0–1, from the run's job while it runs.")
    message: str = ""
    job_id: str
    seed: int
    results: list[TestResultRead] = Field(default_factory=list)
    reproducibility: dict[str, Any] = Field(
        default_factory=dict, description="Digests of model and data, seed, library versions, prediction-cache hits."
    )
    created_at: datetime
    finished_at: datetime | None = None

    @property
    def summary(self) -> dict[str, int]:
        counts = {"passed": 0, "failed": 0, "skipped": 0, "error": 0}
        for result in self.results:
            counts[result.status] += 1
        return counts

    def result(self, name: str) -> TestResultRead | None:
        return next((r for r in self.results if r.name == name), None)
