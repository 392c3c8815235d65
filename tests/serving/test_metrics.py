"""Serving metrics across API processes: prometheus_client's multiprocess mode, read from any process.

Each process runs in a subprocess, because the mode is chosen when prometheus_client is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.no_database  # processes and files, no SQL: run once, not per database

SERVE = """
from aicommons.serving.metrics import ServingMetrics
metrics = ServingMetrics()
for seconds in (0.0005, 0.003, 0.2):
    metrics.observe_request("cnn", "org_a", "ok", seconds, compute_seconds=0.0001)
metrics.set_version("cnn", "v1")
metrics.set_version("cnn", "v2")  # an alias moved: v1's series ends
"""

READ = """
import json
from aicommons.serving.metrics import ServingMetrics, shared_request_latency
latency = shared_request_latency("cnn")
body, _ = ServingMetrics().render()
print(json.dumps({"counts": list(latency.counts), "requests": latency.requests, "metrics": body.decode()}))
"""


def _run(code: str, shared: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": shared}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout


def test_a_process_that_served_nothing_reads_every_processs_calls(tmp_path):
    for _ in range(2):  # two API processes, each serving three calls
        _run(SERVE, str(tmp_path))
    read = json.loads(_run(READ, str(tmp_path)))  # a third, which served none
    assert read["requests"] == 6 and read["counts"][0] == 2  # two calls of 0.5 ms, in the 1 ms bucket
    lines = read["metrics"].splitlines()
    assert 'aicommons_serving_requests_total{endpoint="cnn",org="org_a",status="ok"} 6.0' in lines
    assert 'aicommons_serving_version{endpoint="cnn",version="v2"} 1.0' in lines
    assert 'aicommons_serving_version{endpoint="cnn",version="v1"} 0.0' in lines  # ended, not removable in this mode


def test_without_the_mode_no_process_reads_another_ones():
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    code = "from aicommons.serving.metrics import shared_request_latency; print(shared_request_latency('cnn'))"
    assert subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout.strip() == "None"
