"""End to end: `aicommons serve --api-processes 2` spreads calls over two API processes that
share one rate quota and one set of metrics, while jobs run once, in the supervising process."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from datakit import DataKit, cancer_csv
from sklearn.datasets import load_breast_cancer
from consolekit import PASSWORD, csrf_of, give_password
from support import auth, free_port, start_server

from aicommons import models

pytestmark = pytest.mark.slow

API = "/api/v1"


def _connections_by_process(parent: int, port: int) -> dict[int, int]:
    """Established connections to `port` that each child process of `parent` holds (from /proc)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                established.add(fields[9])  # the socket's inode
    children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout.split()]
    held = {}
    for pid in children:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        held[pid] = sum(1 for link in links if link.startswith("socket:[") and link[8:-1] in established)
    return held


def _connected_to_both(server_pid: int, base: str, port: int, headers: dict[str, str]) -> list[httpx.Client]:
    """Clients on keep-alive connections, opened until both API processes hold some: the kernel
    hands each new connection to whichever process accepts first, so one may take a few in a row."""
    clients: list[httpx.Client] = []
    for _ in range(16):
        batch = [httpx.Client(base_url=base, headers=headers, timeout=30) for _ in range(4)]
        with ThreadPoolExecutor(len(batch)) as pool:  # connecting at once, as busy callers do
            assert all(r.status_code == 200 for r in pool.map(lambda client: client.get("/healthz"), batch))
        clients += batch
        held = _connections_by_process(server_pid, port)
        if sum(1 for count in held.values() if count) == 2:
            return clients
    for client in clients:
        client.close()
    raise AssertionError(f"the kernel never gave the second API process a connection: {held}")


def _trained_model(runtime, world):
    kit = DataKit(runtime, world.a_member.actor)
    dataset_version = kit.imported(kit.dataset("cancer", "tabular").id, "c.csv", cancer_csv())
    with runtime.session() as session:
        model = models.create_model(session, kit.actor, models.ModelCreate(name="cancer", task="tabular-classification"))
        job = models.start_training(session, kit.actor, model.id, models.TrainParams(dataset_version_id=dataset_version.id, recipe="tabular-logistic"))
    assert kit.run(job).status == "succeeded"
    return model


def _console_page(base: str, email: str, path: str) -> str:
    """`path` in the console, signed in on a fresh connection. The console's cookies are `Secure`,
    which browsers honour on 127.0.0.1 and httpx's cookie jar does not: they go by hand."""
    with httpx.Client(base_url=base, timeout=30) as browser:
        form = browser.get("/sign-in")
        cookies = dict(cookie.split(";", 1)[0].split("=", 1) for cookie in form.headers.get_list("set-cookie"))
        signed_in = browser.post("/sign-in", data={"csrf_token": csrf_of(form.text), "email": email, "password": PASSWORD, "next": "/"},
                                 headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
        assert signed_in.status_code == 303, signed_in.text
        cookies.update(cookie.split(";", 1)[0].split("=", 1) for cookie in signed_in.headers.get_list("set-cookie"))
        return browser.get(path, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}).text


def _charted_requests(page: str) -> int:
    """The requests the endpoint page's latency chart shows, over all its bars."""
    start = page.index("<title>各延迟区间的请求数</title>")
    chart = page[start:page.index("</svg>", start)]
    return sum(int(count) for count in re.findall(r"<title>[^<]*: (\d+)</title>", chart))


def _metric(text: str, name: str, **labels: str) -> float:
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + "{") and all(label in line for label in wanted))


def test_two_api_processes_share_the_quota_and_the_metrics_and_run_each_job_once(settings, world, runtime, tmp_path):
    model = _trained_model(runtime, world)
    features = [[float(v) for v in row] for row in load_breast_cancer().data[:1].astype(np.float32)]
    port = free_port()
    server = start_server(settings, port, "--workers", "1", "--api-processes", "2", "--no-access-log", log=tmp_path / "serve.log")
    base = f"http://127.0.0.1:{port}"
    clients: list[httpx.Client] = []
    try:
        clients = _connected_to_both(server.pid, base, port, auth(world.a_member))
        deployed = clients[0].post(f"{API}/endpoints", json={"name": "cancer", "model_id": model.id, "rate_limit_per_minute": 60})
        assert deployed.status_code == 201, deployed.text
        url = deployed.json()["url"]
        started = time.monotonic()
        statuses = [client.post(url, json={"inputs": {"features": features}}).status_code for _ in range(4) for client in clients]
        elapsed = time.monotonic() - started
        ok = statuses.count(200)
        # One bucket of 10 (60 a minute), refilled by one a second while the calls ran; two
        # unshared buckets would have let about 20 through.
        assert 10 <= ok <= 10 + int(elapsed) + 1 and statuses.count(429) == len(statuses) - ok, statuses
        metrics = clients[1].get("/metrics").text
        assert _metric(metrics, "aicommons_serving_requests_total", endpoint="cancer", status="ok") == ok
        assert _metric(metrics, "aicommons_serving_version", endpoint="cancer") == 1.0
        give_password(runtime, world.a_member.actor.email)
        for _ in range(4):  # fresh connections, so both processes answer some: each shows every process's calls
            page = _console_page(base, world.a_member.actor.email, "/endpoints/cancer")
            assert _charted_requests(page) == ok, "the latency chart counts every process's calls"

        job = clients[2].post(f"{API}/jobs", json={"type": "diagnostics.sleep", "params": {"steps": 2, "seconds": 0.1}}).json()
        deadline = time.monotonic() + 60
        while (job := clients[3].get(f"{API}/jobs/{job['id']}").json())["status"] not in ("succeeded", "failed"):
            assert time.monotonic() < deadline, job
            time.sleep(0.1)
        assert job["status"] == "succeeded" and job["attempts"] == 1, job
    finally:
        for client in clients:
            client.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            raise
    assert server.returncode == 0
    log = (tmp_path / "serve.log").read_text()
    assert "Started parent process" in log and "/predict HTTP/1.1" not in log  # --no-access-log
