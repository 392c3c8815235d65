"""Jobs: submit, watch (progress field), logs, cancel, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from aicommons.api.deps import ActorDep, RuntimeDep, SessionDep
from aicommons.core import jobs
from aicommons.core.schemas import JobRead, JobStatus, JobSubmit, Page

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=Page[JobRead])
def list_jobs(
    session: SessionDep,
    actor: ActorDep,
    status: JobStatus | None = None,
    type: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[JobRead]:
    return jobs.list_jobs(session, actor, status=status, type=type, limit=limit, cursor=cursor)


@router.post("", response_model=JobRead, status_code=201)
def submit_job(spec: JobSubmit, session: SessionDep, actor: ActorDep) -> JobRead:
    return jobs.submit_job(session, actor, spec)


@router.get("/{job_id}", response_model=JobRead)
def get_job(job_id: str, session: SessionDep, actor: ActorDep) -> JobRead:
    return jobs.get_job(session, actor, job_id)


@router.get("/{job_id}/logs", response_class=PlainTextResponse)
def job_logs(job_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> str:
    return jobs.read_logs(session, runtime.blobs, actor, job_id)


@router.post("/{job_id}/cancel", response_model=JobRead)
def cancel_job(job_id: str, session: SessionDep, actor: ActorDep) -> JobRead:
    return jobs.cancel_job(session, actor, job_id)


@router.post("/{job_id}/retry", response_model=JobRead)
def retry_job(job_id: str, session: SessionDep, actor: ActorDep) -> JobRead:
    return jobs.retry_job(session, actor, job_id)
