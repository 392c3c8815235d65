"""Annotation projects: create on a dataset version, read, list, update; workers join them.

A project belongs to the org that owns its dataset (it publishes a new version of that dataset).
Its items are the version's records, copied when the project is created: a worker of another org
sees an item's text, fields and image through the project, not through the dataset, which may be
private. A `public` project is listed to, and may be joined by, users of every org; a `private`
one only by its own org's.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import Conflict, Invalid, invalid_parameter, not_found, refusals_name
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Action, Actor, can, require, visible_clause
from aicommons.core.schemas import Page
from aicommons.core.tables import User
from aicommons.data.annotation import aggregation
from aicommons.data.annotation.prelabels import prelabellers
from aicommons.data.annotation.schemas import LabelSchema, ProjectCreate, ProjectRead, ProjectUpdate, WorkerRead
from aicommons.data.annotation.tables import AnnotationAnswer, AnnotationItem, AnnotationProject, AnnotationWorker
from aicommons.data.datasets import dataset_row
from aicommons.data.manifest import RESERVED, ManifestCache
from aicommons.data.tables import Dataset
from aicommons.data.versions import version_row

KIND = "annotation_project"
# A new worker is presumed 80% accurate (Beta(4, 1)) until gold answers and reviews say otherwise:
# with a uniform prior a new worker's answers would carry no weight at all, and adaptive overlap
# could not stop any item before its workers had answered gold.
PRIOR_SKILL = (4.0, 1.0)
INSERT_BATCH = 5000


# --- rows and reads ---------------------------------------------------------------------------


def project_row(session: Session, actor: Actor, project_id: str, action: Action = Action.read, *, lock: bool = False) -> AnnotationProject:
    """The project, checked for the actor (NotFound when it may not see it). `lock` takes the
    project's row lock: task assignment and answers on one project run one at a time."""
    stmt = sa.select(AnnotationProject).where(AnnotationProject.id == project_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    project = session.scalar(stmt)
    require(session, actor, action, KIND, project, project_id)
    assert project is not None
    return project


def label_schema(project: AnnotationProject) -> LabelSchema:
    return LabelSchema(kind=project.kind, labels=project.labels)  # type: ignore[arg-type]


def read_project(session: Session, project: AnnotationProject) -> ProjectRead:
    return read_projects(session, [project])[0]


def read_projects(session: Session, projects: list[AnnotationProject]) -> list[ProjectRead]:
    """The projects with their item, answer and worker counts: three grouped queries for any
    number of projects (a list page must not ask once per row)."""
    ids = [p.id for p in projects]
    if not ids:
        return []
    items = AnnotationItem
    item_counts = {
        row[0]: row[1:]
        for row in session.execute(
            sa.select(
                items.project_id,
                sa.func.count().filter(items.is_gold.is_(False)),
                sa.func.count().filter(items.is_gold.is_(False), items.state == "done"),
                sa.func.count().filter(items.is_gold.is_(True)),
                sa.func.count().filter(items.is_qualification.is_(True)),
            ).where(items.project_id.in_(ids)).group_by(items.project_id)
        )
    }
    answers = dict(
        session.execute(
            sa.select(AnnotationAnswer.project_id, sa.func.count()).where(AnnotationAnswer.project_id.in_(ids)).group_by(AnnotationAnswer.project_id)
        ).all()
    )
    workers = dict(
        session.execute(
            sa.select(AnnotationWorker.project_id, sa.func.count()).where(AnnotationWorker.project_id.in_(ids)).group_by(AnnotationWorker.project_id)
        ).all()
    )
    return [_project_read(p, item_counts.get(p.id, (0, 0, 0, 0)), answers.get(p.id, 0), workers.get(p.id, 0)) for p in projects]


def _project_read(project: AnnotationProject, counts: Any, answers: int, workers: int) -> ProjectRead:
    return ProjectRead(
        id=project.id, org_id=project.org_id, name=project.name, visibility=project.visibility, status=project.status,
        dataset_id=project.dataset_id, dataset_version_id=project.dataset_version_id, label_schema=label_schema(project),
        guidelines=project.guidelines, overlap=project.overlap, max_overlap=project.max_overlap, adaptive=project.adaptive,
        confidence_threshold=project.confidence_threshold, gold_count=counts[2], gold_rate=project.gold_rate,
        qualification_count=counts[3], qualification_pass_rate=project.qualification_pass_rate,
        min_seconds=project.min_seconds, method=project.method, reward_points=project.reward_points,
        deadline=project.deadline, prelabeller=project.prelabeller, items=counts[0], items_done=counts[1],
        answers=answers, workers=workers, aggregation_job_id=project.aggregation_job_id,
        aggregated_method=project.aggregated_method, aggregated_at=project.aggregated_at, agreement=project.agreement or {},
        published_version_id=project.published_version_id, created_by=project.created_by, created_at=project.created_at,
        updated_at=project.updated_at,
    )


def worker_read(session: Session, worker: AnnotationWorker) -> WorkerRead:
    return worker_reads(session, [worker])[0]


def worker_reads(session: Session, workers: list[AnnotationWorker]) -> list[WorkerRead]:
    """The workers with their e-mails, looked up in one query."""
    from aicommons.data.annotation.quality import SkillEstimate

    user_ids = sorted({w.user_id for w in workers})
    emails = dict(session.execute(sa.select(User.id, User.email).where(User.id.in_(user_ids))).all()) if user_ids else {}
    reads = []
    for worker in workers:
        skill = SkillEstimate(correct=worker.skill_correct, wrong=worker.skill_wrong)
        reads.append(WorkerRead(
            project_id=worker.project_id, user_id=worker.user_id, org_id=worker.org_id, email=emails.get(worker.user_id, ""),
            qualification=worker.qualification, qualification_reason=worker.qualification_reason,  # type: ignore[arg-type]
            qualified=worker.qualification in ("none", "passed"), tasks=worker.tasks, answers=worker.answers,
            gold_answers=worker.gold_answers,
            gold_accuracy=round(worker.gold_correct / worker.gold_answers, 4) if worker.gold_answers else None,
            skill_accuracy=round(float(skill.accuracy), 4), skill_correct=worker.skill_correct, skill_wrong=worker.skill_wrong,
            flags=worker.flags or [], weight=worker.weight, points=worker.points, joined_at=worker.joined_at,
            last_answer_at=worker.last_answer_at,
        ))
    return reads


# --- create -----------------------------------------------------------------------------------


def create_project(session: Session, actor: Actor, spec: ProjectCreate, *, cache: ManifestCache) -> ProjectRead:
    """A project over every record of a dataset version of the actor's own org.

    `cache` reads the version's manifest (`data.manifest_cache(runtime)`). Gold record ids,
    qualification items and gold answers are checked against the version's records and the
    schema; nothing is written unless all of them fit."""
    version = version_row(session, actor, spec.dataset_version_id)
    dataset = session.get(Dataset, version.dataset_id)
    assert dataset is not None
    if dataset.org_id != actor.org_id:
        raise Invalid(
            f"Dataset {dataset.name!r} belongs to another organisation. An annotation project labels a dataset "
            "of your own organisation (it publishes the labels as a new version of it); import the data into "
            "a dataset of yours first.",
            field="dataset_version_id",
        )
    dataset_row(session, actor, dataset.id, Action.write)
    if spec.method not in aggregation.METHODS:
        raise invalid_parameter("method", "create_project", f"one of {list(aggregation.METHODS)}", spec.method)
    if spec.prelabeller is not None:
        with refusals_name("prelabeller"):
            prelabellers.get(spec.prelabeller)
    now = utcnow()
    if spec.deadline is not None and spec.deadline <= now:
        raise invalid_parameter("deadline", "create_project", "in the future", spec.deadline.isoformat())
    if session.scalar(
        sa.select(AnnotationProject.id).where(AnnotationProject.org_id == actor.org_id, sa.func.lower(AnnotationProject.name) == spec.name.lower())
    ):
        raise Conflict(f"Your organisation already has an annotation project named {spec.name!r}.")
    schema = spec.label_schema
    table = cache.table(version.manifest_sha256)
    _check_modality(schema, table)
    payloads = _payloads(table)
    with refusals_name("gold"):
        gold = _checked_gold(schema, spec.gold, payloads)
    unknown_qualification = [r for r in spec.qualification_items if r not in gold]
    if unknown_qualification:
        raise Invalid(
            f"Qualification item {unknown_qualification[0]!r} is not a gold item; qualification items must be "
            "record ids listed in `gold` (their known answers grade the test).",
            field="qualification_items",
        )
    qualification = set(spec.qualification_items)

    project = AnnotationProject(
        id=new_id("anp"), org_id=actor.org_id, name=spec.name, visibility=spec.visibility, status="open",
        dataset_id=dataset.id, dataset_version_id=version.id, kind=schema.kind, labels=list(schema.labels),
        guidelines=spec.guidelines, overlap=spec.overlap, max_overlap=spec.max_overlap, adaptive=spec.adaptive,
        confidence_threshold=spec.confidence_threshold, gold_rate=spec.gold_rate,
        qualification_pass_rate=spec.qualification_pass_rate, min_seconds=spec.min_seconds, method=spec.method,
        reward_points=spec.reward_points, deadline=spec.deadline, prelabeller=spec.prelabeller, agreement={},
        created_by=actor.user_id, created_at=now, updated_at=now,
    )
    session.add(project)
    session.flush()
    rows = [
        {
            "project_id": project.id, "record_id": record_id, "payload": payload, "is_gold": record_id in gold,
            "is_qualification": record_id in qualification, "gold_value": gold.get(record_id), "state": "open",
            "answers": 0, "suggested": False,
        }
        for record_id, payload in payloads.items()
    ]
    for start in range(0, len(rows), INSERT_BATCH):
        session.execute(sa.insert(AnnotationItem), rows[start:start + INSERT_BATCH])
    result = read_project(session, project)
    audit.record(
        session, actor, "annotation.project.create", KIND, project.id, org_id=project.org_id, after=result,
        detail={"dataset_version_id": version.id, "items": len(rows), "gold": len(gold), "qualification": len(qualification)},
    )
    return result


def _check_modality(schema: LabelSchema, table: pa.Table) -> None:
    if table.num_rows == 0:
        raise Invalid("The dataset version has no records to label.", field="dataset_version_id")
    if schema.kind == "spans" and "text" not in table.column_names:
        raise Invalid("A 'spans' project labels text; this dataset version has no `text` field.", field="schema")
    if schema.kind == "boxes" and table["file_sha256"].null_count == table.num_rows:
        raise Invalid("A 'boxes' project labels images; this dataset version holds none.", field="schema")


def _payloads(table: pa.Table) -> dict[str, dict[str, Any]]:
    """What each record shows a worker: its text, its other fields, its image; and, for
    pre-labellers only, its current label."""
    field_names = [n for n in table.column_names if n not in RESERVED]
    payloads: dict[str, dict[str, Any]] = {}
    for row in table.to_pylist():
        payload: dict[str, Any] = {"fields": {n: row[n] for n in field_names if n != "text"}}
        if row.get("text") is not None:
            payload["text"] = str(row["text"])
        if row["file_sha256"]:
            payload["file_sha256"] = row["file_sha256"]
            payload["file_name"] = row["file_name"]
        if row["label"] is not None:
            payload["label"] = row["label"]
        payloads[row["record_id"]] = json.loads(json.dumps(payload, ensure_ascii=False, default=str))
    return payloads


def item_limits(payload: dict[str, Any]) -> dict[str, Any]:
    """The text length and image size an answer about this item must fit in."""
    fields = payload.get("fields", {})
    width, height = fields.get("width"), fields.get("height")
    size = (int(width), int(height)) if isinstance(width, (int, float)) and isinstance(height, (int, float)) else None
    text = payload.get("text")
    return {"text_length": len(text) if text is not None else None, "image_size": size}


def _checked_gold(schema: LabelSchema, gold: dict[str, Any], payloads: dict[str, dict[str, Any]]) -> dict[str, Any]:
    checked = {}
    for record_id, value in gold.items():
        if record_id not in payloads:
            raise Invalid(f"Gold record {record_id!r} is not a record of this dataset version.")
        checked[record_id] = schema.check(value, **item_limits(payloads[record_id]), where=f"The gold answer of record {record_id!r}")
    return checked


# --- read, list, update -----------------------------------------------------------------------


def get_project(session: Session, actor: Actor, project_id: str) -> ProjectRead:
    return read_project(session, project_row(session, actor, project_id))


def list_projects(
    session: Session, actor: Actor, *, status: str | None = None, dataset_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[ProjectRead]:
    """Public projects of every org and the actor's own org's private ones, newest first."""
    stmt = sa.select(AnnotationProject).where(visible_clause(actor, KIND, AnnotationProject))
    if status is not None:
        if status not in ("open", "closed"):
            raise invalid_parameter("status", "list_projects", "'open' or 'closed'", status)
        stmt = stmt.where(AnnotationProject.status == status)
    if dataset_id is not None:
        stmt = stmt.where(AnnotationProject.dataset_id == dataset_id)
    rows, next_cursor = page_rows(session, stmt, AnnotationProject.id, limit=limit, cursor=cursor, owner="list_projects")
    return Page[ProjectRead](items=read_projects(session, rows), next_cursor=next_cursor)


def list_taking_part(session: Session, actor: Actor, *, limit: int = 50, cursor: str | None = None) -> Page[ProjectRead]:
    """The projects the actor's org owns and those the actor works on, newest first."""
    joined = sa.exists().where(AnnotationWorker.project_id == AnnotationProject.id, AnnotationWorker.user_id == actor.user_id)
    stmt = sa.select(AnnotationProject).where(
        visible_clause(actor, KIND, AnnotationProject), sa.or_(AnnotationProject.org_id == actor.org_id, joined)
    )
    rows, next_cursor = page_rows(session, stmt, AnnotationProject.id, limit=limit, cursor=cursor, owner="list_taking_part")
    return Page[ProjectRead](items=read_projects(session, rows), next_cursor=next_cursor)


def joined_project_ids(session: Session, actor: Actor, project_ids: list[str]) -> set[str]:
    """Which of these projects the actor has joined as a worker."""
    if not project_ids:
        return set()
    return set(
        session.scalars(
            sa.select(AnnotationWorker.project_id).where(AnnotationWorker.user_id == actor.user_id, AnnotationWorker.project_id.in_(project_ids))
        )
    )


def may_manage(session: Session, actor: Actor, project_id: str) -> bool:
    """Whether the actor may see the project's workers and results and review them (its owner org)."""
    return can(session, actor, Action.write, KIND, project_row(session, actor, project_id))


def update_project(session: Session, actor: Actor, project_id: str, change: ProjectUpdate) -> ProjectRead:
    """Guidelines, deadline and status (open/closed), by the owner org."""
    project = project_row(session, actor, project_id, Action.write, lock=True)
    before = read_project(session, project)
    if change.deadline is not None and change.clear_deadline:
        raise Invalid("Give a new deadline or clear_deadline, not both.")
    if change.deadline is not None and change.deadline <= utcnow():
        raise invalid_parameter("deadline", "update_project", "in the future", change.deadline.isoformat())
    if change.guidelines is not None:
        project.guidelines = change.guidelines
    if change.deadline is not None:
        project.deadline = change.deadline
    if change.clear_deadline:
        project.deadline = None
    if change.status is not None:
        project.status = change.status
    project.updated_at = utcnow()
    session.flush()
    after = read_project(session, project)
    audit.record(session, actor, "annotation.project.update", KIND, project.id, org_id=project.org_id, before=before, after=after)
    return after


def require_open(project: AnnotationProject, now: datetime) -> None:
    if project.status != "open":
        raise Conflict(f"Annotation project {project.name!r} is closed; it takes no more answers.")
    if project.deadline is not None and now >= project.deadline:
        raise Conflict(f"Annotation project {project.name!r} passed its deadline ({project.deadline.isoformat()}); it takes no more answers.")


# --- workers ----------------------------------------------------------------------------------


def join_project(session: Session, actor: Actor, project_id: str) -> WorkerRead:
    """Join as a worker (any org's user, for a public project). Joining again changes nothing."""
    project = project_row(session, actor, project_id, Action.run, lock=True)
    existing = session.get(AnnotationWorker, (project.id, actor.user_id))
    if existing is not None:
        return worker_read(session, existing)
    require_open(project, utcnow())
    has_qualification = session.scalar(
        sa.select(sa.func.count()).where(AnnotationItem.project_id == project.id, AnnotationItem.is_qualification.is_(True))
    )
    worker = AnnotationWorker(
        project_id=project.id, user_id=actor.user_id, org_id=actor.org_id, skill_correct=PRIOR_SKILL[0],
        skill_wrong=PRIOR_SKILL[1], qualification="pending" if has_qualification else "none", qualification_reason="",
        tasks=0, answers=0, gold_answers=0, gold_correct=0, flags=[], weight=1.0, points=0.0, joined_at=utcnow(),
    )
    session.add(worker)
    session.flush()
    result = worker_read(session, worker)
    audit.record(
        session, actor, "annotation.worker.join", KIND, project.id, org_id=project.org_id, after=result,
        detail={"user_id": actor.user_id, "worker_org_id": actor.org_id},
    )
    return result


def worker_row(session: Session, project: AnnotationProject, actor: Actor) -> AnnotationWorker:
    worker = session.get(AnnotationWorker, (project.id, actor.user_id))
    if worker is None:
        raise Conflict(f"You have not joined annotation project {project.name!r}; join it first.")
    return worker


def own_worker(session: Session, actor: Actor, project_id: str) -> WorkerRead | None:
    """The actor's own membership of the project, or None when they have not joined it."""
    project = project_row(session, actor, project_id)
    worker = session.get(AnnotationWorker, (project.id, actor.user_id))
    return worker_read(session, worker) if worker is not None else None


def list_workers(session: Session, actor: Actor, project_id: str) -> list[WorkerRead]:
    """The project's workers with their skill, answers, gold accuracy, flags (with reasons) and
    weight; for the owner org."""
    project = project_row(session, actor, project_id, Action.write)
    rows = session.scalars(
        sa.select(AnnotationWorker).where(AnnotationWorker.project_id == project.id).order_by(AnnotationWorker.joined_at, AnnotationWorker.user_id)
    )
    return worker_reads(session, list(rows))


def get_worker(session: Session, actor: Actor, project_id: str, user_id: str | None = None) -> WorkerRead:
    """One worker: the actor themselves by default; another worker for the owner org."""
    if user_id is None or user_id == actor.user_id:
        project = project_row(session, actor, project_id, Action.run)
        return worker_read(session, worker_row(session, project, actor))
    project = project_row(session, actor, project_id, Action.write)
    worker = session.get(AnnotationWorker, (project.id, user_id))
    if worker is None:
        raise not_found("worker of this project", user_id)
    return worker_read(session, worker)

