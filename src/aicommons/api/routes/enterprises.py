"""The enterprise registry (培育库): officials register, search, import and export AI enterprises."""

from __future__ import annotations

from fastapi import APIRouter
router = APIRouter(prefix="/observatory/enterprises", tags=["observatory"])
