"""City Brain: upload SUMO networks and routes, run signal controllers on them as jobs, read the results;
train learned controllers into the model hub."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from aicommons.api.deps import ActorDep, RuntimeDep, SessionDep
from aicommons.core.schemas import JobRead, Page
from aicommons.scenarios.citybrain import runs, training
from aicommons.scenarios.citybrain.schemas import (
    ControllerRead,
    FileRead,
    KindRead,
    RunCreate,
    RunRead,
)
from aicommons.scenarios.citybrain.training import TrainingCreate

router = APIRouter(prefix="/citybrain", tags=["citybrain"])


@router.get("/controllers", response_model=list[ControllerRead])
def controllers() -> list[ControllerRead]:
    return runs.describe_controllers()


@router.get("/kinds", response_model=list[KindRead])
def kinds() -> list[KindRead]:
    """What a run can simulate beside the controller: signal-control alone, a green wave, incidents."""
    return [KindRead(name=name, description=runs.run_kinds.get(name).description) for name in runs.run_kinds.names()]


@router.post("/files", response_model=FileRead, status_code=201)
def upload_file(
    file: Annotated[UploadFile, File(description="A SUMO .net.xml network or .rou.xml route file (at most 512 MiB).")],
    actor: ActorDep,
    runtime: RuntimeDep,
) -> FileRead:
    """Store a file; pass its sha256 as `net_sha256` or `routes_sha256` of a run."""
    return runs.store_upload(runtime.blobs, file.file, file.filename or "upload")


@router.post("/runs", response_model=RunRead, status_code=201)
def start_run(spec: RunCreate, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> RunRead:
    """Queue a simulation of the controller on the network, one episode per seed; follow it as a job."""
    return runs.start_run(session, runtime.blobs, actor, spec)


@router.get("/runs", response_model=Page[RunRead])
def list_runs(
    session: SessionDep, actor: ActorDep, controller: str | None = None, kind: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[RunRead]:
    return runs.list_runs(session, actor, controller=controller, kind=kind, limit=limit, cursor=cursor)


@router.get("/runs/{run_id}", response_model=RunRead)
def get_run(run_id: str, session: SessionDep, actor: ActorDep) -> RunRead:
    return runs.get_run(session, actor, run_id)


@router.post("/training", response_model=JobRead, status_code=201)
def start_training(spec: TrainingCreate, session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> JobRead:
    """Queue the training of a learned signal controller; it becomes the next version of the named model."""
    return training.start_training(session, runtime, actor, spec)


@router.get("/training/{job_id}", response_model=JobRead)
def get_training(job_id: str, session: SessionDep, actor: ActorDep) -> JobRead:
    """A training's state: progress per episode while it runs; the model version, metrics and history once done."""
    return training.get_training(session, actor, job_id)
