"""City Brain: runs, the network drawn as SVG with a replay of queue lengths, controller comparisons."""

from __future__ import annotations

from fastapi import APIRouter

from aicommons.console.pages import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute)
