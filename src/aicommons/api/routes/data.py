"""Datasets and versions: create, import (streamed upload), browse, diff, split."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import StreamingResponse
from pydantic import TypeAdapter, ValidationError

from aicommons import data
from aicommons.api.deps import ActorDep, RuntimeDep, SessionDep
from aicommons.core.errors import Invalid
from aicommons.core.schemas import JobRead, Page

router = APIRouter(tags=["data"])

_FILTERS = TypeAdapter(list[data.RecordFilter])


@router.post("/datasets", response_model=data.DatasetRead, status_code=201)
def create_dataset(spec: data.DatasetCreate, session: SessionDep, actor: ActorDep) -> data.DatasetRead:
    return data.create_dataset(session, actor, spec)


@router.get("/datasets", response_model=Page[data.DatasetRead])
def list_datasets(
    session: SessionDep,
    actor: ActorDep,
    modality: data.Modality | None = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    q: Annotated[str | None, Query(max_length=100, description="Part of the name.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[data.DatasetRead]:
    return data.list_datasets(session, actor, modality=modality, tag=tag, query=q, limit=limit, cursor=cursor)


@router.get("/datasets/{dataset_id}", response_model=data.DatasetRead)
def get_dataset(dataset_id: str, session: SessionDep, actor: ActorDep) -> data.DatasetRead:
    return data.get_dataset(session, actor, dataset_id)


@router.patch("/datasets/{dataset_id}", response_model=data.DatasetRead)
def update_dataset(dataset_id: str, change: data.DatasetUpdate, session: SessionDep, actor: ActorDep) -> data.DatasetRead:
    return data.update_dataset(session, actor, dataset_id, change)


@router.get("/datasets/{dataset_id}/versions", response_model=list[data.VersionRead])
def list_versions(dataset_id: str, session: SessionDep, actor: ActorDep) -> list[data.VersionRead]:
    return data.list_versions(session, actor, dataset_id)


@router.post("/datasets/{dataset_id}/imports", response_model=JobRead, status_code=202)
def import_upload(
    dataset_id: str,
    file: Annotated[UploadFile, File(description="CSV, JSONL, Parquet, or a zip/tar of those, an ImageFolder, COCO, YOLO or VOC.")],
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
    format: Annotated[str, Form(max_length=20)] = "auto",
    label_field: Annotated[str | None, Form(max_length=100)] = "label",
    split_field: Annotated[str | None, Form(max_length=100)] = "split",
    text_field: Annotated[str | None, Form(max_length=100)] = None,
) -> JobRead:
    """Upload a file and queue its import; follow the returned job for progress."""
    options = data.ImportOptions(format=format, label_field=label_field, split_field=split_field, text_field=text_field)
    return data.import_upload(session, runtime.blobs, actor, dataset_id, file.file, file.filename or "upload", options)


@router.get("/versions/{version_id}", response_model=data.VersionRead)
def get_version(version_id: str, session: SessionDep, actor: ActorDep) -> data.VersionRead:
    return data.get_version(session, actor, version_id)


@router.get("/versions/{version_id}/records", response_model=data.RecordPage)
def list_records(
    version_id: str,
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
    split: Annotated[str | None, Query(max_length=40)] = None,
    label: Annotated[str | None, Query(max_length=200)] = None,
    where: Annotated[str | None, Query(max_length=4000, description='JSON list of {"column", "op", "value"}.')] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> data.RecordPage:
    return data.list_records(
        session, data.manifest_cache(runtime), actor, version_id,
        filters=_parse_where(where), split=split, label=label, limit=limit, cursor=cursor,
    )


def _parse_where(where: str | None) -> list[data.RecordFilter]:
    if not where:
        return []
    try:
        return _FILTERS.validate_json(where)
    except ValidationError as exc:
        raise Invalid(f"The 'where' parameter must be a JSON list of {{column, op, value}} filters: {exc.errors()[0]['msg']}.") from None


@router.get("/versions/{version_id}/records/{record_id}/file")
def record_file(version_id: str, record_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> StreamingResponse:
    sha256, name = data.record_file(session, data.manifest_cache(runtime), actor, version_id, record_id)
    media_type = mimetypes.guess_type(name or "")[0] or "application/octet-stream"
    return StreamingResponse(runtime.blobs.iter_chunks(sha256), media_type=media_type)


@router.get("/versions/{version_id}/diff/{other_version_id}", response_model=data.VersionDiff)
def diff_versions(version_id: str, other_version_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> data.VersionDiff:
    return data.diff_versions(session, data.manifest_cache(runtime), actor, version_id, other_version_id)


@router.post("/versions/{version_id}/exports", response_model=JobRead, status_code=202)
def export_version(
    version_id: str,
    session: SessionDep,
    actor: ActorDep,
    format: Annotated[str, Query(max_length=20, description="csv, jsonl, parquet, imagefolder, coco, yolo, voc, hf.")],
) -> JobRead:
    """Queue an export; download the zip from `/exports/{job_id}/download` when the job succeeds."""
    return data.start_export(session, actor, version_id, format)


@router.get("/exports/{job_id}/download")
def download_export(job_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> StreamingResponse:
    sha256, filename = data.export_download(session, actor, job_id)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(runtime.blobs.iter_chunks(sha256), media_type="application/zip", headers=headers)


@router.post("/versions/{version_id}/clean", response_model=JobRead, status_code=202)
def clean_version(version_id: str, spec: data.CleanParams, session: SessionDep, actor: ActorDep) -> JobRead:
    """dedup, text_quality, image_checks or label_issues; writes a new version with a report."""
    return data.start_clean(session, actor, version_id, spec)


@router.post("/versions/{version_id}/deid", response_model=JobRead, status_code=202)
def deid_version(version_id: str, spec: data.DeidParams, session: SessionDep, actor: ActorDep) -> JobRead:
    """De-identify text fields (YAML policy), faces and quasi-identifiers; writes a new version."""
    return data.start_deid(session, actor, version_id, spec)


@router.get("/versions/{version_id}/report")
def version_report(version_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> dict[str, Any]:
    return data.get_report(session, runtime.blobs, actor, version_id)


@router.post("/versions/{version_id}/split", response_model=JobRead, status_code=202)
def split_version(version_id: str, spec: data.SplitParams, session: SessionDep, actor: ActorDep) -> JobRead:
    return data.start_split(session, actor, version_id, spec)


