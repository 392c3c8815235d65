"""The enterprise registry's table: one row per unified social credit code."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow


class Enterprise(Base):
    """An AI enterprise in the cultivation database (培育库); the statistics count these by city, district and tier."""

    __tablename__ = "enterprises"

    credit_code: Mapped[str] = mapped_column(sa.String(18), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), index=True)
    city: Mapped[str] = mapped_column(sa.String(20), index=True)  # 杭州市: the canonical Chinese name
    district: Mapped[str | None] = mapped_column(sa.String(40), index=True)  # 滨江区, or none when unknown
    tiers: Mapped[list[str]] = mapped_column(JSONType, default=list)  # Tier slugs
    ai_fields: Mapped[list[str]] = mapped_column(JSONType, default=list)  # AIField slugs
    revenue: Mapped[dict[str, int]] = mapped_column(JSONType, default=dict)  # {"2024": yuan}
    invention_patents: Mapped[int] = mapped_column(sa.Integer, default=0)
    standards: Mapped[int] = mapped_column(sa.Integer, default=0)
    products: Mapped[list[str]] = mapped_column(JSONType, default=list)
    scenarios: Mapped[list[str]] = mapped_column(JSONType, default=list)
    org_id: Mapped[str | None] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    sample: Mapped[bool] = mapped_column(sa.Boolean, default=False, index=True)
    created_by: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
