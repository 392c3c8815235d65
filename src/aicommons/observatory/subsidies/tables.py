"""The subsidy applications table: one row per application, money in integer fen (分)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow


class SubsidyApplication(Base):
    """An org's application under an item of 002 三, and the official's decision on it."""

    __tablename__ = "subsidy_applications"
    __table_args__ = (sa.Index("ix_subsidy_applications_org_project", "org_id", "project_key"),)

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    created_by: Mapped[str] = mapped_column(sa.String(40))
    item: Mapped[str] = mapped_column(sa.String(60), index=True)
    level: Mapped[str | None] = mapped_column(sa.String(60))
    year: Mapped[int] = mapped_column(sa.Integer, index=True)
    project_key: Mapped[str] = mapped_column(sa.String(100))
    bases: Mapped[dict[str, str]] = mapped_column(JSONType, default=dict)  # name -> decimal text
    evidence: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[str] = mapped_column(sa.String(16), index=True)  # pending | approved | rejected
    quoted_fen: Mapped[int] = mapped_column(sa.BigInteger)  # payable when applied for
    quote: Mapped[list[str]] = mapped_column(JSONType, default=list)  # the arithmetic then
    amount_fen: Mapped[int | None] = mapped_column(sa.BigInteger)  # fixed by approval
    decision: Mapped[list[Any] | None] = mapped_column(JSONType)  # the arithmetic at the decision
    reason: Mapped[str | None] = mapped_column(sa.Text)
    decided_by: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
