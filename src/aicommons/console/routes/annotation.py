"""Annotation: projects, the worker's task page (keyboard labels, spans, boxes), progress, quality and review."""

from __future__ import annotations

from fastapi import APIRouter

from aicommons.console.pages import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute)
