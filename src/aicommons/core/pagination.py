"""Keyset pagination: rows ordered newest first by a time-sortable key, continued by a cursor."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core.errors import invalid_parameter

MAX_LIMIT = 200


def page_rows(
    session: Session, stmt: sa.Select[Any], key: Any, *, limit: int, cursor: str | None, owner: str
) -> tuple[list[Any], str | None]:
    """Return up to `limit` rows with `key` below `cursor`, and the cursor of the next page."""
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_parameter("limit", owner, f"an integer in [1, {MAX_LIMIT}]", limit)
    if cursor is not None:
        stmt = stmt.where(key < _parse_cursor(cursor, key, owner))
    rows = list(session.scalars(stmt.order_by(key.desc()).limit(limit + 1)))
    next_cursor = str(getattr(rows[limit - 1], key.key)) if len(rows) > limit else None
    return rows[:limit], next_cursor


def _parse_cursor(cursor: str, key: Any, owner: str) -> Any:
    expected = "a cursor returned by a previous page"
    if len(cursor) > 40:
        raise invalid_parameter("cursor", owner, expected, cursor)
    if isinstance(key.type, sa.Integer):
        if not cursor.isdigit():
            raise invalid_parameter("cursor", owner, expected, cursor)
        return int(cursor)
    return cursor
