"""Observatory: policy targets, the regional ranking, the enterprise registry, subsidies, vouchers and the ledger."""

from __future__ import annotations

from fastapi import APIRouter

from aicommons.console.pages import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute)
