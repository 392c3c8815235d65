"""The data service's tables: datasets and their immutable versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow

ID = sa.String(40)


class Dataset(Base):
    __tablename__ = "datasets"
    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_datasets_org_id_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    modality: Mapped[str] = mapped_column(sa.String(10))
    visibility: Mapped[str] = mapped_column(sa.String(10), default="private")
    licence: Mapped[str] = mapped_column(sa.String(100), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    latest_version: Mapped[int] = mapped_column(sa.Integer, default=0)
    # Keys the de-identification's hashes and pseudonyms; made on first use, never shown.
    deid_secret: Mapped[str | None] = mapped_column(sa.String(64))


class DatasetVersion(Base):
    """Immutable: rows are only ever inserted. Changing data makes a new version."""

    __tablename__ = "dataset_versions"
    __table_args__ = (sa.UniqueConstraint("dataset_id", "number", name="uq_dataset_versions_dataset_id_number"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    dataset_id: Mapped[str] = mapped_column(sa.ForeignKey("datasets.id"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    manifest_sha256: Mapped[str] = mapped_column(sa.String(64))
    record_count: Mapped[int] = mapped_column(sa.Integer)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    statistics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    parent_version_id: Mapped[str | None] = mapped_column(ID)
    operation: Mapped[str] = mapped_column(sa.String(40))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    report_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    job_id: Mapped[str | None] = mapped_column(ID)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
