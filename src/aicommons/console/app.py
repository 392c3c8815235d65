"""Mounting the console on the platform's FastAPI app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from aicommons.console.routes import (
    annotation,
    auth,
    citybrain,
    datasets,
    evaluations,
    home,
    jobs,
    models,
    observatory,
    profile,
    registry,
    serving,
    training,
)

STATIC_DIR = Path(__file__).parent / "static"


def mount(app: FastAPI) -> None:
    """Add the console's pages under `/` and its packaged assets (htmx, CSS) under `/static`."""
    for module in (auth, home, datasets, annotation, jobs, training, models, evaluations, serving, citybrain, observatory, registry, profile):
        app.include_router(module.router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="console-static")
