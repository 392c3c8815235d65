"""Annotation: projects, the worker's task page (keyboard labels, spans, boxes), progress, quality and review.

The task page is built for speed: one keypress picks a class and submits, the next task follows at
once. Its form is still a plain HTML form: whatever the browser sends, the service checks it (an
unknown label, a span past the text, a box past the image) and the page comes back with the
reason next to the answer, nothing stored.
"""

from __future__ import annotations

import json
import mimetypes
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from aicommons.console.charts import bar_chart
from aicommons.console.deps import (
    Member,
    MemberDep,
    PostingMemberDep,
    RuntimeDep,
    SessionDep,
)
from aicommons.console.markdown import card_html
from aicommons.console.pages import ConsoleRoute, redirect, render
from aicommons.core.errors import Invalid
from aicommons.data import annotation

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
# Keys 1…9 then 0 pick the first ten labels; further labels are picked by their buttons.
SHORTCUT_KEYS = "1234567890"


def _project_url(project_id: str) -> str:
    return f"/annotation/projects/{project_id}"


# --- projects -------------------------------------------------------------------------------------


@router.get("/annotation")
def project_list(
    request: Request, session: SessionDep, member: MemberDep,
    show: Literal["mine", "all"] = "mine", cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    if show == "mine":
        page = annotation.list_taking_part(session, member.actor, limit=PAGE_SIZE, cursor=cursor)
    else:
        page = annotation.list_projects(session, member.actor, limit=PAGE_SIZE, cursor=cursor)
    joined = annotation.joined_project_ids(session, member.actor, [p.id for p in page.items])
    return render(request, member, "annotation/list.html", page=page, show=show, joined=joined)


def _project_page(
    request: Request, session: Session, member: Member, project_id: str, *,
    review_cursor: str | None = None, status_code: int = 200, **context: Any,
) -> Response:
    actor = member.actor
    project = annotation.get_project(session, actor, project_id)
    manages = annotation.may_manage(session, actor, project_id)
    workers = annotation.list_workers(session, actor, project_id) if manages else []
    queue = annotation.list_results(session, actor, project_id, review="none", limit=PAGE_SIZE, cursor=review_cursor) if manages else None
    quality_chart = bar_chart(
        [w.email for w in workers], [w.skill_accuracy for w in workers],
        title=member.translator.gettext("Estimated accuracy of each worker"), fmt=member.translator.percent,
    ) if workers else None
    shown = {"review_error": None, **context}
    return render(
        request, member, "annotation/project.html", status_code=status_code, project=project, manages=manages,
        me=annotation.own_worker(session, actor, project_id), workers=workers, queue=queue, quality_chart=quality_chart,
        guidelines=card_html(project.guidelines), keys=SHORTCUT_KEYS, **shown,
    )


@router.get("/annotation/projects/{project_id}")
def project_page(
    request: Request, project_id: str, session: SessionDep, member: MemberDep,
    review_cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    return _project_page(request, session, member, project_id, review_cursor=review_cursor)


@router.post("/annotation/projects/{project_id}/join")
def join(project_id: str, session: SessionDep, member: PostingMemberDep) -> Response:
    """Join (joining again changes nothing) and go straight to the first task."""
    annotation.join_project(session, member.actor, project_id)
    return redirect(f"{_project_url(project_id)}/task")


@router.post("/annotation/projects/{project_id}/aggregate")
def aggregate(project_id: str, session: SessionDep, member: PostingMemberDep) -> Response:
    annotation.start_aggregation(session, member.actor, project_id, annotation.AggregateParams())
    return redirect(_project_url(project_id))


@router.post("/annotation/projects/{project_id}/review")
def review(
    request: Request, project_id: str, session: SessionDep, member: PostingMemberDep,
    record_id: Annotated[str, Form(max_length=200)], decision: Annotated[str, Form(max_length=10)] = "",
    value: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    comment: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    project = annotation.get_project(session, member.actor, project_id)
    corrected = _review_value(project.label_schema.kind, value) if decision == "correct" else None
    try:
        verdict = annotation.ReviewDecision(decision=decision, value=corrected, comment=comment)  # type: ignore[arg-type]
        annotation.review_result(session, member.actor, project_id, record_id, verdict)
    except (ValidationError, Invalid) as refused:
        message = _refusal(member, refused)
        return _project_page(request, session, member, project_id, status_code=422,
                             review_error={"record_id": record_id, "message": message, "decision": decision, "comment": comment})
    return redirect(_project_url(project_id) + "#review")


def _review_value(kind: str, value: list[str]) -> Any:
    """A correction as the form sends it: one label (single), the ticked labels (multi)."""
    if kind == "single":
        return value[0] if len(value) == 1 else None
    return value


def _refusal(member: Member, refused: ValidationError | Invalid) -> str:
    if isinstance(refused, ValidationError):
        reason = "; ".join(str(e["msg"]) for e in refused.errors())
    else:
        reason = refused.message
    return member.translator.gettext("This answer was not accepted: {reason}", reason=reason)


# --- the task page --------------------------------------------------------------------------------


def _task_page(request: Request, session: Session, member: Member, project_id: str, *, status_code: int = 200, **context: Any) -> Response:
    """The worker's current task: the one they hold, else the next one the service hands out
    (so reloading the page shows the same task, never a new one). Not joined yet: a join button."""
    actor = member.actor
    me = annotation.own_worker(session, actor, project_id)
    task = annotation.next_task(session, actor, project_id) if me is not None else None
    project = annotation.get_project(session, actor, project_id)
    shown = {"error": None, "kept": None, **context}
    return render(request, member, "annotation/task.html", status_code=status_code, project=project, task=task, me=me,
                  keys=SHORTCUT_KEYS, guidelines=card_html(project.guidelines), **shown)


@router.get("/annotation/projects/{project_id}/task")
def task_page(request: Request, project_id: str, session: SessionDep, member: MemberDep) -> Response:
    return _task_page(request, session, member, project_id)


@router.post("/annotation/projects/{project_id}/tasks/{task_id}/answer")
def answer(
    request: Request, project_id: str, task_id: str, session: SessionDep, member: PostingMemberDep,
    value: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies form defaults
    span: Annotated[list[str], Form()] = [],  # noqa: B006
    box: Annotated[list[str], Form()] = [],  # noqa: B006
    seconds: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    kind = annotation.get_project(session, member.actor, project_id).label_schema.kind
    kept = {"value": value, "span": span, "box": box}
    if kind == "single" and len(value) != 1:
        return _task_page(request, session, member, project_id, status_code=422,
                          error=member.translator.gettext("Pick one of the labels."), kept=kept)
    sent = _answer_value(kind, value, span, box)
    try:
        submitted = annotation.AnswerSubmit(value=sent, seconds=_seconds(seconds))
        annotation.submit_answer(session, member.actor, task_id, submitted, project_id=project_id)
    except (ValidationError, Invalid) as refused:
        return _task_page(request, session, member, project_id, status_code=422, error=_refusal(member, refused), kept=kept)
    return redirect(f"{_project_url(project_id)}/task")


def _answer_value(kind: str, value: list[str], span: list[str], box: list[str]) -> Any:
    """The answer as the form sends it: a pressed label button (single), ticked labels (multi),
    or one JSON `[…]` field per span or box. Whatever it is, the service checks it."""
    if kind == "single":
        return value[0]
    if kind == "multi":
        return value
    return [_json_or_text(part) for part in (span if kind == "spans" else box)]


def _json_or_text(part: str) -> Any:
    try:
        return json.loads(part)
    except ValueError:
        return part  # the service names it in its refusal


def _seconds(sent: str) -> float | None:
    """The time the page measured; a missing or mangled figure is left out (the service has its own clock)."""
    try:
        seconds = float(sent)
    except ValueError:
        return None
    return seconds if 0 <= seconds <= 86_400 else None


@router.post("/annotation/projects/{project_id}/tasks/{task_id}/skip")
def skip(project_id: str, task_id: str, session: SessionDep, member: PostingMemberDep) -> Response:
    annotation.skip_task(session, member.actor, task_id, project_id=project_id)
    return redirect(f"{_project_url(project_id)}/task")


@router.get("/annotation/tasks/{task_id}/file")
def task_file(task_id: str, session: SessionDep, member: MemberDep, runtime: RuntimeDep) -> Response:
    """The task's image, for its worker of any org (the dataset's own record-file page is only
    for those who may read the dataset, and labelling projects are often open to other orgs)."""
    sha256, name = annotation.task_file(session, member.actor, task_id)
    media_type = mimetypes.guess_type(name)[0] or ""
    if not media_type.startswith("image/") or media_type == "image/svg+xml":  # never serve uploaded markup inline
        media_type = "application/octet-stream"
    return StreamingResponse(runtime.blobs.iter_chunks(sha256), media_type=media_type,
                             headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})
