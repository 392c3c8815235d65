"""The statistics tables: quarterly observations (superseded, never overwritten) and regional evaluations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow


class Observation(Base):
    """One value of an indicator for a region and quarter. Re-recording the same (indicator, region,
    quarter) adds a row and marks this one superseded, so the series keeps its history."""

    __tablename__ = "stat_observations"
    __table_args__ = (sa.Index("ix_stat_observations_key", "indicator", "region", "quarter"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    indicator: Mapped[str] = mapped_column(sa.String(60))
    region: Mapped[str] = mapped_column(sa.String(6), index=True)  # GB/T 2260 code
    quarter: Mapped[str] = mapped_column(sa.String(6), index=True)  # 2026Q3: sorts in time order
    value: Mapped[float] = mapped_column(sa.Float)
    source: Mapped[str] = mapped_column(sa.String(100))  # manual | csv:<digest> | platform:<indicator> | sample
    sample: Mapped[bool] = mapped_column(sa.Boolean, default=False, index=True)
    note: Mapped[str] = mapped_column(sa.Text, default="")
    recorded_by: Mapped[str] = mapped_column(sa.String(40))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    supersedes: Mapped[str | None] = mapped_column(sa.String(40))
    superseded_by: Mapped[str | None] = mapped_column(sa.String(40), index=True)


class Evaluation(Base):
    """A regional comprehensive evaluation: its choices, the inputs it read, and the ranking."""

    __tablename__ = "stat_evaluations"

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(500), default="")
    year: Mapped[int] = mapped_column(sa.Integer, index=True)
    normalisation: Mapped[str] = mapped_column(sa.String(10))
    weighting: Mapped[str] = mapped_column(sa.String(10))
    indicators: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    weights: Mapped[dict[str, float]] = mapped_column(JSONType)
    regions: Mapped[list[str]] = mapped_column(JSONType)
    inputs: Mapped[dict[str, Any]] = mapped_column(JSONType)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    left_out: Mapped[list[str]] = mapped_column(JSONType)
    arithmetic: Mapped[list[str]] = mapped_column(JSONType)
    sample: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    created_by: Mapped[str] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
