"""Annotation: projects, the form that creates one, the worker's task page (keyboard labels, spans,
boxes), progress, quality and review.

The task page is built for speed: one keypress picks a class and submits, the next task follows at
once. Its form is still a plain HTML form: whatever the browser sends, the service checks it (an
unknown label, a span past the text, a box past the image) and the page comes back with the
reason next to the answer, nothing stored.
"""

from __future__ import annotations

import json
import mimetypes
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session

from aicommons import data
from aicommons.console.charts import bar_chart
from aicommons.console.deps import (
    Member,
    MemberDep,
    PostingMemberDep,
    RuntimeDep,
    SessionDep,
)
from aicommons.console.locales import TIMEZONE, Translator
from aicommons.console.markdown import card_html
from aicommons.console.pages import ConsoleRoute, redirect, render
from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound
from aicommons.data import annotation
from aicommons.data.annotation.aggregation import METHODS

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
FormText = Annotated[str, Form(max_length=100_000)]  # long enough for pasted guidelines; the schema bounds each field
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


# --- a new project --------------------------------------------------------------------------------
# The API's `create_project`: a project labels a dataset version of the visitor's own organisation
# (the service publishes the labels as a new version of that dataset), so only those are offered.

DATASETS_OFFERED = 50  # the organisation's own datasets listed, as on the training form
VERSIONS_OFFERED = 10  # per dataset, newest first
DATASET_PAGES_READ = 10  # pages of the visible datasets read to find the organisation's own
KINDS = list(get_args(annotation.LabelSchema.model_fields["kind"].annotation))
_SCHEMA_DEFAULTS = {name: field.default for name, field in annotation.ProjectCreate.model_fields.items()}
AGGREGATION_METHODS = (_SCHEMA_DEFAULTS["method"], *(m for m in METHODS if m != _SCHEMA_DEFAULTS["method"]))  # the default first
PROJECT_VISIBILITIES = list(get_args(annotation.ProjectCreate.model_fields["visibility"].annotation))
NEW_PROJECT_DEFAULTS = {
    "name": "", "dataset_version": "", "kind": "single", "labels": "", "guidelines": "",
    **{name: f"{_SCHEMA_DEFAULTS[name]:g}" for name in (
        "overlap", "max_overlap", "confidence_threshold", "gold_rate", "qualification_pass_rate", "min_seconds", "reward_points",
    )},
    "method": _SCHEMA_DEFAULTS["method"], "visibility": _SCHEMA_DEFAULTS["visibility"], "adaptive": "on" if _SCHEMA_DEFAULTS["adaptive"] else "",
    "deadline": "", "prelabeller": "", "gold": "", "qualification_items": "",
}


@dataclass(frozen=True)
class DatasetChoice:
    """One of the organisation's datasets with its newest versions, as `DATASET_ID@N` options."""

    dataset: data.DatasetRead
    options: list[tuple[str, str]]  # (value, label)


def _own_dataset_choices(session: Session, member: Member) -> tuple[list[DatasetChoice], bool]:
    """The organisation's datasets that have versions (the first DATASETS_OFFERED of them), and
    whether more exist than are listed."""
    own: list[data.DatasetRead] = []
    cursor = None
    for _ in range(DATASET_PAGES_READ):
        page = data.list_datasets(session, member.actor, limit=DATASETS_OFFERED, cursor=cursor)
        own += [d for d in page.items if d.org_id == member.actor.org_id and d.latest_version > 0]
        cursor = page.next_cursor
        if cursor is None or len(own) > DATASETS_OFFERED:
            break
    choices = [
        DatasetChoice(d, [(f"{d.id}@{n}", f"{d.name} v{n}") for n in range(d.latest_version, max(0, d.latest_version - VERSIONS_OFFERED), -1)])
        for d in own[:DATASETS_OFFERED]
    ]
    return choices, len(own) > DATASETS_OFFERED or cursor is not None


def _new_project_form(
    request: Request, session: Session, member: Member, *, status_code: int = 200,
    form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
) -> Response:
    datasets, more = _own_dataset_choices(session, member)
    return render(
        request, member, "annotation/new.html", status_code=status_code, form={**NEW_PROJECT_DEFAULTS, **(form or {})},
        errors=errors or {}, datasets=datasets, more_datasets=more, offered=DATASETS_OFFERED, kinds=KINDS,
        methods=AGGREGATION_METHODS, visibilities=PROJECT_VISIBILITIES, prelabellers=annotation.prelabellers.names(),
    )


@router.get("/annotation/new")
def new_project_page(request: Request, session: SessionDep, member: MemberDep) -> Response:
    return _new_project_form(request, session, member)


def _new_project_messages(translator: Translator) -> dict[str, str]:
    """What to say beside each field the service's schema refuses."""
    _ = translator.gettext
    return {
        "name": _("A name is 1 to 100 characters."),
        "kind": _("Choose one of the answer types listed."),
        "labels": _("Give 1 to 500 different labels, one per line, each at most 100 characters."),
        "guidelines": _("The guidelines must be at most 50,000 characters."),
        "overlap": _("Labels per item is a whole number from 1 to 20."),
        "max_overlap": _("The most labels per item is a whole number from 1 to 20, and no fewer than the labels per item."),
        "adaptive": _("Tick the box or leave it empty."),
        "confidence_threshold": _("The confidence to stop at is a number above 0.5 and at most 1."),
        "gold": _("At most 10,000 gold answers."),
        "gold_rate": _("The share of gold tasks is a number from 0 to 0.5."),
        "qualification_items": _("List at most 100 different gold record ids, separated by commas."),
        "qualification_pass_rate": _("The pass mark is a number from 0 to 1."),
        "min_seconds": _("The fastest believable answer is a number of seconds from 0 to 3600."),
        "method": _("Choose one of the aggregation methods listed."),
        "reward_points": _("The points per answer are a number from 0 to 1,000,000."),
        "deadline": _("Give a date and time in the future, or leave it empty."),
        "visibility": _("Choose private or public."),
        "prelabeller": _("Choose a pre-labeller from the list, or none."),
    }


def _project_refusals(error: ValidationError) -> list[str]:
    """The form's fields a ProjectCreate refusal concerns: the label schema's own field (kind or
    labels); for the schema's checks across fields, the field its message names."""
    fields = []
    for e in error.errors():
        loc = [str(part) for part in e["loc"]]
        if not loc:  # max_overlap below overlap, or a repeated qualification item
            fields.append("qualification_items" if "qualification_items" in str(e["msg"]) else "max_overlap")
        elif loc[0] == "schema":
            fields.append(loc[1] if len(loc) > 1 and loc[1] in ("kind", "labels") else "labels")
        else:
            fields.append(loc[0])
    return list(dict.fromkeys(fields))


# What the service refuses once the schema holds, by the spec field each refusal names
# (`AicommonsError.field`): the form's field that shows it, and the key of the field's own message
# when that says it better than the service's reason (None: the reason is the message).
_SERVICE_REFUSALS = {
    "deadline": ("deadline", "deadline"),
    "method": ("method", "method"),
    "prelabeller": ("prelabeller", "prelabeller"),
    "dataset_version_id": ("dataset_version", None),  # another organisation's dataset, or no records
    "schema": ("kind", None),  # a kind the version's records cannot take
    "gold": ("gold", None),
    "qualification_items": ("qualification_items", None),
}


def _gold_of(text: str) -> dict[str, Any] | None:
    """Gold answers typed as a JSON object {record id: answer}; {} when empty, None when not such an object."""
    if not text.strip():
        return {}
    try:
        gold = json.loads(text)
    except ValueError:
        return None
    return gold if isinstance(gold, dict) else None


def _deadline_of(text: str) -> datetime | None | Literal[False]:
    """A deadline as the browser's date-and-time field sends it, in China Standard Time (the
    console's clock); None when empty, False when it is not a date and time."""
    if not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=TIMEZONE)


def _record_ids(text: str) -> list[str]:
    return [part.strip() for part in text.replace("，", ",").replace("\n", ",").split(",") if part.strip()]


@router.post("/annotation/new")
def create_project(
    request: Request, session: SessionDep, member: PostingMemberDep, runtime: RuntimeDep,
    name: FormText = "", dataset_version: FormText = "", kind: FormText = "", labels: FormText = "", guidelines: FormText = "",
    overlap: FormText = "", max_overlap: FormText = "", adaptive: FormText = "", confidence_threshold: FormText = "",
    visibility: FormText = "", method: FormText = "", min_seconds: FormText = "", reward_points: FormText = "",
    deadline: FormText = "", prelabeller: FormText = "", gold: FormText = "", gold_rate: FormText = "",
    qualification_items: FormText = "", qualification_pass_rate: FormText = "",
) -> Response:
    """The API's project creation; the new project's page follows, where workers join it."""
    form = {
        "name": name, "dataset_version": dataset_version, "kind": kind, "labels": labels, "guidelines": guidelines, "overlap": overlap,
        "max_overlap": max_overlap, "adaptive": adaptive, "confidence_threshold": confidence_threshold, "visibility": visibility,
        "method": method, "min_seconds": min_seconds, "reward_points": reward_points, "deadline": deadline, "prelabeller": prelabeller,
        "gold": gold, "gold_rate": gold_rate, "qualification_items": qualification_items, "qualification_pass_rate": qualification_pass_rate,
    }
    _ = member.translator.gettext
    messages = _new_project_messages(member.translator)
    errors: dict[str, str] = {}
    version_id = _own_version_id(session, member, dataset_version)
    if version_id is None:
        errors["dataset_version"] = _("Choose one of your organisation's dataset versions listed.")
    if method not in AGGREGATION_METHODS:
        errors["method"] = messages["method"]
    if prelabeller and prelabeller not in annotation.prelabellers:
        errors["prelabeller"] = messages["prelabeller"]
    gold_answers = _gold_of(gold)
    if gold_answers is None:
        errors["gold"] = _('Write the gold answers as a JSON object of record ids and answers, e.g. {"r00000001": "positive"}.')
    due = _deadline_of(deadline)
    if due is False:
        errors["deadline"] = messages["deadline"]
    values = {
        "name": name, "dataset_version_id": version_id or "", "schema": {"kind": kind, "labels": [line for line in labels.splitlines() if line.strip()]},
        "guidelines": guidelines, "overlap": overlap, "max_overlap": max_overlap, "adaptive": bool(adaptive), "confidence_threshold": confidence_threshold,
        "gold": gold_answers or {}, "gold_rate": gold_rate, "qualification_items": _record_ids(qualification_items),
        "qualification_pass_rate": qualification_pass_rate, "min_seconds": min_seconds, "method": method, "reward_points": reward_points,
        "deadline": due or None, "visibility": visibility, "prelabeller": prelabeller or None,
    }
    try:
        spec = annotation.ProjectCreate(**values)
    except ValidationError as error:
        spec = None
        errors.update({field: messages[field] for field in _project_refusals(error) if field in messages and field not in errors})
    if spec is None or errors:
        return _new_project_form(request, session, member, status_code=422, form=form, errors=errors or {"form": _("Check the fields marked.")})
    try:
        with session.begin_nested():  # a refusal part-way leaves nothing behind
            project = annotation.create_project(session, member.actor, spec, cache=data.manifest_cache(runtime))
    except Conflict:  # the organisation has a project of that name
        errors["name"] = _("Your organisation already has an annotation project with this name.")
    except (NotFound, Forbidden):  # a version the visitor may read but not label
        errors["dataset_version"] = _("Choose one of your organisation's dataset versions listed.")
    except Invalid as refused:
        field, message = _SERVICE_REFUSALS.get(refused.field or "", ("form", None))
        errors[field] = messages[message] if message else _("This project cannot be created: {reason}", reason=refused.message)
    if errors:
        return _new_project_form(request, session, member, status_code=422, form=form, errors=errors)
    return redirect(_project_url(project.id))


def _own_version_id(session: Session, member: Member, choice: str) -> str | None:
    """The id of the dataset version a `DATASET_ID@N` choice names, or None when it names none
    the visitor may read (a hand-edited form learns no more than a wrong choice would)."""
    dataset_id, sep, number = choice.partition("@")
    if not sep or not number.isdigit() or len(number) > 9 or len(dataset_id) > 40:
        return None
    try:
        return data.resolve_version(session, member.actor, dataset_id, int(number)).id
    except NotFound:
        return None
