"""End to end: a real `aicommons serve` is killed with SIGKILL mid-job and restarted.

The job was checkpointing as it went; after the restart it is found lost, re-queued, resumes from
its last checkpoint and completes exactly once, and the audit chain still verifies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx
import pytest
import sqlalchemy as sa
from support import auth, free_port, run_cli, start_server

from aicommons.core.tables import AuditEntry

pytestmark = pytest.mark.slow


def _wait_job(api, job_id, condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while True:
        job = api.get(f"/api/v1/jobs/{job_id}").json()
        if condition(job):
            return job
        assert time.monotonic() < deadline, f"job stuck: {job}"
        time.sleep(0.1)


def _worker_pids(server_pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(server_pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def test_a_server_killed_mid_job_recovers_the_job_after_restart(settings, world, runtime, tmp_path):
    port = free_port()
    server = start_server(settings, port, "--workers", "2")
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=auth(world.a_member), timeout=10)
    try:
        job = api.post("/api/v1/jobs", json={"type": "diagnostics.sleep", "params": {"steps": 10, "seconds": 0.3}}).json()
        _wait_job(api, job["id"], lambda j: j["progress"] >= 0.3)
        workers = _worker_pids(server.pid)
        assert workers, "the executor's worker processes should be children of the server"
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        time.sleep(0.5)
        assert not [pid for pid in workers if _alive(pid)], "workers must die with their server"

        server = start_server(settings, port, "--workers", "2", log=tmp_path / "serve.log")
        done = _wait_job(api, job["id"], lambda j: j["status"] in ("succeeded", "failed"))
    finally:
        api.close()
        server.send_signal(signal.SIGINT)
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)

    assert done["status"] == "succeeded"
    assert done["lost_count"] == 1
    assert done["result"]["resumed_from"] >= 3
    with runtime.session() as session:
        actions = session.scalars(sa.select(AuditEntry.action).where(AuditEntry.resource_id == job["id"])).all()
    assert actions.count("job.succeeded") == 1 and "job.requeued" in actions
    verify = run_cli(settings, "audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert f'"GET /api/v1/jobs/{job["id"]} HTTP/1.1" 200' in (tmp_path / "serve.log").read_text()  # the access log, on by default


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = subprocess.run(["ps", "-o", "stat=", "-p", str(pid)], capture_output=True, text=True).stdout
    return bool(status.strip()) and not status.strip().startswith("Z")
