"""Datasets: the list with search, the form that creates a dataset (then its import page), a
dataset's versions, a version's page (statistics charts, lineage, records with images and text),
the diff between two versions, and the forms that start an import, a cleaning job and a
de-identification job (each then followed on its job page)."""

from __future__ import annotations

import json
import mimetypes
from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
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
from aicommons.console.entry_fields import entry_field_messages, tags_of
from aicommons.console.locales import Translator
from aicommons.console.pages import (
    ConsoleRoute,
    as_schema,
    form_refusal,
    redirect,
    render,
)
from aicommons.console.version_statistics import statistics_charts
from aicommons.core.errors import Conflict, Invalid
from aicommons.core.permissions import Action, can, require
from aicommons.core.schemas import Visibility
from aicommons.data.datasets import KIND as DATASET
from aicommons.data.imports import readers

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
RECORDS_PAGE_SIZE = 24
FormText = Annotated[
    str, Form(max_length=100_000)
]  # long enough for a pasted policy; the schemas bound each field


@router.get("/datasets")
def dataset_list(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    q: Annotated[str, Query(max_length=100)] = "",
    modality: data.Modality | Literal[""] = "",  # "": the form's "all"
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page = data.list_datasets(
        session,
        member.actor,
        query=q or None,
        modality=modality or None,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    return render(
        request,
        member,
        "datasets/list.html",
        page=page,
        q=q,
        modality=modality,
        modalities=[m.value for m in data.Modality],
    )


# --- a new dataset ----------------------------------------------------------------------------
# Its routes come before /datasets/{dataset_id}, which would otherwise read "new" as an id.

NEW_DATASET_DEFAULTS = {
    "name": "",
    "modality": data.Modality.tabular.value,
    "visibility": Visibility.private.value,
    "licence": "",
    "description": "",
    "tags": "",
}


def _new_dataset_messages(translator: Translator) -> dict[str, str]:
    return {
        **entry_field_messages(translator),
        "modality": translator.gettext("Choose one of the modalities listed."),
    }


def _new_dataset_form(
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
        "datasets/new.html",
        status_code=status_code,
        form={**NEW_DATASET_DEFAULTS, **(form or {})},
        errors=errors or {},
        modalities=[m.value for m in data.Modality],
        visibilities=[v.value for v in Visibility],
    )


@router.get("/datasets/new")
def new_dataset_page(request: Request, member: MemberDep) -> Response:
    return _new_dataset_form(request, member)


@router.post("/datasets/new")
def create_dataset(
    request: Request,
    session: SessionDep,
    member: PostingMemberDep,
    name: FormText = "",
    modality: FormText = "",
    visibility: FormText = "",
    licence: FormText = "",
    description: FormText = "",
    tags: FormText = "",
) -> Response:
    """The API's dataset creation; the new dataset's import page follows, for its first version."""
    form = {
        "name": name,
        "modality": modality,
        "visibility": visibility,
        "licence": licence,
        "description": description,
        "tags": tags,
    }
    spec, errors = as_schema(data.DatasetCreate, {**form, "tags": tags_of(tags)}, _new_dataset_messages(member.translator))
    if spec is None:
        return _new_dataset_form(request, member, status_code=422, form=form, errors=errors)
    try:
        dataset = data.create_dataset(session, member.actor, spec)
    except Conflict:  # the organisation has a dataset of that name
        refused = form_refusal(_new_dataset_form, request, member, form=form)
        return refused(
            "name",
            member.translator.gettext(
                "Your organisation already has a dataset with this name."
            ),
        )
    return redirect(f"/datasets/{dataset.id}/import")


# --- a dataset and its versions ---------------------------------------------------------------


@router.get("/datasets/{dataset_id}")
def dataset_page(
    request: Request, dataset_id: str, session: SessionDep, member: MemberDep
) -> Response:
    dataset = data.get_dataset(session, member.actor, dataset_id)
    versions = data.list_versions(session, member.actor, dataset_id)
    return render(
        request,
        member,
        "datasets/dataset.html",
        dataset=dataset,
        versions=versions,
        number_of={v.id: v.number for v in versions},
        may_write=can(session, member.actor, Action.write, DATASET, dataset),
    )


@router.get("/datasets/{dataset_id}/versions/{number}")
def version_page(
    request: Request,
    dataset_id: str,
    number: int,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    dataset = data.get_dataset(session, member.actor, dataset_id)
    version = data.resolve_version(session, member.actor, dataset_id, number)
    versions = data.list_versions(session, member.actor, dataset_id)
    records = data.list_records(
        session,
        data.manifest_cache(runtime),
        member.actor,
        version.id,
        limit=RECORDS_PAGE_SIZE,
        cursor=cursor,
    )
    return render(
        request,
        member,
        "datasets/records.html",
        dataset=dataset,
        version=version,
        records=records,
        versions=versions,
        parent=next((v for v in versions if v.id == version.parent_version_id), None),
        children=[v for v in versions if v.parent_version_id == version.id],
        charts=statistics_charts(version.statistics, member.translator),
        parameters=parameter_rows(version.parameters),
        may_write=can(session, member.actor, Action.write, DATASET, dataset),
    )


def parameter_rows(parameters: dict[str, Any]) -> list[tuple[str, str]]:
    """An operation's parameters as (name, value) rows; nested values as JSON, Chinese left readable."""
    return [
        (
            key,
            value
            if isinstance(value, str)
            else json.dumps(value, ensure_ascii=False, sort_keys=True),
        )
        for key, value in sorted(parameters.items())
    ]


@router.get("/datasets/{dataset_id}/versions/{number}/diff")
def version_diff(
    request: Request,
    dataset_id: str,
    number: int,
    other: Annotated[int, Query(ge=1)],
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
) -> Response:
    dataset = data.get_dataset(session, member.actor, dataset_id)
    base = data.resolve_version(session, member.actor, dataset_id, number)
    compared = data.resolve_version(session, member.actor, dataset_id, other)
    diff = data.diff_versions(
        session, data.manifest_cache(runtime), member.actor, base.id, compared.id
    )
    return render(
        request,
        member,
        "datasets/diff.html",
        dataset=dataset,
        base=base,
        other=compared,
        diff=diff,
        chart=_diff_chart(diff, member.translator),
        versions=data.list_versions(session, member.actor, dataset_id),
    )


def _diff_chart(diff: data.VersionDiff, translator: Translator) -> Any:
    _ = translator.gettext
    counts = {
        _("added"): diff.added,
        _("removed"): diff.removed,
        _("changed"): diff.changed,
        _("moved to another split"): diff.resplit,
        _("unchanged"): diff.unchanged,
    }
    return bar_chart(
        list(counts),
        list(counts.values()),
        title=_("Records by change"),
        fmt=translator.number,
    )


@router.get("/dataset-versions/{version_id}/records/{record_id}/file")
def record_file(
    version_id: str,
    record_id: str,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
) -> Response:
    sha256, name = data.record_file(
        session, data.manifest_cache(runtime), member.actor, version_id, record_id
    )
    media_type = mimetypes.guess_type(name or "")[0] or ""
    # Never serve uploaded markup inline.
    if not media_type.startswith("image/") or media_type == "image/svg+xml":
        media_type = "application/octet-stream"
    # Content-addressed: a record's file never changes, so the browser may keep it.
    return StreamingResponse(
        runtime.blobs.iter_chunks(sha256),
        media_type=media_type,
        headers={
            "Cache-Control": "private, max-age=86400",
            "X-Content-Type-Options": "nosniff",
        },
    )


# --- import -----------------------------------------------------------------------------------


def _writable_dataset(
    session: Session, member: Member, dataset_id: str
) -> data.DatasetRead:
    """The dataset, if the member may change it: a 404 when they may not see it, a 403 when they may only read it."""
    dataset = data.get_dataset(session, member.actor, dataset_id)
    require(session, member.actor, Action.write, DATASET, dataset, dataset_id)
    return dataset


def _import_form(
    request: Request,
    member: Member,
    dataset: data.DatasetRead,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    typed = {
        "format": "auto",
        "label_field": "label",
        "split_field": "split",
        "text_field": "",
        **(form or {}),
    }
    return render(
        request,
        member,
        "datasets/import.html",
        status_code=status_code,
        dataset=dataset,
        form=typed,
        errors=errors or {},
        formats=["auto", *readers.names()],
    )


@router.get("/datasets/{dataset_id}/import")
def import_page(
    request: Request, dataset_id: str, session: SessionDep, member: MemberDep
) -> Response:
    return _import_form(request, member, _writable_dataset(session, member, dataset_id))


@router.post("/datasets/{dataset_id}/import")
def start_import(
    request: Request,
    dataset_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    runtime: RuntimeDep,
    file: Annotated[UploadFile | None, File()] = None,
    format: FormText = "auto",
    label_field: FormText = "",
    split_field: FormText = "",
    text_field: FormText = "",
) -> Response:
    """The API's upload import: the file is checked and stored, then the import job queued."""
    dataset = _writable_dataset(session, member, dataset_id)
    form = {
        "format": format,
        "label_field": label_field,
        "split_field": split_field,
        "text_field": text_field,
    }
    _ = member.translator.gettext
    refused = form_refusal(_import_form, request, member, dataset, form=form)
    try:
        options = data.ImportOptions(
            format=format,
            label_field=label_field or None,
            split_field=split_field or None,
            text_field=text_field or None,
        )
    except Invalid:  # an unknown format, named by the import readers
        return refused("format", _("Choose one of the formats listed."))
    except ValidationError as error:
        field = str(error.errors()[0]["loc"][0])
        return refused(field, _("A field name must be at most 100 characters."))
    if file is None or not file.filename:
        return refused("file", _("Choose a file to import."))
    try:
        job = data.import_upload(
            session,
            runtime.blobs,
            member.actor,
            dataset.id,
            file.file,
            file.filename,
            options,
        )
    except Invalid as error:  # an empty file or an unsafe archive: nothing was stored
        return refused(
            "file", _("This file cannot be imported: {reason}", reason=error.message)
        )
    return redirect(f"/jobs/{job.id}")


# --- cleaning ---------------------------------------------------------------------------------

CLEAN_DEFAULTS = {
    "operation": "dedup",
    "near": "on",
    "threshold": "0.8",
    "max_distance": "4",
    "min_chars": "5",
    "max_chars": "100000",
    "min_width": "32",
    "min_height": "32",
    "seed": "0",
}
# A rule set's own check (fewest ≤ most characters) is reported next to its last field.
_RULES_FIELD = {"text_rules": "max_chars", "image_rules": "min_height"}


def _writable_version(
    session: Session, member: Member, dataset_id: str, number: int
) -> tuple[data.DatasetRead, data.VersionRead]:
    dataset = _writable_dataset(session, member, dataset_id)
    return dataset, data.resolve_version(session, member.actor, dataset_id, number)


def _clean_messages(translator: Translator) -> dict[str, str]:
    _ = translator.gettext
    return {
        "operation": _("Choose one of the cleaning operations."),
        "near": _("Tick the box or leave it empty."),
        "threshold": _(
            "The similarity threshold must be a number above 0 and at most 1."
        ),
        "max_distance": _("The distance must be a whole number from 0 to 32."),
        "min_chars": _("The fewest characters must be a whole number, 0 or more."),
        "max_chars": _(
            "The most characters must be a whole number, 1 or more, and not below the fewest."
        ),
        "min_width": _("Give a whole number of pixels, 1 or more."),
        "min_height": _("Give a whole number of pixels, 1 or more."),
        "seed": _("The seed must be a whole number, 0 or more."),
    }


def _field_of(
    error: ValidationError, known: dict[str, str], nested: dict[str, str]
) -> str:
    """The form field a schema's first complaint is about."""
    location = [str(part) for part in error.errors()[0]["loc"]]
    named = next((part for part in reversed(location) if part in known), None)
    return named or nested.get(location[0], location[0])


def _clean_form(
    request: Request,
    member: Member,
    dataset: data.DatasetRead,
    version: data.VersionRead,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        member,
        "datasets/clean.html",
        status_code=status_code,
        dataset=dataset,
        version=version,
        form={**CLEAN_DEFAULTS, **(form or {})},
        errors=errors or {},
        operations=list(
            get_args(data.CleanParams.model_fields["operation"].annotation)
        ),
    )


@router.get("/datasets/{dataset_id}/versions/{number}/clean")
def clean_page(
    request: Request,
    dataset_id: str,
    number: int,
    session: SessionDep,
    member: MemberDep,
) -> Response:
    return _clean_form(
        request, member, *_writable_version(session, member, dataset_id, number)
    )


@router.post("/datasets/{dataset_id}/versions/{number}/clean")
def start_clean(
    request: Request,
    dataset_id: str,
    number: int,
    session: SessionDep,
    member: PostingMemberDep,
    operation: FormText = "",
    near: FormText = "",
    threshold: FormText = "",
    max_distance: FormText = "",
    min_chars: FormText = "",
    max_chars: FormText = "",
    min_width: FormText = "",
    min_height: FormText = "",
    seed: FormText = "",
) -> Response:
    """The API's cleaning: a job that writes a new version with a report."""
    dataset, version = _writable_version(session, member, dataset_id, number)
    form = {
        "operation": operation,
        "near": near,
        "threshold": threshold,
        "max_distance": max_distance,
        "min_chars": min_chars,
        "max_chars": max_chars,
        "min_width": min_width,
        "min_height": min_height,
        "seed": seed,
    }
    try:
        spec = data.CleanParams(
            operation=operation,
            near=near == "on",
            threshold=threshold,
            max_distance=max_distance,
            seed=seed,
            text_rules={"min_chars": min_chars, "max_chars": max_chars},
            image_rules={"min_width": min_width, "min_height": min_height},
        )
    except ValidationError as error:
        messages = _clean_messages(member.translator)
        field = _field_of(error, messages, _RULES_FIELD)
        refused = form_refusal(
            _clean_form, request, member, dataset, version, form=form
        )
        return refused(field, messages.get(field, str(error.errors()[0]["msg"])))
    job = data.start_clean(session, member.actor, version.id, spec)
    return redirect(f"/jobs/{job.id}")


# --- de-identification ------------------------------------------------------------------------

DEID_DEFAULTS = {"faces": "blur", "policy": "", "k": "5", "max_suppression": "0.05"}


def _deid_messages(translator: Translator) -> dict[str, str]:
    _ = translator.gettext
    return {
        "faces": _("Choose blur, box or off for faces."),
        "fields": _("Choose text fields of this version."),
        "quasi_identifiers": _("Choose at most 20 quasi-identifiers of this version."),
        "k": _("k must be a whole number from 2 to 1000."),
        "max_suppression": _(
            "The share of records suppressed must be a number from 0 to 0.5."
        ),
    }


def _deid_form(
    request: Request,
    member: Member,
    dataset: data.DatasetRead,
    version: data.VersionRead,
    *,
    status_code: int = 200,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    typed = {**DEID_DEFAULTS, "fields": [], "quasi_identifiers": [], **(form or {})}
    text_columns = [
        c["name"] for c in version.columns if c["type"] in ("string", "large_string")
    ]
    return render(
        request,
        member,
        "datasets/deid.html",
        status_code=status_code,
        dataset=dataset,
        version=version,
        form=typed,
        errors=errors or {},
        text_columns=text_columns,
        columns=[c["name"] for c in version.columns],
    )


@router.get("/datasets/{dataset_id}/versions/{number}/deid")
def deid_page(
    request: Request,
    dataset_id: str,
    number: int,
    session: SessionDep,
    member: MemberDep,
) -> Response:
    return _deid_form(
        request, member, *_writable_version(session, member, dataset_id, number)
    )


@router.post("/datasets/{dataset_id}/versions/{number}/deid")
def start_deid(
    request: Request,
    dataset_id: str,
    number: int,
    session: SessionDep,
    member: PostingMemberDep,
    faces: FormText = "",
    policy: FormText = "",
    k: FormText = "",
    max_suppression: FormText = "",
    fields: Annotated[list[str], Form()] = [],  # noqa: B006  FastAPI reads a form list's default, never mutates it
    quasi_identifiers: Annotated[list[str], Form()] = [],  # noqa: B006
) -> Response:
    """The API's de-identification: a job that writes a de-identified version and a report."""
    dataset, version = _writable_version(session, member, dataset_id, number)
    form = {
        "faces": faces,
        "policy": policy,
        "k": k,
        "max_suppression": max_suppression,
        "fields": fields,
        "quasi_identifiers": quasi_identifiers,
    }
    messages = _deid_messages(member.translator)
    refused = form_refusal(_deid_form, request, member, dataset, version, form=form)
    k_anonymity = (
        {
            "quasi_identifiers": quasi_identifiers,
            "k": k,
            "max_suppression": max_suppression,
        }
        if quasi_identifiers
        else None
    )
    try:
        spec = data.DeidParams(
            policy=policy.strip() or None,
            fields=fields or None,
            faces=faces,
            k_anonymity=k_anonymity,
        )
    except Invalid as error:
        # The policy's YAML, named key by key by the de-identification service.
        return refused(
            "policy",
            member.translator.gettext(
                "The policy is not valid: {reason}", reason=error.message
            ),
        )
    except ValidationError as error:
        field = _field_of(error, messages, {"k_anonymity": "quasi_identifiers"})
        return refused(field, messages.get(field, str(error.errors()[0]["msg"])))
    try:
        job = data.start_deid(session, member.actor, version.id, spec)
    except Invalid as error:  # fields this version does not have
        return refused("fields", f"{messages['fields']} {error.message}")
    return redirect(f"/jobs/{job.id}")
