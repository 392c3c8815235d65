"""The job queue and worker loop, run in this process (no executor), on the test database."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from aicommons.core import jobs
from aicommons.core.errors import Conflict, Invalid
from aicommons.core.jobs import queue
from aicommons.core.jobs.types import LeaseLost
from aicommons.core.jobs.worker import WorkerLoop
from aicommons.core.schemas import JobSubmit
from aicommons.core.tables import AuditEntry, Job, JobLogChunk


def submit(runtime, actor, type="diagnostics.sleep", max_attempts=1, **params):
    with runtime.session() as session:
        return jobs.submit_job(session, actor, JobSubmit(type=type, params=params, max_attempts=max_attempts))


def read(runtime, actor, job_id):
    with runtime.session() as session:
        return jobs.get_job(session, actor, job_id)


@pytest.fixture
def worker(runtime):
    return WorkerLoop(runtime, "test-worker")


def test_a_job_runs_to_success_with_progress_result_and_logs(runtime, world, worker):
    job = submit(runtime, world.a_member.actor, steps=3, seconds=0)
    assert worker.run_one()
    done = read(runtime, world.a_member.actor, job.id)
    assert done.status == "succeeded"
    assert done.progress == 1.0
    assert done.result == {"steps": 3, "resumed_from": 0, "attempt": 1}
    assert done.started_at is not None and done.finished_at >= done.started_at
    with runtime.session() as session:
        log = jobs.read_logs(session, runtime.blobs, world.a_member.actor, job.id)
        chunks = session.scalars(sa.select(JobLogChunk).where(JobLogChunk.job_id == job.id)).all()
    assert "step 3/3 done" in log
    assert chunks and all(runtime.blobs.exists(c.blob_sha256) for c in chunks)


def test_no_job_ready_means_run_one_returns_false(worker):
    assert worker.run_one() is False


def test_failures_retry_with_backoff_then_succeed(runtime, world, worker):
    job = submit(runtime, world.a_member.actor, max_attempts=3, steps=1, seconds=0, fail_attempts=2)
    worker.run_one()
    first = read(runtime, world.a_member.actor, job.id)
    assert first.status == "queued" and first.attempts == 1 and "retrying" in first.message
    assert worker.run_one() is False  # the back-off holds it back
    time.sleep(runtime.settings.retry_backoff_s + 0.05)
    worker.run_one()
    assert read(runtime, world.a_member.actor, job.id).status == "queued"
    time.sleep(2 * runtime.settings.retry_backoff_s + 0.05)  # doubled
    worker.run_one()
    final = read(runtime, world.a_member.actor, job.id)
    assert final.status == "succeeded" and final.attempts == 3


def test_a_job_out_of_attempts_fails_with_its_error(runtime, world, worker):
    job = submit(runtime, world.a_member.actor, max_attempts=1, steps=1, seconds=0, fail_attempts=1)
    worker.run_one()
    failed = read(runtime, world.a_member.actor, job.id)
    assert failed.status == "failed"
    assert "failing attempt 1 on purpose" in failed.error


def test_retry_requeues_a_failed_job_which_then_runs(runtime, world, worker):
    job = submit(runtime, world.a_member.actor, steps=1, seconds=0, fail_attempts=1)
    worker.run_one()
    with runtime.session() as session:
        again = jobs.retry_job(session, world.a_member.actor, job.id)
    assert again.status == "queued" and again.attempts == 0
    worker.run_one()  # attempt 1 again: fails on purpose again, which shows it really ran
    assert read(runtime, world.a_member.actor, job.id).status == "failed"
    with runtime.session() as session, pytest.raises(Conflict):
        jobs.retry_job(session, world.a_member.actor, submit(runtime, world.a_member.actor).id)


def test_cancelling_a_queued_job_means_it_never_runs(runtime, world, worker):
    job = submit(runtime, world.a_member.actor, steps=1, seconds=0)
    with runtime.session() as session:
        assert jobs.cancel_job(session, world.a_member.actor, job.id).status == "cancelled"
    assert worker.run_one() is False
    with runtime.session() as session, pytest.raises(Conflict):
        jobs.cancel_job(session, world.a_member.actor, job.id)


def test_cancelling_a_running_job_stops_it_at_its_next_progress_report(runtime, world, worker):
    job = submit(runtime, world.a_member.actor, steps=50, seconds=0.05)
    runner = threading.Thread(target=worker.run_one)
    runner.start()
    _wait_for(lambda: read(runtime, world.a_member.actor, job.id).progress > 0)
    with runtime.session() as session:
        jobs.cancel_job(session, world.a_member.actor, job.id)
    runner.join(10)
    cancelled = read(runtime, world.a_member.actor, job.id)
    assert cancelled.status == "cancelled"
    assert 0 < cancelled.progress < 1


def test_checkpoints_let_a_requeued_job_resume_where_it_stopped(runtime, world):
    job = submit(runtime, world.a_member.actor, steps=4, seconds=0)
    with runtime.session() as session:
        claim = queue.claim_next(session, "doomed-worker")
    from aicommons.core.identity import actor_for_user_id
    from aicommons.core.jobs.context import JobContext

    with runtime.session() as session:
        ctx = JobContext(runtime, claim, actor_for_user_id(session, claim.created_by))
    ctx.checkpoint({"done": 2})  # the worker got this far, then died
    with runtime.session() as session:
        assert queue.requeue_lost(session, lost_after_s=0, worker_id="doomed-worker") == [job.id]
    with pytest.raises(LeaseLost):  # the old worker, were it alive, can no longer write
        ctx.checkpoint({"done": 3})
    WorkerLoop(runtime, "rescuer").run_one()
    done = read(runtime, world.a_member.actor, job.id)
    assert done.status == "succeeded"
    assert done.result["resumed_from"] == 2
    assert done.lost_count == 1
    assert done.attempts == 1  # the lost attempt was the worker's fault, not the job's


def test_silent_jobs_are_requeued_and_chronic_losers_fail(runtime, world):
    job = submit(runtime, world.a_member.actor, steps=1, seconds=0)
    for round in range(queue.MAX_LOST):
        with runtime.session() as session:
            assert queue.claim_next(session, f"w{round}") is not None
        time.sleep(0.05)
        with runtime.session() as session:
            assert queue.requeue_lost(session, lost_after_s=0.01) == [job.id]
    lost = read(runtime, world.a_member.actor, job.id)
    assert lost.status == "failed" and "lost 5 times" in lost.error


def test_each_job_outcome_is_audited_once(runtime, world, worker):
    job = submit(runtime, world.a_member.actor, steps=1, seconds=0)
    worker.run_one()
    with runtime.session() as session:
        actions = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.resource_id == job.id)).all()
    assert actions == ["job.submit", "job.succeeded"]


@pytest.mark.parametrize(
    ("type", "params", "needle"),
    [
        ("no.such.type", {}, "Unknown job type 'no.such.type'"),
        ("diagnostics.sleep", {"steps": 0}, "steps"),
        ("diagnostics.sleep", {"bogus": 1}, "bogus"),
        ("diagnostics.noop", {"x": 1}, "x"),
    ],
)
def test_bad_submissions_are_refused_and_nothing_is_queued(runtime, world, type, params, needle):
    with runtime.session() as session, pytest.raises(Invalid, match=needle):
        jobs.submit_job(session, world.a_member.actor, JobSubmit(type=type, params=params))
    with runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Job)) == 0


def _wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def test_workers_silent_for_long_are_forgotten_and_not_counted(runtime):
    from datetime import timedelta

    from aicommons.core.db import utcnow
    from aicommons.core.tables import Worker

    with runtime.session() as session:
        queue.announce_worker(session, "alive", "local", "host", 1)
        session.add(Worker(id="dead", executor="local", host="host", pid=2, heartbeat_at=utcnow() - timedelta(hours=1)))
    with runtime.session() as session:
        assert queue.live_workers(session, lost_after_s=15) == 1
        queue.forget_silent_workers(session, silent_for_s=60)
    with runtime.session() as session:
        assert session.scalars(sa.select(Worker.id)).all() == ["alive"]
