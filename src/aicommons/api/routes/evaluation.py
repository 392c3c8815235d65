"""Evaluation: run test suites on model versions, read results, reports and charts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from aicommons import evaluation
from aicommons.api.deps import ActorDep, SessionDep
from aicommons.core.errors import not_found
from aicommons.core.schemas import Page

router = APIRouter(tags=["evaluation"])


@router.get("/evaluation-tests")
def catalogue() -> dict[str, Any]:
    return evaluation.describe_catalogue()


@router.post("/evaluations", response_model=evaluation.EvaluationRead, status_code=201)
def start(spec: evaluation.EvaluationCreate, session: SessionDep, actor: ActorDep) -> evaluation.EvaluationRead:
    return evaluation.start_evaluation(session, actor, spec)


@router.get("/evaluations", response_model=Page[evaluation.EvaluationRead])
def list_runs(
    session: SessionDep, actor: ActorDep, model_id: str | None = None, version_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[evaluation.EvaluationRead]:
    return evaluation.list_evaluations(session, actor, model_id=model_id, version_id=version_id, limit=limit, cursor=cursor)


@router.get("/evaluations/compare")
def compare(session: SessionDep, actor: ActorDep, ids: Annotated[list[str], Query()]) -> dict[str, Any]:
    return evaluation.compare_evaluations(session, actor, ids)


@router.get("/evaluations/{evaluation_id}", response_model=evaluation.EvaluationRead)
def get_run(evaluation_id: str, session: SessionDep, actor: ActorDep) -> evaluation.EvaluationRead:
    return evaluation.get_evaluation(session, actor, evaluation_id)


@router.get("/evaluations/{evaluation_id}/charts/{name}")
def chart(evaluation_id: str, name: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    run = evaluation.get_evaluation(session, actor, evaluation_id)
    sha256 = next((r.charts[name] for r in run.results if name in r.charts), None)
    if sha256 is None:
        raise not_found("chart", name)
    return Response(request.app.state.runtime.blobs.read_bytes(sha256), media_type="image/png")


@router.get("/evaluations/{evaluation_id}/report.html", response_class=HTMLResponse)
def report_html(evaluation_id: str, request: Request, session: SessionDep, actor: ActorDep) -> HTMLResponse:
    report = evaluation.build_report_input(session, request.app.state.runtime.blobs, actor, evaluation_id)
    return HTMLResponse(evaluation.render_html(report))


@router.get("/evaluations/{evaluation_id}/report.pdf")
def report_pdf(evaluation_id: str, request: Request, session: SessionDep, actor: ActorDep) -> Response:
    report = evaluation.build_report_input(session, request.app.state.runtime.blobs, actor, evaluation_id)
    return Response(
        evaluation.render_pdf(report), media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="evaluation-{evaluation_id}.pdf"'},
    )
