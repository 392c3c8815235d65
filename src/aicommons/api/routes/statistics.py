"""Policy targets, quarterly observations, progress and the regional evaluation.

Every signed-in actor reads targets, observations, progress and evaluations; officials (the
operator and government orgs) record, import and compute observations and run evaluations.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile

from aicommons.api.deps import ActorDep, SessionDep
from aicommons.core.schemas import Page
from aicommons.observatory import statistics

router = APIRouter(prefix="/observatory", tags=["observatory"])


@router.get("/targets", response_model=list[statistics.TargetRead])
def list_targets(actor: ActorDep, document: str | None = None, region: str | None = None, indicator: str | None = None) -> list[statistics.TargetRead]:
    """Every numeric target of the five policies, with its clause and the Chinese phrase it quotes."""
    return statistics.list_targets(document=document, region=region, indicator=indicator)


@router.get("/targets/{target_id}", response_model=statistics.TargetRead)
def get_target(target_id: str, actor: ActorDep) -> statistics.TargetRead:
    return statistics.get_target(target_id)


@router.get("/indicators", response_model=list[statistics.IndicatorRead])
def list_indicators(actor: ActorDep) -> list[statistics.IndicatorRead]:
    """The indicators observations may be recorded for: the targets' catalogue and the platform's own."""
    return statistics.list_indicators()


@router.get("/progress", response_model=list[statistics.ProgressRead])
def list_progress(
    session: SessionDep, actor: ActorDep,
    as_of: Annotated[str | None, Query(description="Read observations up to this quarter, like 2026Q3.")] = None,
    document: str | None = None, region: str | None = None,
) -> list[statistics.ProgressRead]:
    """Each target's latest value, trend, projection at the deadline and verdict, with the arithmetic."""
    return statistics.list_progress(session, actor, as_of=as_of, document=document, region=region)


@router.get("/progress/{target_id}", response_model=statistics.ProgressRead)
def get_progress(target_id: str, session: SessionDep, actor: ActorDep, as_of: str | None = None) -> statistics.ProgressRead:
    return statistics.get_progress(session, actor, target_id, as_of=as_of)


@router.post("/observations", response_model=statistics.ObservationRead, status_code=201)
def record_observation(spec: statistics.ObservationCreate, session: SessionDep, actor: ActorDep) -> statistics.ObservationRead:
    """Officials: record a quarter's value; an existing one for the same indicator, region and quarter is superseded."""
    return statistics.record_observation(session, actor, spec)


@router.post("/observations/import", response_model=statistics.ImportReport)
def import_observations(
    file: Annotated[UploadFile, File(description="CSV with columns indicator, region, quarter, value (and optionally note).")],
    session: SessionDep, actor: ActorDep,
) -> statistics.ImportReport:
    """Officials: record every good row; the others come back with their line number and reason."""
    return statistics.import_observations(session, actor, file.file.read(statistics.MAX_CSV_BYTES + 1), file.filename or "upload.csv")


@router.post("/observations/compute", response_model=list[statistics.ObservationRead], status_code=201)
def compute_observations(request: statistics.ComputeRequest, session: SessionDep, actor: ActorDep) -> list[statistics.ObservationRead]:
    """Officials: read a platform indicator (platform.datasets …) per region and record it."""
    return statistics.compute_observations(session, actor, request)


@router.get("/observations", response_model=Page[statistics.ObservationRead])
def list_observations(
    session: SessionDep, actor: ActorDep, indicator: str | None = None, region: str | None = None, quarter: str | None = None,
    history: bool = False, limit: int = 50, cursor: str | None = None,
) -> Page[statistics.ObservationRead]:
    return statistics.list_observations(session, actor, indicator=indicator, region=region, quarter=quarter, history=history, limit=limit, cursor=cursor)


@router.post("/evaluations", response_model=statistics.EvaluationRead, status_code=201)
def run_evaluation(spec: statistics.EvaluationCreate, session: SessionDep, actor: ActorDep) -> statistics.EvaluationRead:
    """Officials: rank the regions of a year on a composite index; stored with its inputs."""
    return statistics.run_evaluation(session, actor, spec)


@router.get("/evaluations", response_model=Page[statistics.EvaluationRead])
def list_evaluations(session: SessionDep, actor: ActorDep, year: int | None = None, limit: int = 50, cursor: str | None = None) -> Page[statistics.EvaluationRead]:
    return statistics.list_evaluations(session, actor, year=year, limit=limit, cursor=cursor)


@router.get("/evaluations/{evaluation_id}", response_model=statistics.EvaluationRead)
def get_evaluation(evaluation_id: str, session: SessionDep, actor: ActorDep) -> statistics.EvaluationRead:
    return statistics.get_evaluation(session, actor, evaluation_id)


@router.get("/ranking/{year}", response_model=statistics.EvaluationRead)
def get_ranking(year: int, session: SessionDep, actor: ActorDep) -> statistics.EvaluationRead:
    """The published ranking of a year: its latest evaluation."""
    return statistics.get_ranking(session, actor, year)
