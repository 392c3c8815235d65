"""The model hub: models, versions (upload), cards, aliases, artefact downloads."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel

from aicommons import models
from aicommons.api.deps import ActorDep, RuntimeDep, SessionDep
from aicommons.core.errors import Invalid
from aicommons.core.schemas import JobRead, Page

router = APIRouter(tags=["models"])


class AliasSet(BaseModel):
    version_id: str


@router.post("/models", response_model=models.ModelRead, status_code=201)
def create_model(spec: models.ModelCreate, session: SessionDep, actor: ActorDep) -> models.ModelRead:
    return models.create_model(session, actor, spec)


@router.get("/models", response_model=Page[models.ModelRead])
def list_models(
    session: SessionDep,
    actor: ActorDep,
    task: models.Task | None = None,
    org_id: Annotated[str | None, Query(max_length=40)] = None,
    tag: Annotated[str | None, Query(max_length=50)] = None,
    licence: Annotated[str | None, Query(max_length=100)] = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    metric: Annotated[str | None, Query(max_length=100, description="e.g. `accuracy>=0.9`: models with a version meeting it.")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Page[models.ModelRead]:
    return models.list_models(session, actor, task=task, org_id=org_id, tag=tag, licence=licence, query=q, metric=metric, limit=limit, cursor=cursor)


@router.get("/models/{model_id}", response_model=models.ModelRead)
def get_model(model_id: str, session: SessionDep, actor: ActorDep) -> models.ModelRead:
    return models.get_model(session, actor, model_id)


@router.patch("/models/{model_id}", response_model=models.ModelRead)
def update_model(model_id: str, change: models.ModelUpdate, session: SessionDep, actor: ActorDep) -> models.ModelRead:
    return models.update_model(session, actor, model_id, change)


@router.get("/models/{model_id}/versions", response_model=list[models.ModelVersionRead])
def list_versions(model_id: str, session: SessionDep, actor: ActorDep) -> list[models.ModelVersionRead]:
    return models.list_versions(session, actor, model_id)


@router.post("/models/{model_id}/versions", response_model=models.ModelVersionRead, status_code=201)
def upload_version(
    model_id: str,
    file: Annotated[UploadFile, File(description="ONNX, or scikit-learn saved with skops. Pickles are refused.")],
    session: SessionDep,
    actor: ActorDep,
    runtime: RuntimeDep,
    meta: Annotated[str, Form(max_length=100_000, description="JSON: metrics, dataset_version_ids, preprocessing.")] = "{}",
) -> models.ModelVersionRead:
    try:
        parsed = models.VersionMeta.model_validate_json(meta)
    except ValueError as exc:
        raise Invalid(f"The 'meta' form field must be JSON with metrics, dataset_version_ids, preprocessing: {exc}") from None
    return models.upload_version(session, runtime.blobs, actor, model_id, file.file, file.filename or "model", parsed)


@router.post("/models/{model_id}/train", response_model=JobRead, status_code=202)
def train(model_id: str, spec: models.TrainParams, session: SessionDep, actor: ActorDep) -> JobRead:
    """Train a recipe on a dataset version; the job registers the result as the next version."""
    return models.start_training(session, actor, model_id, spec)


@router.post("/models/{model_id}/import", response_model=JobRead, status_code=202)
def import_model(model_id: str, spec: models.ImportParams, session: SessionDep, actor: ActorDep) -> JobRead:
    """Import a pretrained model that ships in an installed package (e.g. `all-minilm-l6-v2`) as the next version."""
    return models.start_import(session, actor, model_id, spec)


@router.get("/recipes")
def list_recipes(actor: ActorDep) -> list[dict[str, str]]:
    """The training recipes: name, task and what each is."""
    return [{"name": r.name, "task": r.task, "description": r.description} for r in models.list_recipes()]


@router.get("/models/{model_id}/versions/{ref}", response_model=models.ModelVersionRead)
def resolve_version(model_id: str, ref: str, session: SessionDep, actor: ActorDep) -> models.ModelVersionRead:
    """`ref` is a number, an alias such as `production`, or `latest`."""
    return models.resolve_version(session, actor, model_id, ref)


@router.put("/models/{model_id}/aliases/{alias}", response_model=models.ModelRead)
def set_alias(model_id: str, alias: str, spec: AliasSet, session: SessionDep, actor: ActorDep) -> models.ModelRead:
    return models.set_alias(session, actor, model_id, alias, spec.version_id)


@router.delete("/models/{model_id}/aliases/{alias}", response_model=models.ModelRead)
def delete_alias(model_id: str, alias: str, session: SessionDep, actor: ActorDep) -> models.ModelRead:
    return models.delete_alias(session, actor, model_id, alias)


@router.get("/model-versions/{version_id}", response_model=models.ModelVersionRead)
def get_version(version_id: str, session: SessionDep, actor: ActorDep) -> models.ModelVersionRead:
    return models.get_version(session, actor, version_id)


@router.post("/model-versions/{version_id}/compress", response_model=JobRead, status_code=202)
def compress(version_id: str, spec: models.CompressParams, session: SessionDep, actor: ActorDep) -> JobRead:
    """int8 (dynamic or static), pruning or distillation; the job writes the model's next version
    with this one as its parent and a comparison (size, latency, accuracy) in its details."""
    return models.start_compression(session, actor, version_id, spec)


@router.get("/model-versions/{version_id}/card", response_class=PlainTextResponse)
def get_card(version_id: str, session: SessionDep, actor: ActorDep) -> str:
    return models.get_card(session, actor, version_id)


@router.put("/model-versions/{version_id}/card", response_model=models.ModelVersionRead)
def update_card(version_id: str, spec: models.CardUpdate, session: SessionDep, actor: ActorDep) -> models.ModelVersionRead:
    return models.update_card(session, actor, version_id, spec.card)


@router.get("/model-versions/{version_id}/artefacts/{kind}")
def download(version_id: str, kind: Literal["onnx", "source"], session: SessionDep, actor: ActorDep, runtime: RuntimeDep) -> StreamingResponse:
    sha256, filename = models.artefact(session, actor, version_id, kind)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(runtime.blobs.iter_chunks(sha256), media_type="application/octet-stream", headers=headers)
