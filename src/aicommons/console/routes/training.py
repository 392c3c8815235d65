"""Making models: create a model, train a version on a dataset version, upload one, compress one —
the forms that start the jobs that make model versions.

Each form calls the service the API calls (`models.create_model`, `start_training`,
`upload_version`, `start_compression`). What the visitor typed is read into the service's schema
first; a field it cannot accept is shown again with a message next to it (422) and nothing is
stored. Only the model's writers get the forms: the hub answers 404 to those who may not see the
model and 403 to those who may only read it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, get_args

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from aicommons import data, models
from aicommons.console.deps import (
    Member,
    MemberDep,
    PostingMemberDep,
    RuntimeDep,
    SessionDep,
)
from aicommons.console.entry_fields import entry_field_messages, tags_of
from aicommons.console.locales import Translator
from aicommons.console.pages import ConsoleRoute, as_schema, redirect, refused_fields, render
from aicommons.core.errors import Conflict, Invalid, NotFound
from aicommons.core.permissions import Action, require
from aicommons.core.schemas import Visibility
from aicommons.models.hub import KIND as MODEL

router = APIRouter(route_class=ConsoleRoute)
FormText = Annotated[str, Form(max_length=100_000)]
# One page of the datasets service; a search by name finds the others.
DATASETS_OFFERED = 50
VERSIONS_OFFERED = 10  # per dataset, newest first
# The datasets a task's recipes read; a task not named here is offered datasets of every modality.
MODALITY_OF_TASK = {
    models.Task.image_classification: data.Modality.image,
    models.Task.object_detection: data.Modality.image,
    models.Task.text_classification: data.Modality.text,
    models.Task.tabular_classification: data.Modality.tabular,
    models.Task.tabular_regression: data.Modality.tabular,
    models.Task.signal_control: data.Modality.traffic,
}
COMPRESSION_METHODS = list(
    get_args(models.CompressParams.model_fields["method"].annotation)
)


def _writable_model(
    session: Session, member: Member, model_id: str
) -> models.ModelRead:
    """The model, if the member may add versions to it: a 404 when they may not see it, a 403 when they may only read it."""
    model = models.get_model(session, member.actor, model_id)
    require(session, member.actor, Action.write, MODEL, model, model_id)
    return model


# --- choosing a dataset version ---------------------------------------------------------------


@dataclass(frozen=True)
class DatasetChoice:
    """A dataset and its newest versions, as `DATASET_ID@N` options (the CLI's `DATASET@N`)."""

    dataset: data.DatasetRead
    options: list[tuple[str, str]]  # (value, label)


@dataclass(frozen=True)
class DatasetChoices:
    choices: list[DatasetChoice]
    more: bool  # more datasets match than are offered
    offered: int = DATASETS_OFFERED


def _dataset_choices(
    session: Session, member: Member, task: models.Task | None, query: str = ""
) -> DatasetChoices:
    """The datasets the member may read that fit the task (their name containing `query`), with
    their newest versions. One statement, however many datasets there are."""
    page = data.list_datasets(
        session,
        member.actor,
        modality=MODALITY_OF_TASK.get(task) if task else None,
        query=query or None,
        limit=DATASETS_OFFERED,
    )
    choices = [
        DatasetChoice(
            d,
            [
                (f"{d.id}@{n}", f"{d.name} v{n}")
                for n in range(
                    d.latest_version, max(0, d.latest_version - VERSIONS_OFFERED), -1
                )
            ],
        )
        for d in page.items
        if d.latest_version > 0
    ]
    return DatasetChoices(choices, page.next_cursor is not None)


def _dataset_version_id(session: Session, member: Member, choice: str) -> str | None:
    """The id of the dataset version a `DATASET_ID@N` choice names, or None when it names none
    the member may read (a hand-edited form learns nothing more than a wrong choice would)."""
    dataset_id, sep, number = choice.partition("@")
    if not sep or not number.isdigit() or len(number) > 9:
        return None
    try:
        return data.resolve_version(session, member.actor, dataset_id, int(number)).id
    except NotFound:
        return None


# --- a new model ------------------------------------------------------------------------------

NEW_MODEL_DEFAULTS = {
    "name": "",
    "name_zh": "",
    "task": models.Task.tabular_classification.value,
    "visibility": Visibility.private.value,
    "licence": "",
    "description": "",
    "description_zh": "",
    "tags": "",
}


def _new_model_messages(translator: Translator) -> dict[str, str]:
    _ = translator.gettext
    shared = entry_field_messages(translator)
    return {
        **shared,
        "name_zh": _("The Chinese name must be at most 100 characters."),
        "task": _("Choose one of the tasks listed."),
        "description_zh": shared["description"],
    }


def _new_model_form(
    request: Request,
    member: Member,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        member,
        "training/new.html",
        status_code=status_code,
        form={**NEW_MODEL_DEFAULTS, **(form or {})},
        errors=errors or {},
        tasks=[t.value for t in models.Task],
        visibilities=[v.value for v in Visibility],
    )


@router.get("/models/new")
def new_model_page(request: Request, member: MemberDep) -> Response:
    return _new_model_form(request, member)


@router.post("/models/new")
def create_model(
    request: Request,
    session: SessionDep,
    member: PostingMemberDep,
    name: FormText = "",
    name_zh: FormText = "",
    task: FormText = "",
    visibility: FormText = "",
    licence: FormText = "",
    description: FormText = "",
    description_zh: FormText = "",
    tags: FormText = "",
) -> Response:
    """The API's model creation; the new model's page follows, ready for its first version."""
    form = {
        "name": name,
        "name_zh": name_zh,
        "task": task,
        "visibility": visibility,
        "licence": licence,
        "description": description,
        "description_zh": description_zh,
        "tags": tags,
    }
    spec, errors = as_schema(models.ModelCreate, {**form, "tags": tags_of(tags)}, _new_model_messages(member.translator))
    if spec is None:
        return _new_model_form(request, member, status_code=422, form=form, errors=errors)
    try:
        model = models.create_model(session, member.actor, spec)
    except Conflict:  # the organisation has a model of that name
        message = member.translator.gettext(
            "Your organisation already has a model with this name."
        )
        return _new_model_form(
            request, member, status_code=422, form=form, errors={"name": message}
        )
    return redirect(f"/models/{model.id}")


# --- training ---------------------------------------------------------------------------------


def _recipe_params(text: str) -> dict[str, Any] | None:
    """KEY=VALUE lines as a recipe's parameters (whole numbers, decimals, else text), or None
    when a line is not KEY=VALUE."""
    params: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        key, sep, value = (part.strip() for part in line.partition("="))
        if not sep or not key:
            return None
        params[key] = _scalar(value)
    return params


def _scalar(value: str) -> int | float | str:
    for kind in (int, float):
        try:
            number = kind(value)
        except ValueError:
            continue
        if math.isfinite(number):  # "nan" and "inf" stay text: JSON has no such numbers
            return number
    return value


def _train_form(
    request: Request,
    session: Session,
    member: Member,
    model: models.ModelRead,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    recipes = [r for r in models.list_recipes() if r.task == model.task]
    typed = {
        "recipe": recipes[0].name if recipes else "",
        "seed": "0",
        "params": "",
        "dataset_version": "",
        "dataset_q": "",
        **(form or {}),
    }
    return render(
        request,
        member,
        "training/train.html",
        status_code=status_code,
        model=model,
        recipes=recipes,
        datasets=_dataset_choices(session, member, model.task, typed["dataset_q"]),
        form=typed,
        errors=errors or {},
        section="train",
        may_write=True,  # the forms are for writers only: the page was refused otherwise
    )


@router.get("/models/{model_id}/train")
def train_page(
    request: Request,
    model_id: str,
    session: SessionDep,
    member: MemberDep,
    dataset_q: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    model = _writable_model(session, member, model_id)
    return _train_form(request, session, member, model, form={"dataset_q": dataset_q})


@router.post("/models/{model_id}/train")
def start_training(
    request: Request,
    model_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    dataset_version: FormText = "",
    recipe: FormText = "",
    seed: FormText = "",
    params: FormText = "",
    dataset_q: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """The API's training: a job that trains the recipe and registers the model's next version."""
    model = _writable_model(session, member, model_id)
    form = {
        "dataset_version": dataset_version,
        "recipe": recipe,
        "seed": seed,
        "params": params,
        "dataset_q": dataset_q,
    }
    _ = member.translator.gettext
    errors: dict[str, str] = {}
    dataset_version_id = _dataset_version_id(session, member, dataset_version)
    if dataset_version_id is None:
        errors["dataset_version"] = _("Choose one of the listed dataset versions.")
    if recipe not in {r.name for r in models.list_recipes() if r.task == model.task}:
        errors["recipe"] = _("Choose one of the recipes listed.")
    recipe_params = _recipe_params(params)
    if recipe_params is None:
        errors["params"] = _("Write one KEY=VALUE per line, e.g. C=0.5.")
    try:
        spec = models.TrainParams(
            dataset_version_id=dataset_version_id or "",
            recipe=recipe,
            seed=seed,
            params=recipe_params or {},
        )
    except ValidationError as error:
        messages = {
            "seed": _("The seed must be a whole number, 0 or more."),
            "params": _("Give at most 30 parameters."),
        }
        errors.update(
            {
                field: messages[field]
                for field in refused_fields(error)
                if field in messages and field not in errors
            }
        )
    if errors:
        return _train_form(
            request, session, member, model, status_code=422, form=form, errors=errors
        )
    try:
        job = models.start_training(session, member.actor, model.id, spec)
    except Invalid as refused:  # the recipe cannot train this model
        errors["recipe"] = _(
            "This training cannot start: {reason}", reason=refused.message
        )
        return _train_form(
            request, session, member, model, status_code=422, form=form, errors=errors
        )
    return redirect(f"/jobs/{job.id}")


# --- uploading --------------------------------------------------------------------------------


def _upload_form(
    request: Request,
    session: Session,
    member: Member,
    model: models.ModelRead,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    typed = {"classes": "", "dataset_version": "", **(form or {})}
    return render(
        request,
        member,
        "training/upload.html",
        status_code=status_code,
        model=model,
        datasets=_dataset_choices(session, member, None),
        form=typed,
        errors=errors or {},
        section="upload",
        may_write=True,
    )


@router.get("/models/{model_id}/upload")
def upload_page(
    request: Request, model_id: str, session: SessionDep, member: MemberDep
) -> Response:
    return _upload_form(
        request, session, member, _writable_model(session, member, model_id)
    )


@router.post("/models/{model_id}/upload")
def upload_version(
    request: Request,
    model_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile | None, File()] = None,
    classes: FormText = "",
    dataset_version: FormText = "",
) -> Response:
    """The API's upload: the file is streamed to the hub, which refuses pickles and broken files."""
    model = _writable_model(session, member, model_id)
    form = {"classes": classes, "dataset_version": dataset_version}
    _ = member.translator.gettext
    errors: dict[str, str] = {}
    if file is None or not file.filename:
        errors["file"] = _("Choose an ONNX or skops file to upload.")
    dataset_version_id = None
    if dataset_version:
        dataset_version_id = _dataset_version_id(session, member, dataset_version)
        if dataset_version_id is None:
            errors["dataset_version"] = _("Choose one of the listed dataset versions.")
    try:
        meta = models.VersionMeta(
            classes=[c.strip() for c in classes.splitlines() if c.strip()],
            dataset_version_ids=[dataset_version_id] if dataset_version_id else [],
        )
    except ValidationError:  # the only list a visitor can make too long
        errors["classes"] = _("Give at most 10,000 class names, one per line.")
    if errors:
        return _upload_form(
            request, session, member, model, status_code=422, form=form, errors=errors
        )
    assert file is not None and file.filename
    try:
        version = models.upload_version(
            session,
            runtime.blobs,
            member.actor,
            model.id,
            file.file,
            file.filename,
            meta,
        )
    except Invalid as refused:  # a pickle, an empty or broken file: nothing was stored
        errors["file"] = _("This file cannot be used: {reason}", reason=refused.message)
        return _upload_form(
            request, session, member, model, status_code=422, form=form, errors=errors
        )
    return redirect(f"/models/{model.id}?version={version.number}")


# --- compression ------------------------------------------------------------------------------

COMPRESS_DEFAULTS = {
    "method": "int8-dynamic",
    "dataset_version": "",
    "calibration_records": "256",
    "sparsity": "0.5",
    "fine_tune_epochs": "5",
    "student": "small-cnn",
    "temperature": "4",
    "alpha": "0.7",
    "epochs": "30",
    "seed": "",
}


def _compress_messages(translator: Translator) -> dict[str, str]:
    _ = translator.gettext
    return {
        "method": _("Choose one of the compression methods."),
        "calibration_records": _(
            "The calibration records must be a whole number from 8 to 10,000."
        ),
        "sparsity": _("The sparsity must be a number above 0 and below 1."),
        "fine_tune_epochs": _(
            "The fine-tuning epochs must be a whole number from 0 to 200."
        ),
        "student": _(
            "The student architecture must be named in at most 60 characters."
        ),
        "temperature": _("The temperature must be a number above 0 and at most 50."),
        "alpha": _("Alpha must be a number from 0 to 1."),
        "epochs": _("The epochs must be a whole number from 1 to 500."),
        "seed": _("The seed must be a whole number, 0 or more, or empty."),
    }


def _writable_version(
    session: Session, member: Member, model_id: str, number: int
) -> tuple[models.ModelRead, models.ModelVersionRead]:
    model = _writable_model(session, member, model_id)
    return model, models.resolve_version(session, member.actor, model_id, number)


def _compress_form(
    request: Request,
    session: Session,
    member: Member,
    model: models.ModelRead,
    version: models.ModelVersionRead,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        member,
        "training/compress.html",
        status_code=status_code,
        model=model,
        version=version,
        methods=COMPRESSION_METHODS,
        datasets=_dataset_choices(session, member, model.task),
        form={**COMPRESS_DEFAULTS, **(form or {})},
        errors=errors or {},
        section="compress",
        may_write=True,
    )


@router.get("/models/{model_id}/versions/{number}/compress")
def compress_page(
    request: Request,
    model_id: str,
    number: int,
    session: SessionDep,
    member: MemberDep,
) -> Response:
    return _compress_form(
        request, session, member, *_writable_version(session, member, model_id, number)
    )


@router.post("/models/{model_id}/versions/{number}/compress")
def start_compression(
    request: Request,
    model_id: str,
    number: int,
    session: SessionDep,
    member: PostingMemberDep,
    method: FormText = "",
    dataset_version: FormText = "",
    calibration_records: FormText = "",
    sparsity: FormText = "",
    fine_tune_epochs: FormText = "",
    student: FormText = "",
    temperature: FormText = "",
    alpha: FormText = "",
    epochs: FormText = "",
    seed: FormText = "",
) -> Response:
    """The API's compression: a job that writes the model's next version with this one as its parent."""
    model, version = _writable_version(session, member, model_id, number)
    form = {
        "method": method,
        "dataset_version": dataset_version,
        "calibration_records": calibration_records,
        "sparsity": sparsity,
        "fine_tune_epochs": fine_tune_epochs,
        "student": student,
        "temperature": temperature,
        "alpha": alpha,
        "epochs": epochs,
        "seed": seed,
    }
    _ = member.translator.gettext
    errors: dict[str, str] = {}
    dataset_version_id = None
    if dataset_version:
        dataset_version_id = _dataset_version_id(session, member, dataset_version)
        if dataset_version_id is None:
            errors["dataset_version"] = _("Choose one of the listed dataset versions.")
    try:
        spec = models.CompressParams(
            method=method,
            dataset_version_id=dataset_version_id,
            calibration_records=calibration_records,
            sparsity=sparsity,
            fine_tune_epochs=fine_tune_epochs,
            student=student,
            temperature=temperature,
            alpha=alpha,
            epochs=epochs,
            seed=seed or None,  # empty: the parent's training seed
        )
    except ValidationError as error:
        messages = _compress_messages(member.translator)
        errors.update(
            {
                field: messages[field]
                for field in refused_fields(error)
                if field in messages and field not in errors
            }
        )
    if errors:
        return _compress_form(
            request,
            session,
            member,
            model,
            version,
            status_code=422,
            form=form,
            errors=errors,
        )
    try:
        job = models.start_compression(session, member.actor, version.id, spec)
    except Invalid as refused:  # the method does not fit this version, or it needs data
        errors["method"] = _(
            "This compression cannot start: {reason}", reason=refused.message
        )
        return _compress_form(
            request,
            session,
            member,
            model,
            version,
            status_code=422,
            form=form,
            errors=errors,
        )
    return redirect(f"/jobs/{job.id}")
