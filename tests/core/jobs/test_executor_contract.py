"""The contract every executor passes, with real worker processes: all jobs run once, workers
announce themselves, a worker killed mid-job is replaced and its job resumes, cancellation and
shutdown strand nothing. Parametrised over the `executors` registry, so a Ray executor that
registers itself is held to the same contract."""

from __future__ import annotations

import os
import signal
import time

import pytest
import sqlalchemy as sa

from aicommons.core import audit, jobs
from aicommons.core.jobs import executors
from aicommons.core.schemas import JobSubmit
from aicommons.core.tables import AuditEntry, Worker


@pytest.fixture(params=executors.names())
def executor_name(request):
    return request.param


@pytest.fixture
def executor(runtime, executor_name):
    executor = executors.get(executor_name)(runtime)
    executor.start()
    yield executor
    executor.stop()


def submit(runtime, actor, type="diagnostics.sleep", **params):
    with runtime.session() as session:
        return jobs.submit_job(session, actor, JobSubmit(type=type, params=params))


def wait_job(runtime, actor, job_id, condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        with runtime.session() as session:
            job = jobs.get_job(session, actor, job_id)
        if condition(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} stuck: {job.status} {job.message}"
        time.sleep(0.05)


def test_many_jobs_all_run_exactly_once(runtime, world, executor):
    ids = [submit(runtime, world.a_member.actor, "diagnostics.noop").id for _ in range(40)]
    for job_id in ids:
        job = wait_job(runtime, world.a_member.actor, job_id, lambda j: j.status == "succeeded")
        assert job.attempts == 1
    with runtime.session() as session:
        succeeded = session.scalar(
            sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "job.succeeded")
        )
    assert succeeded == 40


def wait_live_workers(runtime, count, timeout_s=20.0):
    deadline = time.monotonic() + timeout_s
    while True:
        with runtime.session() as session:
            live = jobs.live_workers(session, lost_after_s=runtime.settings.lost_after_s)
        if live == count:
            return
        assert time.monotonic() < deadline, f"{live} live workers after {timeout_s} s; expected {count}"
        time.sleep(0.05)


def test_workers_announce_themselves(runtime, world, executor):
    submit(runtime, world.a_member.actor, "diagnostics.noop")
    wait_live_workers(runtime, 2)


def test_a_worker_killed_mid_job_is_replaced_and_the_job_resumes_and_completes_once(runtime, world, executor):
    job = submit(runtime, world.a_member.actor, steps=8, seconds=0.25)
    running = wait_job(runtime, world.a_member.actor, job.id, lambda j: j.status == "running" and j.progress >= 0.25)
    with runtime.session() as session:
        pid = session.scalar(sa.select(Worker.pid).where(Worker.id == running.worker_id))
    os.kill(pid, signal.SIGKILL)
    done = wait_job(runtime, world.a_member.actor, job.id, lambda j: j.status in ("succeeded", "failed"))
    assert done.status == "succeeded"
    assert done.lost_count == 1
    assert done.result["resumed_from"] >= 2  # it continued from a checkpoint, not from scratch
    wait_live_workers(runtime, 2)  # the dead worker was replaced (its successor may still be starting)
    with runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Worker).where(Worker.pid == pid)) == 0
    with runtime.session() as session:
        outcomes = session.scalars(
            sa.select(AuditEntry.action).where(AuditEntry.resource_id == job.id).order_by(AuditEntry.seq)
        ).all()
        assert outcomes.count("job.succeeded") == 1
        assert "job.requeued" in outcomes
        assert audit.verify_chain(session, world.operator.actor).ok


def test_a_running_job_can_be_cancelled(runtime, world, executor):
    job = submit(runtime, world.a_member.actor, steps=100, seconds=0.05)
    wait_job(runtime, world.a_member.actor, job.id, lambda j: j.progress > 0)
    with runtime.session() as session:
        jobs.cancel_job(session, world.a_member.actor, job.id)
    cancelled = wait_job(runtime, world.a_member.actor, job.id, lambda j: j.status != "running")
    assert cancelled.status == "cancelled" and cancelled.progress < 1


def test_stopping_the_executor_leaves_no_job_stranded(runtime, world, executor_name):
    executor = executors.get(executor_name)(runtime)
    executor.start()
    job = submit(runtime, world.a_member.actor, steps=200, seconds=0.05)
    wait_job(runtime, world.a_member.actor, job.id, lambda j: j.status == "running")
    executor.stop(timeout=0.5)  # the job is far from done: its worker is killed and the job re-queued
    with runtime.session() as session:
        assert jobs.get_job(session, world.a_member.actor, job.id).status == "queued"
