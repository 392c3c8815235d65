"""Subsidy rules of 002 三 and applications under them: items, quotes, applications, decisions."""

from __future__ import annotations

from fastapi import APIRouter
router = APIRouter(prefix="/observatory/subsidies", tags=["observatory"])
