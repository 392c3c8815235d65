"""Policy targets, quarterly observations, progress and the regional evaluation."""

from __future__ import annotations

from fastapi import APIRouter
router = APIRouter(prefix="/observatory", tags=["observatory"])
