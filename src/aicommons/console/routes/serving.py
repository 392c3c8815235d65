"""Serving: endpoints, a try-it form, latency charts."""

from __future__ import annotations

from fastapi import APIRouter

from aicommons.console.pages import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute)
