"""Serving's tables: deployed endpoints and their metered usage per calling org and minute."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, UTCDateTime, utcnow

ID = sa.String(40)


class Endpoint(Base):
    """A model version (or an alias, followed as it moves) served under a platform-wide name."""

    __tablename__ = "endpoints"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(60), unique=True)
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    visibility: Mapped[str] = mapped_column(sa.String(10), default="private")
    model_id: Mapped[str] = mapped_column(sa.ForeignKey("models.id"), index=True)
    version_ref: Mapped[str] = mapped_column(sa.String(40), default="latest")
    workers: Mapped[int] = mapped_column(sa.Integer, default=1)
    max_batch_size: Mapped[int] = mapped_column(sa.Integer, default=32)
    max_wait_ms: Mapped[float] = mapped_column(sa.Float, default=5.0)
    latency_cap_ms: Mapped[float] = mapped_column(sa.Float, default=200.0)
    rate_limit_per_minute: Mapped[int] = mapped_column(sa.Integer, default=6000)
    status: Mapped[str] = mapped_column(sa.String(10), default="active")
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class EndpointUsage(Base):
    """Calls and compute per endpoint, calling org and minute: what compute vouchers will bill."""

    __tablename__ = "endpoint_usage"

    endpoint_id: Mapped[str] = mapped_column(sa.ForeignKey("endpoints.id"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID, primary_key=True)
    minute: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    calls: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    rows: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    errors: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    compute_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
