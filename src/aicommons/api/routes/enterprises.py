"""The enterprise registry (培育库): officials register, search, import and export AI enterprises."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import Response

from aicommons.api.deps import ActorDep, SessionDep
from aicommons.core.schemas import Page
from aicommons.observatory import enterprises

router = APIRouter(prefix="/observatory/enterprises", tags=["observatory"])

_MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


@router.get("/vocabulary", response_model=enterprises.Vocabulary)
def vocabulary() -> enterprises.Vocabulary:
    """The tiers, AI fields and Zhejiang regions a record may use."""
    return enterprises.vocabulary()


@router.post("", response_model=enterprises.EnterpriseRead, status_code=201)
def create_enterprise(spec: enterprises.EnterpriseCreate, session: SessionDep, actor: ActorDep) -> enterprises.EnterpriseRead:
    """Register an enterprise (officials only); 409 if its credit code is already registered."""
    return enterprises.create_enterprise(session, actor, spec)


@router.get("", response_model=Page[enterprises.EnterpriseRead])
def list_enterprises(
    session: SessionDep,
    actor: ActorDep,
    city: str | None = None,
    district: str | None = None,
    tier: str | None = None,
    ai_field: str | None = None,
    name: Annotated[str | None, Query(max_length=200, description="Part of the name.")] = None,
    sample: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[enterprises.EnterpriseRead]:
    """Search the registry (officials only)."""
    return enterprises.list_enterprises(
        session, actor, city=city, district=district, tier=tier, ai_field=ai_field, name=name, sample=sample, limit=limit, cursor=cursor
    )


@router.get("/mine", response_model=list[enterprises.EnterpriseRead])
def own_enterprises(session: SessionDep, actor: ActorDep) -> list[enterprises.EnterpriseRead]:
    """The records linked to your org."""
    return enterprises.own_enterprises(session, actor)


@router.post("/import", response_model=enterprises.ImportReport)
def import_enterprises(
    file: Annotated[UploadFile, File(description="A CSV or XLSX file, at most 4 MiB and 5,000 rows; row 1 names the columns.")],
    session: SessionDep,
    actor: ActorDep,
) -> enterprises.ImportReport:
    """Import rows (officials only): good rows are stored, bad ones reported by row and column and left out."""
    return enterprises.import_enterprises(session, actor, file.file, file.filename or "")


@router.get("/export")
def export_enterprises(
    session: SessionDep,
    actor: ActorDep,
    format: Literal["csv", "xlsx"] = "xlsx",
    city: str | None = None,
    district: str | None = None,
    tier: str | None = None,
    ai_field: str | None = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
    sample: bool | None = None,
) -> Response:
    """Download the matching records (officials only) in the columns the import reads."""
    data = enterprises.export_enterprises(
        session, actor, format, city=city, district=district, tier=tier, ai_field=ai_field, name=name, sample=sample
    )
    headers = {"Content-Disposition": f'attachment; filename="enterprises.{format}"'}
    return Response(data, media_type=_MEDIA_TYPES[format], headers=headers)


@router.post("/samples", response_model=enterprises.SampleReport, status_code=201)
def add_samples(
    session: SessionDep,
    actor: ActorDep,
    count: int = enterprises.DEFAULT_SAMPLE_COUNT,
    seed: int = 0,
) -> enterprises.SampleReport:
    """Add seeded sample enterprises, marked `sample` (officials only): counts created, updated and unchanged."""
    return enterprises.add_sample_enterprises(session, actor, count, seed)


@router.get("/{credit_code}", response_model=enterprises.EnterpriseRead)
def get_enterprise(credit_code: str, session: SessionDep, actor: ActorDep) -> enterprises.EnterpriseRead:
    """Officials read every record; an enterprise's own org reads its own."""
    return enterprises.get_enterprise(session, actor, credit_code)


@router.patch("/{credit_code}", response_model=enterprises.EnterpriseRead)
def update_enterprise(
    credit_code: str, change: enterprises.EnterpriseUpdate, session: SessionDep, actor: ActorDep
) -> enterprises.EnterpriseRead:
    """Change the fields given (officials only)."""
    return enterprises.update_enterprise(session, actor, credit_code, change)


@router.delete("/{credit_code}", status_code=204)
def delete_enterprise(credit_code: str, session: SessionDep, actor: ActorDep) -> Response:
    enterprises.delete_enterprise(session, actor, credit_code)
    return Response(status_code=204)
