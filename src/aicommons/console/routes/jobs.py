"""Jobs: the list, a job's live progress and logs, cancel and retry.

A running job's page polls a fragment (`/jobs/{id}/live`) every second; the fragment a finished
job returns carries no trigger, so polling stops when the job ends, and it swaps in the actions
that fit the final state (retry in place of cancel).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from aicommons.console.deps import (
    Member,
    MemberDep,
    PostingMemberDep,
    RuntimeDep,
    SessionDep,
)
from aicommons.console.pages import ConsoleRoute, redirect, render
from aicommons import data, models
from aicommons.core import jobs
from aicommons.core.errors import AicommonsError, Conflict
from aicommons.core.permissions import Actor
from aicommons.core.runtime import Runtime
from aicommons.core.schemas import JobRead, JobStatus

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
LOG_TAIL_BYTES = 64 << 10  # the page shows the log's end; the API serves all of it
MODEL_VERSION_JOBS = ("models.train", "models.compress", "models.import", "citybrain.train")


@router.get("/jobs")
def job_list(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    status: JobStatus | Literal[""] = "",  # "": the form's "all"
    type: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page = jobs.list_jobs(
        session,
        member.actor,
        status=status or None,
        type=type or None,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    return render(
        request,
        member,
        "jobs/list.html",
        page=page,
        status=status,
        type=type,
        statuses=[s.value for s in JobStatus],
        types=jobs.job_types.names(),
    )


def made_by(session: Session, actor: Actor, job: JobRead) -> str | None:
    """The console page of what a succeeded job made (a model or dataset version, an evaluation,
    a City Brain run), or None: where the user goes next."""
    result = job.result or {}
    if job.status is not JobStatus.succeeded:
        return None
    try:
        if job.type in MODEL_VERSION_JOBS and "version_id" in result:
            version = models.get_version(session, actor, result["version_id"])
            return f"/models/{version.model_id}?version={version.number}"
        if job.type.startswith("data.") and "version_id" in result:
            dataset_version = data.get_version(session, actor, result["version_id"])
            return f"/datasets/{dataset_version.dataset_id}/versions/{dataset_version.number}"
    except AicommonsError:  # since deleted, or not the actor's to read
        return None
    if job.type == "evaluation.run" and "evaluation_id" in result:
        return f"/evaluations/{result['evaluation_id']}"
    if job.type == "citybrain.run" and "run_id" in result:
        return f"/citybrain/runs/{result['run_id']}"
    return None


def _job_page(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
    job: JobRead,
    *,
    status_code: int = 200,
    refusal: str | None = None,
) -> Response:
    log = jobs.read_logs(
        session, runtime.blobs, member.actor, job.id, max_bytes=LOG_TAIL_BYTES
    )
    return render(
        request,
        member,
        "jobs/job.html",
        status_code=status_code,
        job=job,
        log=log,
        made=made_by(session, member.actor, job),
        refusal=refusal,
    )


@router.get("/jobs/{job_id}")
def job_page(
    request: Request,
    job_id: str,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
) -> Response:
    job = jobs.get_job(session, member.actor, job_id)
    return _job_page(request, session, member, runtime, job)


@router.get("/jobs/{job_id}/live")
def job_live(
    request: Request,
    job_id: str,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
) -> Response:
    """The polled fragment: status, progress, message, result or error, and the log's end."""
    job = jobs.get_job(session, member.actor, job_id)
    log = jobs.read_logs(
        session, runtime.blobs, member.actor, job.id, max_bytes=LOG_TAIL_BYTES
    )
    return render(
        request, member, "jobs/live.html", job=job, log=log, swap_actions=True,
        made=made_by(session, member.actor, job),
    )


def _act_on_job(
    request: Request,
    session: Session,
    member: Member,
    runtime: Runtime,
    job_id: str,
    act: Callable[[Session, Actor, str], object],
) -> Response:
    """Cancel or retry, then back to the job's page. A job whose state no longer allows it (it
    ended meanwhile; or it is queued, running or succeeded, so nothing to retry) is a conflict,
    said on the job's page."""
    try:
        act(session, member.actor, job_id)
    except Conflict as refused:
        job = jobs.get_job(session, member.actor, job_id)
        return _job_page(
            request,
            session,
            member,
            runtime,
            job,
            status_code=409,
            refusal=refused.message,
        )
    return redirect(f"/jobs/{job_id}")


@router.post("/jobs/{job_id}/cancel")
def cancel_job(
    request: Request,
    job_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    runtime: RuntimeDep,
) -> Response:
    return _act_on_job(request, session, member, runtime, job_id, jobs.cancel_job)


@router.post("/jobs/{job_id}/retry")
def retry_job(
    request: Request,
    job_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    runtime: RuntimeDep,
) -> Response:
    return _act_on_job(request, session, member, runtime, job_id, jobs.retry_job)
