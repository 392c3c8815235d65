"""Filing's tables: filings (备案) with their review and certificate, and the per-year number sequences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow

ID = sa.String(40)
SHA256 = sa.String(64)


class Filing(Base):
    """One model version filed by its org: the application, its test run and grade, the review,
    and once approved its number and certificate.

    A change to a filed model is a new row with `change_of` naming the approved filing it
    changes; on approval it takes that filing's number with the next `revision`, and the one
    it changes becomes `superseded`. So (number, revision) is unique, and a number, once
    assigned, only ever names revisions of the same filed model.
    """

    __tablename__ = "filings"
    __table_args__ = (
        sa.UniqueConstraint("number", "revision", name="uq_filings_number_revision"),
        # The lists, newest first, walked in id order rather than sorted whole: an org's filings,
        # and those of one status (the review queue, the registry).
        sa.Index("ix_filings_org_id_id", "org_id", "id"),
        sa.Index("ix_filings_status_id", "status", "id"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    model_id: Mapped[str] = mapped_column(sa.ForeignKey("models.id"), index=True)
    version_id: Mapped[str] = mapped_column(sa.ForeignKey("model_versions.id"), index=True)
    change_of: Mapped[str | None] = mapped_column(sa.ForeignKey("filings.id"))
    status: Mapped[str] = mapped_column(sa.String(20), index=True, default="draft")

    # What the national algorithm filing asks for.
    provider: Mapped[str] = mapped_column(sa.String(200))
    service_form: Mapped[str] = mapped_column(sa.String(20))
    application_field: Mapped[str] = mapped_column(sa.String(200))
    algorithm_type: Mapped[str] = mapped_column(sa.String(30))
    self_assessment: Mapped[str] = mapped_column(sa.Text, default="")
    public_content: Mapped[str] = mapped_column(sa.Text, default="")
    intended_use: Mapped[str] = mapped_column(sa.Text, default="")
    contact: Mapped[str] = mapped_column(sa.String(200), default="")

    # The test run: which records, which parameter overrides, and what came of it.
    dataset_version_id: Mapped[str | None] = mapped_column(ID)
    evaluation_params: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    evaluation_id: Mapped[str | None] = mapped_column(ID, index=True)
    evaluation_summary: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    grade: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    risk_level: Mapped[str | None] = mapped_column(sa.String(10), index=True)  # low | medium | high
    policy_sha256: Mapped[str | None] = mapped_column(SHA256)
    message: Mapped[str] = mapped_column(sa.Text, default="")

    # The ethics checklist: the applicant's answers and evidence, the reviewer's judgements.
    checklist_sha256: Mapped[str | None] = mapped_column(SHA256)
    answers: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    judgements: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(ID)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Issued on approval.
    number: Mapped[str | None] = mapped_column(sa.String(100), index=True)
    revision: Mapped[int | None] = mapped_column(sa.Integer)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    certificate_sha256: Mapped[str | None] = mapped_column(SHA256)
    certificate_pdf_sha256: Mapped[str | None] = mapped_column(SHA256)
    report_sha256: Mapped[str | None] = mapped_column(SHA256)
    report_pdf_sha256: Mapped[str | None] = mapped_column(SHA256)
    public_report_sha256: Mapped[str | None] = mapped_column(SHA256)

    # How it ended: revoked by the platform, deregistered by its owner, or superseded by a change.
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by: Mapped[str | None] = mapped_column(ID)
    end_reason: Mapped[str] = mapped_column(sa.Text, default="")
    superseded_by: Mapped[str | None] = mapped_column(ID)

    submitted_by: Mapped[str | None] = mapped_column(ID)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FilingSequence(Base):
    """The last filing number's sequence issued in a year; bumped in the approving transaction."""

    __tablename__ = "filing_sequences"

    year: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(sa.Integer, default=0)
