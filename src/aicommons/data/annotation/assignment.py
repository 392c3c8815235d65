"""Task assignment and answers: who labels what next, and what each answer changes.

`next_task` hands a worker, in this order: the task they already hold (unanswered and unexpired);
their next qualification item while the qualification test is pending (a worker who failed it is
refused, with the reason); a gold item, at the project's `gold_rate` (drawn from a generator
seeded by project, worker and task count, so the same worker history gives the same sequence);
otherwise the open item with the fewest counted answers, in-flight tasks included, ties by item id.
A worker never gets the same item twice (one task row per item and worker), and a worker flagged
too fast or for low gold accuracy gets no more tasks (Forbidden, with the flags' reasons). A task unanswered
for `TASK_TTL` expires: it no longer holds its item, and can no longer be answered.

An item is done when its counted answers reach `max_overlap`; or, for single-label projects with
adaptive overlap, when it has at least 2 counted answers and the one-coin posterior of its leading
label (quality.posterior, each worker's current skill accuracy) reaches `confidence_threshold`;
otherwise (not adaptive, or another kind) when it reaches `overlap`. Counted answers are those of
workers with no quality flag: a worker's flags are recomputed after every answer (quality.flags),
and when they change, every item the worker answered is re-evaluated (and may open again).

Assignment and answers lock the project row, so two workers asking at once never push an item
past its overlap: in-flight tasks count as pending answers.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import Conflict, Forbidden, NotFound, not_found
from aicommons.core.ids import new_id
from aicommons.core.permissions import Action, Actor
from aicommons.data.annotation import quality
from aicommons.data.annotation.prelabels import prelabellers
from aicommons.data.annotation.projects import KIND, item_limits, label_schema, project_row, require_open, worker_row
from aicommons.data.annotation.schemas import AnswerRead, AnswerSubmit, LabelSchema, TaskItem, TaskRead, canonical
from aicommons.data.annotation.tables import AnnotationAnswer, AnnotationItem, AnnotationProject, AnnotationTask, AnnotationWorker

TASK_TTL = timedelta(minutes=10)
# Flags that stop a worker getting tasks: evidence from timing and from gold. A worker flagged
# only for constant answers keeps working (on skewed data an honest run of one label happens);
# their answers stop counting until they vary.
PAUSING_FLAGS = ("too_fast", "low_gold")
MIN_ADAPTIVE_ANSWERS = 2
# The task's image through the annotation API (`task_file`): the dataset's own record-file route
# (/api/v1/versions/{version_id}/records/{record_id}/file) answers 404 to a worker of another org
# when the dataset is private, which is the usual case for a public labelling project.
TASK_FILE_URL = "/api/v1/annotation/tasks/{task_id}/file"


# --- next task --------------------------------------------------------------------------------


def next_task(session: Session, actor: Actor, project_id: str) -> TaskRead | None:
    """The worker's next task, or None when nothing is left for them (for now: items held by
    other workers' unexpired tasks may come back). Forbidden, with the reason, for a worker who
    failed the qualification test; Conflict for a closed project or one past its deadline."""
    project = project_row(session, actor, project_id, Action.run, lock=True)
    now = utcnow()
    require_open(project, now)
    worker = worker_row(session, project, actor)
    held = session.scalar(
        sa.select(AnnotationTask).where(
            AnnotationTask.project_id == project.id, AnnotationTask.user_id == actor.user_id,
            AnnotationTask.answered_at.is_(None), AnnotationTask.expires_at > now,
        ).order_by(AnnotationTask.assigned_at).limit(1)
    )
    if held is not None:
        return _task_read(session, project, held, _item(session, held.item_id))
    if worker.qualification == "pending":
        settle_qualification(session, actor, project, worker)
    if worker.qualification == "failed":
        raise Forbidden(f"You did not pass the qualification test of annotation project {project.name!r}: {worker.qualification_reason}")
    paused = [f for f in worker.flags or [] if f["code"] in PAUSING_FLAGS]
    if paused:
        raise Forbidden(f"You get no more tasks on annotation project {project.name!r}: " + " ".join(f["reason"] for f in paused))
    if worker.qualification == "pending":
        item = session.scalar(
            _unseen(project, actor.user_id).where(AnnotationItem.is_qualification.is_(True)).order_by(AnnotationItem.id).limit(1)
        )
        assert item is not None  # settle_qualification decides once none is left
        return _assign(session, actor, project, worker, item, now)
    item = _next_regular(session, project, actor.user_id, now)
    if item is None:
        return None
    if project.gold_rate > 0 and _draw(project.id, actor.user_id, worker.tasks) < project.gold_rate:
        gold = session.scalar(
            _unseen(project, actor.user_id)
            .where(AnnotationItem.is_gold.is_(True), AnnotationItem.is_qualification.is_(False))
            .order_by(AnnotationItem.answers, AnnotationItem.id).limit(1)
        )
        item = gold if gold is not None else item
    return _assign(session, actor, project, worker, item, now)


def _draw(project_id: str, user_id: str, count: int) -> float:
    return random.Random(f"{project_id}:{user_id}:{count}").random()


def _unseen(project: AnnotationProject, user_id: str) -> sa.Select[tuple[AnnotationItem]]:
    """The project's items this worker has never been given."""
    mine = sa.exists().where(AnnotationTask.item_id == AnnotationItem.id, AnnotationTask.user_id == user_id)
    return sa.select(AnnotationItem).where(AnnotationItem.project_id == project.id, ~mine)


def _in_flight(now: datetime) -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count())
        .where(AnnotationTask.item_id == AnnotationItem.id, AnnotationTask.answered_at.is_(None), AnnotationTask.expires_at > now)
        .scalar_subquery()
    )


def target_overlap(project: AnnotationProject) -> int:
    """The most counted answers an item may collect under the project's rule."""
    return project.max_overlap if (project.adaptive and project.kind == "single") else min(project.overlap, project.max_overlap)


def _next_regular(session: Session, project: AnnotationProject, user_id: str, now: datetime) -> AnnotationItem | None:
    pending = AnnotationItem.answers + _in_flight(now)
    return session.scalar(
        _unseen(project, user_id)
        .where(AnnotationItem.is_gold.is_(False), AnnotationItem.state == "open", pending < target_overlap(project))
        .order_by(pending, AnnotationItem.id)
        .limit(1)
    )


def _assign(
    session: Session, actor: Actor, project: AnnotationProject, worker: AnnotationWorker, item: AnnotationItem, now: datetime
) -> TaskRead:
    task = AnnotationTask(
        id=new_id("ant"), project_id=project.id, item_id=item.id, user_id=actor.user_id, assigned_at=now, expires_at=now + TASK_TTL
    )
    session.add(task)
    worker.tasks += 1
    session.flush()
    result = _task_read(session, project, task, item)
    audit.record(
        session, actor, "annotation.task.assign", "annotation_task", task.id, org_id=project.org_id,
        detail={"project_id": project.id, "record_id": item.record_id, "user_id": actor.user_id, "gold": item.is_gold,
                "qualification": item.is_qualification, "expires_at": task.expires_at.isoformat()},
    )
    return result


def _item(session: Session, item_id: int) -> AnnotationItem:
    item = session.get(AnnotationItem, item_id)
    assert item is not None
    return item


def _task_read(session: Session, project: AnnotationProject, task: AnnotationTask, item: AnnotationItem) -> TaskRead:
    """What the worker sees. It never says whether the item is gold or a qualification item."""
    payload = item.payload
    file_sha256 = payload.get("file_sha256")
    file_url = TASK_FILE_URL.format(task_id=task.id) if file_sha256 else None
    return TaskRead(
        id=task.id, project_id=project.id, record_id=item.record_id,
        item=TaskItem(text=payload.get("text"), file_sha256=file_sha256, file_url=file_url, fields=payload.get("fields", {})),
        kind=project.kind, labels=list(project.labels), guidelines=project.guidelines,  # type: ignore[arg-type]
        suggestions=_suggestion(project, item), assigned_at=task.assigned_at, expires_at=task.expires_at,
    )


def _suggestion(project: AnnotationProject, item: AnnotationItem) -> object | None:
    """The pre-labeller's suggestion, computed once per item; one that fails or does not fit the
    schema is dropped (a broken pre-labeller must not stop the workers)."""
    if project.prelabeller is None or project.prelabeller not in prelabellers:
        return None
    if not item.suggested:
        suggestion = None
        try:
            raw = prelabellers.get(project.prelabeller)({"record_id": item.record_id, **item.payload})
            if raw is not None:
                suggestion = label_schema(project).check(raw, **item_limits(item.payload))
        except Exception:  # noqa: BLE001 - see the docstring
            suggestion = None
        item.suggestion = suggestion
        item.suggested = True
    return item.suggestion


def task_file(session: Session, actor: Actor, task_id: str) -> tuple[str, str]:
    """The image of a task's item, for its worker (who may belong to an org that cannot read the
    dataset itself) and for the project's owner org: (blob digest, file name)."""
    task = session.get(AnnotationTask, task_id)
    if task is None:
        raise not_found("annotation task", task_id)
    try:
        project_row(session, actor, task.project_id, Action.run if task.user_id == actor.user_id else Action.write)
    except (NotFound, Forbidden):
        raise not_found("annotation task", task_id) from None
    item = _item(session, task.item_id)
    payload = item.payload
    if not payload.get("file_sha256"):
        raise not_found("record file", item.record_id)
    return payload["file_sha256"], payload.get("file_name") or "file"


def _own_task(session: Session, actor: Actor, task_id: str, project_id: str | None, doing: str) -> tuple[AnnotationTask, AnnotationProject]:
    """The actor's own task (in `project_id`, when given) and its project, locked: NotFound for a
    task the actor may not see, Forbidden for another worker's."""
    task = session.get(AnnotationTask, task_id)
    if task is None or (project_id is not None and task.project_id != project_id):
        raise not_found("annotation task", task_id)
    try:
        project = project_row(session, actor, task.project_id, Action.run, lock=True)
    except NotFound:
        raise not_found("annotation task", task_id) from None
    session.refresh(task)
    if task.user_id != actor.user_id:
        raise Forbidden(f"Task {task_id!r} is assigned to another worker; you may {doing} only the tasks given to you.")
    return task, project


def skip_task(session: Session, actor: Actor, task_id: str, *, project_id: str | None = None) -> None:
    """Give one's own unanswered task back: it stops holding its item at once (as if it had
    expired), and the worker is never given that item again. A skipped qualification item counts
    as wrong, like one left to expire. Skipping a task that is already answered is a Conflict;
    one that has expired is already given back and nothing changes."""
    task, project = _own_task(session, actor, task_id, project_id, "skip")
    if task.answered_at is not None:
        raise Conflict(f"Task {task_id!r} has already been answered; there is nothing to skip.")
    now = utcnow()
    if task.expires_at <= now:
        return
    task.expires_at = now
    session.flush()
    item = _item(session, task.item_id)
    audit.record(
        session, actor, "annotation.task.skip", "annotation_task", task.id, org_id=project.org_id,
        detail={"project_id": project.id, "record_id": item.record_id, "user_id": actor.user_id},
    )


# --- answers ----------------------------------------------------------------------------------


def submit_answer(session: Session, actor: Actor, task_id: str, answer: AnswerSubmit, *, project_id: str | None = None) -> AnswerRead:
    """Answer one's own task. NotFound: no such task (or not in `project_id`); Forbidden: another
    worker's task; Conflict: already answered, expired, or the project closed; Invalid: a value
    that does not fit the schema (naming the unknown label, the bad span or box)."""
    task, project = _own_task(session, actor, task_id, project_id, "answer")
    if task.answered_at is not None:
        raise Conflict(f"Task {task_id!r} has already been answered; ask for the next task.")
    now = utcnow()
    if task.expires_at <= now:
        raise Conflict(
            f"Task {task_id!r} expired at {task.expires_at.isoformat()} ({int(TASK_TTL.total_seconds() // 60)} minutes after it "
            "was assigned) and its item may have gone to another worker; ask for the next task."
        )
    require_open(project, now)
    item = _item(session, task.item_id)
    schema = label_schema(project)
    value = schema.check(answer.value, **item_limits(item.payload))
    worker = worker_row(session, project, actor)

    gold_correct = schema.agree(value, item.gold_value) if item.is_gold else None
    row = AnnotationAnswer(
        id=new_id("ana"), task_id=task.id, project_id=project.id, item_id=item.id, user_id=actor.user_id, value=value,
        seconds=answer.seconds, elapsed=round((now - task.assigned_at).total_seconds(), 3), gold_correct=gold_correct, created_at=now,
    )
    session.add(row)
    task.answered_at = now
    worker.answers += 1
    worker.points += project.reward_points
    worker.last_answer_at = now
    if gold_correct is not None:
        worker.gold_answers += 1
        worker.gold_correct += int(gold_correct)
        add_skill(worker, 1.0 if gold_correct else 0.0, 0.0 if gold_correct else 1.0)
    session.flush()
    if item.is_qualification:
        settle_qualification(session, actor, project, worker)
    reopened = refresh_flags(session, actor, project, worker)
    if item.is_gold:
        item.answers += 1
    else:
        update_item(session, project, item, schema)
    result = AnswerRead(
        id=row.id, task_id=task.id, project_id=project.id, record_id=item.record_id, value=value, seconds=answer.seconds,
        created_at=row.created_at,
    )
    audit.record(
        session, actor, "annotation.answer", "annotation_answer", row.id, org_id=project.org_id, after=result,
        detail={"project_id": project.id, "task_id": task.id, "record_id": item.record_id, "gold_correct": gold_correct,
                "item_state": item.state, "item_answers": item.answers, "items_reopened": reopened},
    )
    return result


def add_skill(worker: AnnotationWorker, correct: float, wrong: float) -> None:
    worker.skill_correct = round(worker.skill_correct + correct, 6)
    worker.skill_wrong = round(worker.skill_wrong + wrong, 6)


def settle_qualification(session: Session, actor: Actor | None, project: AnnotationProject, worker: AnnotationWorker) -> None:
    """Decide a pending qualification once the worker has been given every qualification item
    and holds none unanswered: passed when the share answered correctly reaches the pass rate (a
    qualification task left to expire counts as wrong)."""
    if worker.qualification != "pending":
        return
    now = utcnow()
    rows = session.execute(
        sa.select(AnnotationItem.id, AnnotationTask.answered_at, AnnotationTask.expires_at, AnnotationAnswer.gold_correct)
        .outerjoin(AnnotationTask, sa.and_(AnnotationTask.item_id == AnnotationItem.id, AnnotationTask.user_id == worker.user_id))
        .outerjoin(AnnotationAnswer, AnnotationAnswer.task_id == AnnotationTask.id)
        .where(AnnotationItem.project_id == project.id, AnnotationItem.is_qualification.is_(True))
    ).all()
    if any(r.expires_at is None or (r.answered_at is None and r.expires_at > now) for r in rows):
        return  # items not given yet, or one in flight
    total = len(rows)
    correct = sum(1 for r in rows if r.gold_correct)
    unanswered = sum(1 for r in rows if r.answered_at is None)
    rate = correct / total if total else 1.0
    passed = rate >= project.qualification_pass_rate
    reason = f"{correct} of {total} qualification answers correct ({rate:.0%}); {project.qualification_pass_rate:.0%} needed"
    if unanswered:
        reason += f"; {unanswered} left to expire unanswered"
    worker.qualification = "passed" if passed else "failed"
    worker.qualification_reason = reason + "."
    session.flush()
    audit.record(
        session, actor, "annotation.worker.qualification", KIND, project.id, org_id=project.org_id,
        detail={"user_id": worker.user_id, "result": worker.qualification, "reason": worker.qualification_reason},
    )


def refresh_flags(session: Session, actor: Actor | None, project: AnnotationProject, worker: AnnotationWorker) -> int:
    """Recompute the worker's quality flags and weight. When the flags change, the items the worker
    answered are re-evaluated (their answers stop or start counting); returns how many reopened."""
    rows = session.execute(
        sa.select(AnnotationAnswer.value, AnnotationAnswer.seconds, AnnotationAnswer.elapsed, AnnotationAnswer.gold_correct)
        .where(AnnotationAnswer.project_id == project.id, AnnotationAnswer.user_id == worker.user_id)
        .order_by(AnnotationAnswer.created_at, AnnotationAnswer.id)
    ).all()
    facts = [
        quality.AnswerFact(value=canonical(r.value), seconds=r.seconds if r.seconds is not None else r.elapsed, gold_correct=r.gold_correct)
        for r in rows
    ]
    n_labels = len(project.labels)
    found = quality.flags(facts, min_seconds=project.min_seconds, n_labels=n_labels)
    flags = [f.as_dict() for f in found]
    skill = quality.SkillEstimate(correct=worker.skill_correct, wrong=worker.skill_wrong)
    worker.weight = round(float(quality.worker_weight(skill, found, n_labels=n_labels)), 6)
    changed = [f["code"] for f in flags] != [f["code"] for f in (worker.flags or [])]
    worker.flags = flags
    session.flush()
    if not changed:
        return 0
    reopened = 0
    schema = label_schema(project)
    items = session.scalars(
        sa.select(AnnotationItem)
        .join(AnnotationAnswer, AnnotationAnswer.item_id == AnnotationItem.id)
        .where(AnnotationAnswer.project_id == project.id, AnnotationAnswer.user_id == worker.user_id, AnnotationItem.is_gold.is_(False))
    )
    for item in items:
        before = item.state
        update_item(session, project, item, schema)
        reopened += before == "done" and item.state == "open"
    audit.record(
        session, actor, "annotation.worker.flags", KIND, project.id, org_id=project.org_id,
        detail={"user_id": worker.user_id, "flags": flags, "weight": worker.weight, "items_reopened": reopened},
    )
    return reopened


def update_item(session: Session, project: AnnotationProject, item: AnnotationItem, schema: LabelSchema) -> None:
    """Recount an item's counted answers, recompute its posterior (single labels) and its state."""
    rows = session.execute(
        sa.select(AnnotationAnswer.value, AnnotationWorker.skill_correct, AnnotationWorker.skill_wrong, AnnotationWorker.flags)
        .join(AnnotationWorker, sa.and_(AnnotationWorker.project_id == AnnotationAnswer.project_id, AnnotationWorker.user_id == AnnotationAnswer.user_id))
        .where(AnnotationAnswer.item_id == item.id)
    ).all()
    counted = [r for r in rows if not r.flags]
    item.answers = len(counted)
    posterior = None
    if schema.kind == "single" and counted:
        accuracies = [float(quality.SkillEstimate(correct=r.skill_correct, wrong=r.skill_wrong).accuracy) for r in counted]
        posterior = quality.posterior([r.value for r in counted], accuracies, list(schema.labels))
        posterior = {label: round(float(p), 6) for label, p in posterior.items()}
    item.posterior = posterior
    item.confidence = max(posterior.values()) if posterior else None
    adaptive = project.adaptive and schema.kind == "single"
    done = item.answers >= project.max_overlap or (
        (adaptive and item.answers >= MIN_ADAPTIVE_ANSWERS and (item.confidence or 0.0) >= project.confidence_threshold)
        or (not adaptive and item.answers >= project.overlap)
    )
    item.state = "done" if done else "open"
    session.flush()
