"""Crowdsourced annotation: projects on dataset versions, workers, tasks and answers, quality
control, aggregation (a job), review, and publishing the labels as a new dataset version."""

from __future__ import annotations

import mimetypes
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse

from aicommons import data
from aicommons.api.deps import ActorDep, RuntimeDep, SessionDep
from aicommons.core.schemas import JobRead, Page
from aicommons.data import annotation

router = APIRouter(tags=["annotation"])

PROJECTS = "/annotation/projects"


@router.post(PROJECTS, response_model=annotation.ProjectRead, status_code=201)
def create_project(spec: annotation.ProjectCreate, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> annotation.ProjectRead:
    """A project on one of your dataset versions: every record becomes an item to label."""
    return annotation.create_project(session, actor, spec, cache=data.manifest_cache(runtime))


@router.get(PROJECTS, response_model=Page[annotation.ProjectRead])
def list_projects(
    session: SessionDep,
    actor: ActorDep,
    status: Annotated[str | None, Query(max_length=10, description="open or closed.")] = None,
    dataset_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[annotation.ProjectRead]:
    """Public projects of every org and your own org's private ones, newest first."""
    return annotation.list_projects(session, actor, status=status, dataset_id=dataset_id, limit=limit, cursor=cursor)


@router.get(PROJECTS + "/{project_id}", response_model=annotation.ProjectRead)
def get_project(project_id: str, session: SessionDep, actor: ActorDep) -> annotation.ProjectRead:
    return annotation.get_project(session, actor, project_id)


@router.patch(PROJECTS + "/{project_id}", response_model=annotation.ProjectRead)
def update_project(project_id: str, change: annotation.ProjectUpdate, session: SessionDep, actor: ActorDep) -> annotation.ProjectRead:
    """The owner org changes the guidelines or the deadline, or closes and reopens the project."""
    return annotation.update_project(session, actor, project_id, change)


@router.post(PROJECTS + "/{project_id}/join", response_model=annotation.WorkerRead)
def join_project(project_id: str, session: SessionDep, actor: ActorDep) -> annotation.WorkerRead:
    """Become a worker on a project (any org's user, for a public one)."""
    return annotation.join_project(session, actor, project_id)


@router.post(
    PROJECTS + "/{project_id}/next-task",
    response_model=annotation.TaskRead,
    responses={204: {"description": "Nothing is left for you to label in this project."}},
)
def next_task(project_id: str, session: SessionDep, actor: ActorDep) -> annotation.TaskRead | Response:
    """Your next task: never an item you already labelled. `204` with no body when none is left."""
    task = annotation.next_task(session, actor, project_id)
    return Response(status_code=204) if task is None else task


@router.post("/annotation/tasks/{task_id}/answer", response_model=annotation.AnswerRead, status_code=201)
def submit_answer(
    task_id: str,
    answer: annotation.AnswerSubmit,
    session: SessionDep,
    actor: ActorDep,
    project_id: Annotated[str | None, Query(max_length=40, description="When given, the task must belong to this project (404 otherwise).")] = None,
) -> annotation.AnswerRead:
    """Answer one of your tasks: a label, a list of labels, spans or boxes, as the project's schema says."""
    return annotation.submit_answer(session, actor, task_id, answer, project_id=project_id)


@router.post("/annotation/tasks/{task_id}/skip", status_code=204)
def skip_task(
    task_id: str,
    session: SessionDep,
    actor: ActorDep,
    project_id: Annotated[str | None, Query(max_length=40, description="When given, the task must belong to this project (404 otherwise).")] = None,
) -> None:
    """Give back one of your unanswered tasks; you are not given its item again (409 if already answered)."""
    annotation.skip_task(session, actor, task_id, project_id=project_id)


@router.get("/annotation/tasks/{task_id}/file")
def task_file(task_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> StreamingResponse:
    """The image of a task's item, for its worker (of any org) and the project's owner org."""
    sha256, name = annotation.task_file(session, actor, task_id)
    media_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return StreamingResponse(runtime.blobs.iter_chunks(sha256), media_type=media_type)


@router.get(PROJECTS + "/{project_id}/workers", response_model=list[annotation.WorkerRead])
def list_workers(project_id: str, session: SessionDep, actor: ActorDep) -> list[annotation.WorkerRead]:
    """The owner org sees each worker's skill, answers, gold accuracy, flags with reasons, and weight."""
    return annotation.list_workers(session, actor, project_id)


@router.post(PROJECTS + "/{project_id}/aggregate", response_model=JobRead, status_code=202)
def aggregate(project_id: str, session: SessionDep, actor: ActorDep, params: annotation.AggregateParams | None = None) -> JobRead:
    """Queue the aggregation job (`annotation.aggregate`); follow it at `/jobs/{id}`."""
    return annotation.start_aggregation(session, actor, project_id, params or annotation.AggregateParams())


@router.get(PROJECTS + "/{project_id}/results", response_model=Page[annotation.ResultRead])
def list_results(
    project_id: str,
    session: SessionDep,
    actor: ActorDep,
    review: Annotated[str | None, Query(max_length=10, description="none, accepted, rejected or corrected.")] = None,
    max_confidence: Annotated[float | None, Query(ge=0, le=1, description="Only results at most this confident.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[annotation.ResultRead]:
    """Aggregated labels with their confidence, support and review state (owner org)."""
    return annotation.list_results(session, actor, project_id, review=review, max_confidence=max_confidence, limit=limit, cursor=cursor)


@router.post(PROJECTS + "/{project_id}/results/{record_id}/review", response_model=annotation.ResultRead)
def review_result(
    project_id: str, record_id: str, decision: annotation.ReviewDecision, session: SessionDep, actor: ActorDep
) -> annotation.ResultRead:
    """Accept, reject or correct an aggregated label; corrections feed the workers' skill."""
    return annotation.review_result(session, actor, project_id, record_id, decision)


@router.post(PROJECTS + "/{project_id}/publish", response_model=data.VersionRead, status_code=201)
def publish(project_id: str, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> data.VersionRead:
    """Write the reviewed-or-aggregated labels as a new version of the project's dataset, with lineage."""
    return annotation.publish_results(session, runtime.blobs, actor, project_id, cache=data.manifest_cache(runtime))
