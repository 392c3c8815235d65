"""City Brain's table: simulation runs of a signal controller on a network, with their results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow

ID = sa.String(40)
SHA256 = sa.String(64)


class CityBrainRun(Base):
    """One controller on one network and route file, simulated for each of its seeds."""

    __tablename__ = "citybrain_runs"
    # The runs list, newest first: the org's runs walked in id order, not all of them (with their results) sorted.
    __table_args__ = (sa.Index("ix_citybrain_runs_org_id_id", "org_id", "id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    created_by: Mapped[str | None] = mapped_column(ID)
    name: Mapped[str] = mapped_column(sa.String(120), default="")
    kind: Mapped[str] = mapped_column(sa.String(30), default="signal-control", server_default="signal-control", index=True)
    scenario: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # the kind's parameters (green wave route, incidents …)
    net_sha256: Mapped[str] = mapped_column(SHA256)  # the SUMO .net.xml, a blob
    routes_sha256: Mapped[str] = mapped_column(SHA256)  # the SUMO .rou.xml, a blob
    controller: Mapped[str] = mapped_column(sa.String(60))
    params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # the controller's keyword arguments
    timing: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # action_interval, yellow, min_green
    seeds: Mapped[list[int]] = mapped_column(JSONType, default=list)
    duration: Mapped[float] = mapped_column(sa.Float)  # simulated seconds per seed
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    results: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)  # {"episodes": [...], "summary": {...}}
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
