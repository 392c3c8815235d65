"""The durable job queue: claiming, heartbeats, checkpoints, finishing and recovering lost jobs.

Every change a worker makes to a running job is fenced by the lease it got when it claimed the
job: if the job was presumed lost and handed to another worker, the old worker's writes match no
row and it stops, so a job's result is committed exactly once.
"""

from __future__ import annotations

import secrets
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.jobs.types import LeaseLost
from aicommons.core.tables import Job, Worker

MAX_LOST = 5  # a job that kills its worker this often is failed instead of re-queued forever


@dataclass(frozen=True)
class Claim:
    job_id: str
    type: str
    params: dict[str, Any]
    state: dict[str, Any]
    lease: str
    attempt: int
    max_attempts: int
    created_by: str
    org_id: str


def claim_next(session: Session, worker_id: str) -> Claim | None:
    now = utcnow()
    job = session.scalar(
        sa.select(Job)
        .where(Job.status == "queued", Job.run_after <= now)
        .order_by(Job.run_after, Job.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    if job is None:
        return None
    job.status = "running"
    job.lease = secrets.token_hex(16)
    job.worker_id = worker_id
    job.attempts += 1
    job.heartbeat_at = now
    job.started_at = job.started_at or now
    job.message = "running"
    session.flush()
    return Claim(
        job_id=job.id,
        type=job.type,
        params=dict(job.params or {}),
        state=dict(job.state or {}),
        lease=job.lease,
        attempt=job.attempts,
        max_attempts=job.max_attempts,
        created_by=job.created_by,
        org_id=job.org_id,
    )


def _fenced(claim: Claim) -> sa.ColumnElement[bool]:
    return sa.and_(Job.id == claim.job_id, Job.lease == claim.lease, Job.status == "running")


def heartbeat(session: Session, claim: Claim, progress: float, message: str) -> bool:
    """Record liveness and progress; returns whether cancellation was requested."""
    row = session.execute(
        sa.update(Job)
        .where(_fenced(claim))
        .values(heartbeat_at=utcnow(), progress=progress, message=message[:500])
        .returning(Job.cancel_requested)
    ).first()
    if row is None:
        raise LeaseLost(claim.job_id)
    return bool(row.cancel_requested)


def save_state(session: Session, claim: Claim, state: dict[str, Any]) -> None:
    result = session.execute(sa.update(Job).where(_fenced(claim)).values(state=state, heartbeat_at=utcnow()))
    if result.rowcount != 1:
        raise LeaseLost(claim.job_id)


def finish(
    session: Session,
    claim: Claim,
    status: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    retry_in_s: float | None = None,
) -> None:
    """End the attempt: succeeded, cancelled or failed, or back to the queue for a retry."""
    job = session.scalar(sa.select(Job).where(_fenced(claim)).with_for_update())
    if job is None:
        raise LeaseLost(claim.job_id)
    now = utcnow()
    job.lease = None
    job.worker_id = None
    job.heartbeat_at = now
    job.error = error
    if retry_in_s is not None:
        job.status = "queued"
        job.run_after = now + timedelta(seconds=retry_in_s)
        job.message = f"attempt {job.attempts} failed; retrying in {retry_in_s:.1f} s"
        action = "job.retry_scheduled"
    else:
        job.status = status
        job.finished_at = now
        job.result = result
        job.message = status
        if status == "succeeded":
            job.progress = 1.0
        action = f"job.{status}"
    session.flush()
    audit.record(
        session, None, action, "job", job.id, org_id=job.org_id,
        detail={"attempt": job.attempts, "status": job.status, "error": (error or "")[:200]},
    )


def requeue_lost(session: Session, *, lost_after_s: float, worker_id: str | None = None) -> list[str]:
    """Re-queue running jobs whose worker died (named) or went silent for `lost_after_s`."""
    stmt = sa.select(Job).where(Job.status == "running")
    if worker_id is not None:
        stmt = stmt.where(Job.worker_id == worker_id)
    else:
        stmt = stmt.where(Job.heartbeat_at < utcnow() - timedelta(seconds=lost_after_s))
    requeued = []
    for job in session.scalars(stmt.with_for_update(skip_locked=True)):
        job.lost_count += 1
        job.attempts -= 1  # the worker died, not the job: a lost attempt is not a failed one
        lost_from = job.worker_id
        job.lease = None
        job.worker_id = None
        if job.lost_count >= MAX_LOST:
            job.status = "failed"
            job.finished_at = utcnow()
            job.error = f"The job's worker was lost {job.lost_count} times; giving up."
            action = "job.failed"
        else:
            job.status = "queued"
            job.run_after = utcnow()
            job.message = f"re-queued: worker {lost_from} was lost"
            action = "job.requeued"
        session.flush()
        audit.record(session, None, action, "job", job.id, org_id=job.org_id, detail={"lost_worker": lost_from})
        requeued.append(job.id)
    return requeued


def format_error(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)).strip()[-4000:]


def announce_worker(session: Session, worker_id: str, executor: str, host: str, pid: int) -> None:
    worker = session.get(Worker, worker_id)
    if worker is None:
        session.add(Worker(id=worker_id, executor=executor, host=host, pid=pid))
    else:
        worker.heartbeat_at = utcnow()


def forget_worker(session: Session, worker_id: str) -> None:
    session.execute(sa.delete(Worker).where(Worker.id == worker_id))


def forget_silent_workers(session: Session, *, silent_for_s: float) -> None:
    """Drop the rows of workers that died without saying goodbye (a killed server's, say)."""
    cutoff = utcnow() - timedelta(seconds=silent_for_s)
    session.execute(sa.delete(Worker).where(Worker.heartbeat_at < cutoff))


def live_workers(session: Session, *, lost_after_s: float) -> int:
    cutoff = utcnow() - timedelta(seconds=lost_after_s)
    return session.scalar(sa.select(sa.func.count()).select_from(Worker).where(Worker.heartbeat_at >= cutoff)) or 0
