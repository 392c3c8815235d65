"""Running the platform's web server (`aicommons serve`): one API process, or several on one port.

One process (the default) serves the API and console and runs the job executor. Python answers
one call at a time per process, so a busy platform's calls, predict calls above all, top out at
about one core. With `api_processes` above 1, uvicorn starts that many API processes on one
listening socket, and the kernel spreads connections over them. They already share the database
and the blob store; they must also share what each would otherwise keep to itself:

- rate quotas: one bucket per (endpoint, org) in a memory-mapped file (`serving.quotas.SharedBuckets`),
  or each process would grant the whole rate;
- Prometheus metrics: prometheus_client's multiprocess mode, so `/metrics` from any process
  counts every process's calls (`serving.metrics`);
- jobs: the executor runs in this supervising process alone, so no job is claimed by several.

Both shared folders live in a temporary folder that lasts as long as the server.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import uvicorn

from aicommons.api.app import SERVING_SHARED_DIR_ENV, create_app
from aicommons.core.config import Settings
from aicommons.core.jobs import start_executor
from aicommons.core.registry import load_plugins
from aicommons.core.runtime import Runtime
from aicommons.serving.metrics import MULTIPROCESS_DIR_ENV

API_PROCESS_FACTORY = "aicommons.api.app:create_api_process_app"


def run_server(settings: Settings) -> None:
    """Serve until interrupted. Several API processes build their own settings from the
    environment and the home, as the CLI built `settings`: what `settings` alone overrides
    (address, port, job workers, API processes) concerns this supervising process only."""
    runtime = Runtime.from_settings(settings)
    try:
        if settings.api_processes == 1:
            uvicorn.run(create_app(runtime, run_jobs=True), host=settings.host, port=settings.port, log_level="info",
                        access_log=settings.access_log)
        else:
            _run_api_processes(settings, runtime)
    finally:
        runtime.close()


def _run_api_processes(settings: Settings, runtime: Runtime) -> None:
    with tempfile.TemporaryDirectory(prefix="aicommons-api-") as shared:
        metrics_dir = Path(shared) / "metrics"
        metrics_dir.mkdir()
        # The API processes are spawned: they inherit these before importing prometheus_client.
        os.environ[SERVING_SHARED_DIR_ENV] = shared
        os.environ[MULTIPROCESS_DIR_ENV] = str(metrics_dir)
        load_plugins(settings.plugins)
        executor = start_executor(runtime)
        try:
            uvicorn.run(API_PROCESS_FACTORY, factory=True, workers=settings.api_processes, host=settings.host, port=settings.port,
                        log_level="info", access_log=settings.access_log)
        finally:
            if executor is not None:
                executor.stop()
