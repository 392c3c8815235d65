"""The jobs pages: the list filtered by status and type, a job's live fragment that polls only
while the job is queued or running, its log and result, cancel and retry through the page (the
job really changes; refusals show the service's message and change nothing), another org's job
as a 404, and a list whose statement count does not grow with the jobs."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from consolekit import counted_page, csrf_of
from support import assert_db_unchanged, db_state

from aicommons.core import jobs
from aicommons.core.db import utcnow
from aicommons.core.ids import new_id
from aicommons.core.jobs.worker import WorkerLoop
from aicommons.core.schemas import JobSubmit
from aicommons.core.tables import Job


def _submit(runtime, member, type="diagnostics.sleep", **params):
    with runtime.session() as session:
        return jobs.submit_job(
            session, member.actor, JobSubmit(type=type, params=params)
        )


def _job(runtime, member, job_id):
    with runtime.session() as session:
        return jobs.get_job(session, member.actor, job_id)


def _run_queued(runtime):
    worker = WorkerLoop(runtime, "console-test-worker")
    while worker.run_one():
        pass


@pytest.fixture
def sleeper(runtime, world):
    """A quick diagnostics job whose first attempt fails on purpose (a retry starts counting again)."""
    return _submit(runtime, world.a_member, steps=2, seconds=0, fail_attempts=1)


def test_the_list_shows_progress_and_filters_by_status_and_type(
    console, runtime, world, sleeper
):
    noop = _submit(runtime, world.a_member, type="diagnostics.noop")
    _run_queued(runtime)  # the sleeper fails, the noop succeeds
    queued = _submit(runtime, world.a_member, steps=3, seconds=0)
    theirs = _submit(runtime, world.b_member, type="diagnostics.noop")
    client = console("member@a.test")

    listed = client.get("/jobs").text
    assert "<h1>作业</h1>" in listed
    for job in (sleeper, noop, queued):
        assert f'href="/jobs/{job.id}"' in listed
    assert theirs.id not in listed
    assert re.search(r'<progress max="1" value="1\.0"', listed)  # the finished noop
    assert "已失败" in listed and "排队中" in listed and "已成功" in listed

    failed = client.get("/jobs", params={"status": "failed"}).text
    assert sleeper.id in failed and noop.id not in failed and queued.id not in failed
    by_type = client.get("/jobs", params={"type": "diagnostics.noop"}).text
    assert noop.id in by_type and sleeper.id not in by_type
    assert 'value="diagnostics.noop" selected' in by_type
    nothing = client.get(
        "/jobs", params={"status": "succeeded", "type": "diagnostics.sleep"}
    ).text
    assert "没有符合条件的作业" in nothing
    assert client.get("/jobs", params={"status": "lost"}).status_code == 422


def test_a_job_page_polls_while_active_then_shows_log_and_result(
    console, runtime, world
):
    job = _submit(runtime, world.a_member, steps=2, seconds=0)
    client = console("member@a.test")
    page = client.get(f"/jobs/{job.id}").text
    assert f'hx-get="/jobs/{job.id}/live" hx-trigger="every 1s"' in page
    assert "取消作业" in page and "重试作业" not in page
    assert "尚无日志" in page

    _run_queued(runtime)
    fragment = client.get(f"/jobs/{job.id}/live", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    html = fragment.text
    assert "<html" not in html and 'id="job-live"' in html
    assert "hx-trigger" not in html  # the job ended: the fragment stops polling
    assert "step 2/2 done" in html and "已成功" in html and '"steps": 2' in html
    # The actions are swapped out of band: a finished job offers no cancel.
    assert 'id="job-actions"' in html and 'hx-swap-oob="true"' in html
    assert "取消作业" not in html
    # A job still running keeps polling and leaves the actions alone.
    running = _submit(runtime, world.a_member, steps=2, seconds=0)
    live = client.get(f"/jobs/{running.id}/live").text
    assert 'hx-trigger="every 1s"' in live and "hx-swap-oob" not in live

    final = client.get(f"/jobs/{job.id}").text
    assert "hx-trigger" not in final and "step 1/2 done" in final
    assert "查看产出" not in final  # a diagnostics job makes nothing to open


def test_cancel_and_retry_through_the_page_change_the_job(
    console, runtime, world, sleeper
):
    client = console("member@a.test")
    page = client.get(f"/jobs/{sleeper.id}").text
    cancelled = client.post(
        f"/jobs/{sleeper.id}/cancel", data={"csrf_token": csrf_of(page)}
    )
    assert cancelled.status_code == 200 and cancelled.url.path == f"/jobs/{sleeper.id}"
    assert _job(runtime, world.a_member, sleeper.id).status == "cancelled"
    assert "已取消" in cancelled.text and "重试作业" in cancelled.text

    # Cancelling again is refused with the service's message; nothing changes.
    before = db_state(runtime)
    refused = client.post(
        f"/jobs/{sleeper.id}/cancel", data={"csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 409
    assert "only queued or running jobs can be cancelled" in refused.text
    assert 'role="alert"' in refused.text
    assert_db_unchanged(before, db_state(runtime))

    retried = client.post(
        f"/jobs/{sleeper.id}/retry", data={"csrf_token": csrf_of(page)}
    )
    assert retried.status_code == 200
    job = _job(runtime, world.a_member, sleeper.id)
    assert job.status == "queued" and job.message == "queued again by retry"
    # A queued job cannot be retried yet: the service's message, nothing changed.
    refused = client.post(
        f"/jobs/{sleeper.id}/retry", data={"csrf_token": csrf_of(page)}
    )
    assert refused.status_code == 409
    assert "only failed or cancelled jobs can be retried" in refused.text
    _run_queued(runtime)  # attempt 1 fails on purpose
    failed = client.get(f"/jobs/{sleeper.id}").text
    assert _job(runtime, world.a_member, sleeper.id).status == "failed"
    assert "failing attempt 1 on purpose" in failed and "重试作业" in failed

    # Without the form's token nothing happens.
    queued = _submit(runtime, world.a_member, steps=1, seconds=0)
    assert client.post(f"/jobs/{queued.id}/cancel", data={}).status_code == 403
    assert _job(runtime, world.a_member, queued.id).status == "queued"


def test_another_orgs_job_is_not_found_and_cannot_be_cancelled(
    console, runtime, world, sleeper
):
    other = console("member@b.test")
    token = csrf_of(other.get("/jobs").text)
    assert other.get(f"/jobs/{sleeper.id}").status_code == 404
    assert other.get(f"/jobs/{sleeper.id}/live").status_code == 404
    assert (
        other.post(f"/jobs/{sleeper.id}/cancel", data={"csrf_token": token}).status_code
        == 404
    )
    assert _job(runtime, world.a_member, sleeper.id).status == "queued"
    assert other.get("/jobs/job_does_not_exist").status_code == 404


def _add_jobs(runtime, org_id, user_id, count):
    now = utcnow()
    rows = [
        {
            "id": new_id("job"),
            "org_id": org_id,
            "created_by": user_id,
            "visibility": "private",
            "type": "diagnostics.noop",
            "params": {},
            "status": ("queued", "running", "succeeded", "failed")[i % 4],
            "progress": (i % 5) / 4,
            "message": f"bulk {i}",
            "max_attempts": 1,
            "run_after": now,
            "created_at": now,
        }
        for i in range(count)
    ]
    with runtime.session() as session:
        session.execute(sa.insert(Job), rows)


@pytest.mark.usefixtures("frozen_heap")
def test_the_list_keeps_a_bounded_statement_count_with_many_jobs(
    console, runtime, world
):
    client = console("member@a.test")
    actor = world.a_member.actor

    def counted(**params):
        return counted_page(client, runtime.engine, "/jobs", **params)

    _add_jobs(runtime, actor.org_id, actor.user_id, 5)
    _, few, _ = counted()
    _add_jobs(runtime, actor.org_id, actor.user_id, 10_000)
    page, many, elapsed = counted()
    assert many == few <= 6
    assert page.count('<a href="/jobs/job_') == 50 and 'rel="next"' in page
    assert elapsed < 0.3, f"the jobs page took {elapsed * 1000:.0f} ms"
    second = re.search(r'href="(/jobs\?[^"]*cursor=[^"]+)"', page).group(1)
    following = client.get(second.replace("&amp;", "&")).text
    assert following.count('<a href="/jobs/job_') == 50
    _, filtered, _ = counted(status="failed")
    assert filtered == few
