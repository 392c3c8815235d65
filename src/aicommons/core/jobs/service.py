"""Jobs as users see them: submit, read, list, cancel, retry, read logs."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.blobs import BlobStore
from aicommons.core.db import utcnow
from aicommons.core.errors import Conflict, invalid_parameter
from aicommons.core.ids import new_id
from aicommons.core.jobs import queue
from aicommons.core.jobs.types import job_types
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Action, Actor, require, visible_clause
from aicommons.core.schemas import JobRead, JobStatus, JobSubmit, Page
from aicommons.core.tables import Job, JobLogChunk

KIND = "job"


def submit_job(session: Session, actor: Actor, spec: JobSubmit) -> JobRead:
    params = job_types.get(spec.type).validate(spec.params)
    job = Job(
        id=new_id("job"),
        org_id=actor.org_id,
        created_by=actor.user_id,
        visibility=spec.visibility.value,
        type=spec.type,
        params=params,
        max_attempts=spec.max_attempts,
        status=JobStatus.queued.value,
        message="queued",
        run_after=utcnow(),
    )
    session.add(job)
    session.flush()
    result = JobRead.model_validate(job)
    audit.record(session, actor, "job.submit", KIND, job.id, org_id=job.org_id, after=result)
    session.info["jobs_queued"] = True
    return result


def _job(session: Session, actor: Actor, job_id: str, action: Action = Action.read) -> Job:
    job = session.get(Job, job_id)
    require(session, actor, action, KIND, job, job_id)
    assert job is not None
    return job


def get_job(session: Session, actor: Actor, job_id: str) -> JobRead:
    return JobRead.model_validate(_job(session, actor, job_id))


def list_jobs(
    session: Session,
    actor: Actor,
    *,
    status: JobStatus | None = None,
    type: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[JobRead]:
    stmt = sa.select(Job).where(visible_clause(actor, KIND, Job))
    if status is not None:
        stmt = stmt.where(Job.status == JobStatus(status).value)
    if type is not None:
        stmt = stmt.where(Job.type == type)
    rows, next_cursor = page_rows(session, stmt, Job.id, limit=limit, cursor=cursor, owner="list_jobs")
    return Page[JobRead](items=[JobRead.model_validate(r) for r in rows], next_cursor=next_cursor)


def cancel_job(session: Session, actor: Actor, job_id: str) -> JobRead:
    """A queued job is cancelled at once; a running one when it next reports progress."""
    job = _job(session, actor, job_id, Action.write)
    before = JobRead.model_validate(job)
    if JobStatus(job.status).finished:
        raise Conflict(f"Job {job_id!r} has already {job.status}; only queued or running jobs can be cancelled.")
    if job.status == JobStatus.queued:
        job.status = JobStatus.cancelled.value
        job.finished_at = utcnow()
        job.message = "cancelled before it started"
    else:
        job.cancel_requested = True
        job.message = "cancellation requested"
    session.flush()
    after = JobRead.model_validate(job)
    audit.record(session, actor, "job.cancel", KIND, job.id, org_id=job.org_id, before=before, after=after)
    return after


def retry_job(session: Session, actor: Actor, job_id: str) -> JobRead:
    """Queue a failed or cancelled job again; it resumes from its last checkpoint."""
    job = _job(session, actor, job_id, Action.write)
    if job.status not in (JobStatus.failed, JobStatus.cancelled):
        raise Conflict(f"Job {job_id!r} is {job.status}; only failed or cancelled jobs can be retried.")
    before = JobRead.model_validate(job)
    job.status = JobStatus.queued.value
    job.attempts = 0
    job.lost_count = 0
    job.cancel_requested = False
    job.error = None
    job.finished_at = None
    job.run_after = utcnow()
    job.message = "queued again by retry"
    session.flush()
    after = JobRead.model_validate(job)
    audit.record(session, actor, "job.retry", KIND, job.id, org_id=job.org_id, before=before, after=after)
    session.info["jobs_queued"] = True
    return after


def read_logs(session: Session, blobs: BlobStore, actor: Actor, job_id: str, *, max_bytes: int = 1 << 20) -> str:
    """The job's log so far (its last `max_bytes` bytes)."""
    if max_bytes < 1:
        raise invalid_parameter("max_bytes", "read_logs", "a positive integer", max_bytes)
    _job(session, actor, job_id)
    chunks = session.scalars(
        sa.select(JobLogChunk).where(JobLogChunk.job_id == job_id).order_by(JobLogChunk.seq.desc())
    )
    parts: list[bytes] = []
    total = 0
    for chunk in chunks:
        parts.append(blobs.read_bytes(chunk.blob_sha256))
        total += chunk.size
        if total >= max_bytes:
            break
    return b"".join(reversed(parts))[-max_bytes:].decode("utf-8", errors="replace")


def live_workers(session: Session, *, lost_after_s: float) -> int:
    return queue.live_workers(session, lost_after_s=lost_after_s)
