"""Evaluation and filing: suites and reports, the filing form, the reviewer's queue."""

from __future__ import annotations

from fastapi import APIRouter

from aicommons.console.pages import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute)
