"""Datasets: the list with search, a dataset's versions, a version's records (text and images)."""

from __future__ import annotations

import mimetypes
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from aicommons import data
from aicommons.console.deps import MemberDep, RuntimeDep, SessionDep
from aicommons.console.pages import ConsoleRoute, render

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
RECORDS_PAGE_SIZE = 24


@router.get("/datasets")
def dataset_list(
    request: Request, session: SessionDep, member: MemberDep,
    q: Annotated[str, Query(max_length=100)] = "", modality: data.Modality | Literal[""] = "",  # "": the form's "all"
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page = data.list_datasets(session, member.actor, query=q or None, modality=modality or None, limit=PAGE_SIZE, cursor=cursor)
    return render(request, member, "datasets/list.html", page=page, q=q, modality=modality,
                  modalities=[m.value for m in data.Modality])


@router.get("/datasets/{dataset_id}")
def dataset_page(request: Request, dataset_id: str, session: SessionDep, member: MemberDep) -> Response:
    dataset = data.get_dataset(session, member.actor, dataset_id)
    return render(request, member, "datasets/dataset.html", dataset=dataset,
                  versions=data.list_versions(session, member.actor, dataset_id))


@router.get("/datasets/{dataset_id}/versions/{number}")
def version_records(
    request: Request, dataset_id: str, number: int, session: SessionDep, member: MemberDep, runtime: RuntimeDep,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    dataset = data.get_dataset(session, member.actor, dataset_id)
    version = data.resolve_version(session, member.actor, dataset_id, number)
    records = data.list_records(session, data.manifest_cache(runtime), member.actor, version.id, limit=RECORDS_PAGE_SIZE, cursor=cursor)
    return render(request, member, "datasets/records.html", dataset=dataset, version=version, records=records)


@router.get("/dataset-versions/{version_id}/records/{record_id}/file")
def record_file(version_id: str, record_id: str, session: SessionDep, member: MemberDep, runtime: RuntimeDep) -> Response:
    sha256, name = data.record_file(session, data.manifest_cache(runtime), member.actor, version_id, record_id)
    media_type = mimetypes.guess_type(name or "")[0] or ""
    if not media_type.startswith("image/") or media_type == "image/svg+xml":  # never serve uploaded markup inline
        media_type = "application/octet-stream"
    # Content-addressed: a record's file never changes, so the browser may keep it.
    return StreamingResponse(runtime.blobs.iter_chunks(sha256), media_type=media_type,
                             headers={"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"})
