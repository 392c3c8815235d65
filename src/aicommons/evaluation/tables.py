"""Evaluation's tables: runs with their results, and the prediction cache."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow

ID = sa.String(40)


class Evaluation(Base):
    """One run of a suite (or chosen tests) on a model version and a dataset version."""

    __tablename__ = "evaluations"
    # A member's list, newest first: the org's runs walked in id order, not all of them sorted.
    __table_args__ = (sa.Index("ix_evaluations_org_id_id", "org_id", "id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    model_id: Mapped[str] = mapped_column(sa.ForeignKey("models.id"), index=True)
    version_id: Mapped[str] = mapped_column(sa.ForeignKey("model_versions.id"), index=True)
    dataset_version_id: Mapped[str | None] = mapped_column(ID)
    suite: Mapped[str | None] = mapped_column(sa.String(60))
    plan: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # the tests with merged params and thresholds
    seed: Mapped[int] = mapped_column(sa.Integer, default=0)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("jobs.id"), index=True)
    results: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    reproducibility: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CachedPrediction(Base):
    """Class probabilities of one model on one batch of inputs, kept as a `.npy` blob.

    Keyed by (model digest, input digest) like HELM's and lm-evaluation-harness's request caches:
    a repeated or resumed run, or another run of the same model, reuses what was computed."""

    __tablename__ = "evaluation_predictions"

    model_sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    input_sha256: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    output_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
