"""Annotation's tables: projects, their workers, items, tasks, answers and aggregated results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow

ID = sa.String(40)


class AnnotationProject(Base):
    """A labelling project on one dataset version, owned by the org that owns the dataset."""

    __tablename__ = "annotation_projects"
    __table_args__ = (sa.UniqueConstraint("org_id", "name", name="uq_annotation_projects_org_id_name"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    visibility: Mapped[str] = mapped_column(sa.String(10), default="public")
    status: Mapped[str] = mapped_column(sa.String(10), default="open")  # open | closed
    dataset_id: Mapped[str] = mapped_column(sa.ForeignKey("datasets.id"), index=True)
    dataset_version_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset_versions.id"))
    kind: Mapped[str] = mapped_column(sa.String(10))  # single | multi | spans | boxes
    labels: Mapped[list[str]] = mapped_column(JSONType, default=list)
    guidelines: Mapped[str] = mapped_column(sa.Text, default="")
    overlap: Mapped[int] = mapped_column(sa.Integer, default=3)
    max_overlap: Mapped[int] = mapped_column(sa.Integer, default=5)
    adaptive: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    confidence_threshold: Mapped[float] = mapped_column(sa.Float, default=0.95)
    gold_rate: Mapped[float] = mapped_column(sa.Float, default=0.1)
    qualification_pass_rate: Mapped[float] = mapped_column(sa.Float, default=0.8)
    min_seconds: Mapped[float] = mapped_column(sa.Float, default=2.0)
    method: Mapped[str] = mapped_column(sa.String(10), default="ds")
    reward_points: Mapped[float] = mapped_column(sa.Float, default=1.0)
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    prelabeller: Mapped[str | None] = mapped_column(sa.String(100))
    # The last aggregation: its job, method, agreement metrics and when its results were stored.
    aggregation_job_id: Mapped[str | None] = mapped_column(ID)
    aggregated_method: Mapped[str | None] = mapped_column(sa.String(10))
    aggregated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agreement: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    published_version_id: Mapped[str | None] = mapped_column(ID)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnnotationWorker(Base):
    """A user's membership of a project: their skill estimate, quality flags and counts."""

    __tablename__ = "annotation_workers"

    project_id: Mapped[str] = mapped_column(sa.ForeignKey("annotation_projects.id"), primary_key=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    org_id: Mapped[str] = mapped_column(ID)  # the worker's own org
    # Beta(correct, wrong) pseudo-counts; a new worker starts at the prior in assignment.PRIOR_SKILL.
    skill_correct: Mapped[float] = mapped_column(sa.Float)
    skill_wrong: Mapped[float] = mapped_column(sa.Float)
    # none (no qualification test) | pending | passed | failed
    qualification: Mapped[str] = mapped_column(sa.String(10), default="none")
    qualification_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    tasks: Mapped[int] = mapped_column(sa.Integer, default=0)
    answers: Mapped[int] = mapped_column(sa.Integer, default=0)
    gold_answers: Mapped[int] = mapped_column(sa.Integer, default=0)
    gold_correct: Mapped[int] = mapped_column(sa.Integer, default=0)
    flags: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)  # [{code, reason}]
    weight: Mapped[float] = mapped_column(sa.Float, default=1.0)
    points: Mapped[float] = mapped_column(sa.Float, default=0.0)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_answer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AnnotationItem(Base):
    """One record of the project's dataset version to be labelled. `id` orders items (ties)."""

    __tablename__ = "annotation_items"
    __table_args__ = (
        sa.UniqueConstraint("project_id", "record_id", name="uq_annotation_items_project_id_record_id"),
        sa.Index("ix_annotation_items_project_id_state_answers", "project_id", "state", "answers"),
    )

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    project_id: Mapped[str] = mapped_column(sa.ForeignKey("annotation_projects.id"))
    record_id: Mapped[str] = mapped_column(sa.String(200))
    # What a worker sees: {"text"?, "fields", "file_sha256"?, "file_name"?}, plus the record's
    # current "label" for pre-labellers (never shown to workers).
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    is_gold: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    is_qualification: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    gold_value: Mapped[Any | None] = mapped_column(JSONType)
    state: Mapped[str] = mapped_column(sa.String(10), default="open")  # open | done
    answers: Mapped[int] = mapped_column(sa.Integer, default=0)
    posterior: Mapped[dict[str, float] | None] = mapped_column(JSONType)
    confidence: Mapped[float | None] = mapped_column(sa.Float)
    # The pre-labeller's suggestion, computed when the item is first handed out.
    suggested: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    suggestion: Mapped[Any | None] = mapped_column(JSONType)


class AnnotationTask(Base):
    """An item handed to a worker. Unanswered past `expires_at`, it no longer holds the item.
    One row per (item, worker): a worker never gets the same item twice."""

    __tablename__ = "annotation_tasks"
    __table_args__ = (
        sa.UniqueConstraint("item_id", "user_id", name="uq_annotation_tasks_item_id_user_id"),
        sa.Index("ix_annotation_tasks_project_id_user_id", "project_id", "user_id"),
    )

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.ForeignKey("annotation_projects.id"))
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("annotation_items.id"), index=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AnnotationAnswer(Base):
    """A worker's answer to a task. `gold_correct` is set for gold (and qualification) items."""

    __tablename__ = "annotation_answers"
    __table_args__ = (sa.Index("ix_annotation_answers_project_id_user_id", "project_id", "user_id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    task_id: Mapped[str] = mapped_column(sa.ForeignKey("annotation_tasks.id"), unique=True)
    project_id: Mapped[str] = mapped_column(sa.ForeignKey("annotation_projects.id"))
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("annotation_items.id"), index=True)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("users.id"))
    value: Mapped[Any] = mapped_column(JSONType)
    seconds: Mapped[float | None] = mapped_column(sa.Float)  # as reported by the worker's client
    elapsed: Mapped[float] = mapped_column(sa.Float)  # measured by the server since assignment
    gold_correct: Mapped[bool | None] = mapped_column(sa.Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AnnotationResult(Base):
    """An item's aggregated label, and its review."""

    __tablename__ = "annotation_results"

    item_id: Mapped[int] = mapped_column(sa.ForeignKey("annotation_items.id"), primary_key=True)
    project_id: Mapped[str] = mapped_column(sa.ForeignKey("annotation_projects.id"), index=True)
    record_id: Mapped[str] = mapped_column(sa.String(200))
    value: Mapped[Any] = mapped_column(JSONType)
    confidence: Mapped[float] = mapped_column(sa.Float)
    support: Mapped[int] = mapped_column(sa.Integer)
    posteriors: Mapped[dict[str, float] | None] = mapped_column(JSONType)
    method: Mapped[str] = mapped_column(sa.String(10))
    job_id: Mapped[str | None] = mapped_column(ID)
    aggregated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    review: Mapped[str | None] = mapped_column(sa.String(10))  # accepted | rejected | corrected
    reviewed_value: Mapped[Any | None] = mapped_column(JSONType)
    review_comment: Mapped[str] = mapped_column(sa.Text, default="")
    reviewed_by: Mapped[str | None] = mapped_column(ID)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the review added to each answering worker's skill, {user_id: [correct, wrong]}, so a
    # second review replaces the first one's effect instead of adding to it.
    review_feedback: Mapped[dict[str, list[float]]] = mapped_column(JSONType, default=dict)
