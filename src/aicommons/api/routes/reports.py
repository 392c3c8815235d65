"""The observatory's reports: the quarterly statistics bulletin and the annual industry development report."""

from __future__ import annotations

from fastapi import APIRouter
router = APIRouter(prefix="/observatory/reports", tags=["observatory"])
