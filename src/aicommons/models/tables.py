"""The model hub's tables: models, their immutable versions, and movable aliases."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow

ID = sa.String(40)


class Model(Base):
    __tablename__ = "models"
    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_models_org_id_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    task: Mapped[str] = mapped_column(sa.String(40))
    visibility: Mapped[str] = mapped_column(sa.String(10), default="private")
    licence: Mapped[str] = mapped_column(sa.String(100), default="")
    description: Mapped[str] = mapped_column(sa.Text, default="")
    name_zh: Mapped[str] = mapped_column(sa.String(100), default="")
    description_zh: Mapped[str] = mapped_column(sa.Text, default="")
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    latest_version: Mapped[int] = mapped_column(sa.Integer, default=0)


class ModelVersion(Base):
    """Immutable but for its card, which the owner may edit."""

    __tablename__ = "model_versions"
    __table_args__ = (sa.UniqueConstraint("model_id", "number", name="uq_model_versions_model_id_number"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    model_id: Mapped[str] = mapped_column(sa.ForeignKey("models.id"), index=True)
    number: Mapped[int] = mapped_column(sa.Integer)
    onnx_sha256: Mapped[str] = mapped_column(sa.String(64))
    onnx_size: Mapped[int] = mapped_column(sa.BigInteger)
    source_format: Mapped[str] = mapped_column(sa.String(20))
    source_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    framework: Mapped[str] = mapped_column(sa.String(40))
    signature: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    preprocessing: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    card: Mapped[str] = mapped_column(sa.Text, default="")
    dataset_version_ids: Mapped[list[str]] = mapped_column(JSONType, default=list)
    parent_version_id: Mapped[str | None] = mapped_column(ID)
    operation: Mapped[str] = mapped_column(sa.String(40))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    job_id: Mapped[str | None] = mapped_column(ID)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModelAlias(Base):
    __tablename__ = "model_aliases"

    model_id: Mapped[str] = mapped_column(sa.ForeignKey("models.id"), primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    version_id: Mapped[str] = mapped_column(sa.ForeignKey("model_versions.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
