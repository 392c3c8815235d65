"""The kernel's public shapes (Pydantic v2): what services take and return, and what the API shows."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

T = TypeVar("T")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
    ),
]


class Schema(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")


class Page(Schema, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `cursor` to get the next page.")


class OrgKind(StrEnum):
    enterprise = "enterprise"
    university = "university"
    lab = "lab"
    government = "government"
    operator = "operator"


class Visibility(StrEnum):
    private = "private"
    shared = "shared"
    public = "public"


class OrgRole(StrEnum):
    member = "member"
    admin = "admin"


class PlatformRole(StrEnum):
    reviewer = "reviewer"
    operator = "operator"


class OrgCreate(Schema):
    name: Name
    kind: OrgKind
    visibility: Visibility = Visibility.private


class OrgUpdate(Schema):
    name: Name | None = None
    visibility: Visibility | None = None


class OrgRead(Schema):
    id: str
    name: str
    kind: OrgKind
    visibility: Visibility
    created_at: datetime


class UserCreate(Schema):
    email: Email
    org_id: str = Field(max_length=40)
    org_role: OrgRole = OrgRole.member
    display_name: Annotated[str, StringConstraints(max_length=100)] = ""
    platform_roles: list[PlatformRole] = Field(default_factory=list, max_length=2)


class UserUpdate(Schema):
    org_role: OrgRole | None = None
    display_name: Annotated[str, StringConstraints(max_length=100)] | None = None
    platform_roles: list[PlatformRole] | None = Field(None, max_length=2)
    disabled: bool | None = None


class UserRead(Schema):
    id: str
    email: str
    display_name: str
    org_id: str
    org_role: OrgRole
    platform_roles: list[PlatformRole]
    created_at: datetime
    disabled_at: datetime | None


class TokenCreate(Schema):
    name: Name = "api"


class TokenRead(Schema):
    id: str
    user_id: str
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The secret; shown once, only its hash is stored.")


class JobStatus(StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled)


class JobSubmit(Schema):
    type: Annotated[str, StringConstraints(min_length=1, max_length=100)]
    params: dict[str, Any] = Field(default_factory=dict)
    max_attempts: int = Field(1, ge=1, le=20)
    visibility: Visibility = Visibility.private

    @field_validator("params")
    @classmethod
    def _params_small(cls, params: dict[str, Any]) -> dict[str, Any]:
        if len(repr(params)) > 100_000:
            raise ValueError("params must serialise to at most 100,000 characters")
        return params


class JobRead(Schema):
    id: str
    org_id: str
    created_by: str
    visibility: Visibility
    type: str
    params: dict[str, Any]
    status: JobStatus
    progress: float
    message: str
    attempts: int
    max_attempts: int
    lost_count: int
    worker_id: str | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    result: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class AuditEntryRead(Schema):
    seq: int
    id: str
    at: datetime
    actor_user_id: str | None
    actor_org_id: str | None
    org_id: str | None
    action: str
    resource_kind: str
    resource_id: str
    before_digest: str | None
    after_digest: str | None
    detail: dict[str, Any]
    prev_hash: str
    hash: str


class AuditVerification(Schema):
    ok: bool
    checked: int
    first_broken_seq: int | None = None
    first_broken_id: str | None = None
    reason: str | None = None
