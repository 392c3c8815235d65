"""The FastAPI application: `/healthz`, the API under `/api/v1`, OpenAPI at `/openapi.json`, the web console under `/`."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from aicommons import __version__
from aicommons.api.errors import install_error_handlers
from aicommons.api.predict_gateway import PredictGateway
from aicommons.api.routes import (
    annotation,
    audit,
    citybrain,
    data,
    enterprises,
    evaluation,
    filing,
    identity,
    jobs,
    ledger,
    models,
    reports,
    serving,
    statistics,
    subsidies,
)
from aicommons.console import mount as mount_console
from aicommons.core.config import Settings
from aicommons.core.jobs import start_executor
from aicommons.core.registry import load_plugins
from aicommons.core.runtime import Runtime

API_PREFIX = "/api/v1"
# Set by `api.server` for the API processes it starts: the folder their shared quotas live in.
SERVING_SHARED_DIR_ENV = "AICOMMONS_SERVING_SHARED_DIR"


class PlatformApp(FastAPI):
    """FastAPI, except that predict calls go straight to `PredictGateway`: FastAPI's per-request
    layers cost a small model more than its run."""

    def __init__(self, **options: Any):
        super().__init__(**options)
        self.predict_gateway = PredictGateway(self, API_PREFIX)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (name := self.predict_gateway.endpoint_called(scope)) is not None:
            await self.predict_gateway.answer(name, scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(
    runtime: Runtime | None = None, *, settings: Settings | None = None, run_jobs: bool = False, serving_shared_dir: Path | None = None,
) -> FastAPI:
    """Build the app. With `run_jobs`, the configured executor starts and stops with the server.
    `serving_shared_dir` holds the rate quotas this app's process shares with other API
    processes of the same platform (see `api.server`); without it they are the process's own."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_runtime = runtime is None
        app.state.runtime = runtime or Runtime.from_settings(settings or Settings())
        load_plugins(app.state.runtime.settings.plugins)
        executor = start_executor(app.state.runtime) if run_jobs else None
        app.state.executor = executor
        try:
            yield
        finally:
            if getattr(app.state, "serving", None) is not None:
                app.state.serving.close()
            if executor is not None:
                executor.stop()
            if own_runtime:
                app.state.runtime.close()

    app = PlatformApp(
        title="aicommons",
        version=__version__,
        description="Open AI public-service platform: data, compute, models, evaluation and filing, serving.",
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.state.serving_shared_dir = serving_shared_dir
    install_error_handlers(app)
    # Serving first: routes match in order, and predict calls are the hot path.
    for router in (serving.router, identity.router, jobs.router, audit.router, data.router, models.router, evaluation.router,
                   filing.router, filing.registry_router, annotation.router, citybrain.router, enterprises.router,
                   statistics.router, subsidies.router, ledger.router, reports.router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(serving.metrics_router)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    mount_console(app)
    return app



def create_api_process_app() -> FastAPI:
    """The app of one of several API processes (a uvicorn factory, see `api.server`): settings
    from the environment, no job executor, quotas shared through the supervisor's folder."""
    return create_app(settings=Settings(), serving_shared_dir=Path(os.environ[SERVING_SHARED_DIR_ENV]))
