"""The audit log: read entries, verify the chain."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aicommons.api.deps import ActorDep, SessionDep
from aicommons.core import audit
from aicommons.core.schemas import AuditEntryRead, AuditVerification, Page

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=Page[AuditEntryRead])
def list_entries(
    session: SessionDep,
    actor: ActorDep,
    resource_id: Annotated[str | None, Query(max_length=40)] = None,
    action: Annotated[str | None, Query(max_length=60)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[AuditEntryRead]:
    return audit.list_entries(session, actor, resource_id=resource_id, action=action, limit=limit, cursor=cursor)


@router.get("/verify", response_model=AuditVerification)
def verify(session: SessionDep, actor: ActorDep) -> AuditVerification:
    return audit.verify_chain(session, actor)
