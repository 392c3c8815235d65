"""The model hub: models, immutable versions with lineage and cards, aliases, artefact downloads."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.blobs import BlobStore, spool
from aicommons.core.db import utcnow
from aicommons.core.errors import Conflict, Invalid, NotFound, not_found
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Action, Actor, find_visible_by_name, require, visible_clause
from aicommons.core.schemas import Page
from aicommons.models.artifacts import Artifact, inspect_model_file
from aicommons.models.cards import CardData, parse_card, render_card
from aicommons.models.schemas import ModelCreate, ModelRead, ModelUpdate, ModelVersionRead, Task, VersionMeta
from aicommons.models.tables import Model, ModelAlias, ModelVersion

KIND = "model"
MAX_UPLOAD_BYTES = 4 << 30


# --- models -----------------------------------------------------------------------------------


def _read(session: Session, model: Model) -> ModelRead:
    return _read_many(session, [model])[0]


def _read_many(session: Session, rows: list[Model]) -> list[ModelRead]:
    """Models with their aliases, in one query for the aliases of them all (a list page costs
    the same number of statements however many models it shows)."""
    aliases: dict[str, list[tuple[str, int]]] = {model.id: [] for model in rows}
    if rows:
        found = session.execute(
            sa.select(ModelAlias.model_id, ModelAlias.name, ModelVersion.number)
            .join(ModelVersion, ModelVersion.id == ModelAlias.version_id)
            .where(ModelAlias.model_id.in_(list(aliases)))
        )
        for model_id, name, number in found:
            aliases[model_id].append((name, number))
    return [ModelRead.model_validate(m).model_copy(update={"aliases": dict(sorted(aliases[m.id]))}) for m in rows]


def create_model(session: Session, actor: Actor, spec: ModelCreate) -> ModelRead:
    if session.scalar(sa.select(Model.id).where(Model.org_id == actor.org_id, sa.func.lower(Model.name) == spec.name.lower())):
        raise Conflict(f"Your organisation already has a model named {spec.name!r}.")
    model = Model(
        id=new_id("mdl"), org_id=actor.org_id, name=spec.name, task=spec.task.value, visibility=spec.visibility.value,
        licence=spec.licence, description=spec.description, name_zh=spec.name_zh, description_zh=spec.description_zh,
        tags=sorted(set(spec.tags)), created_by=actor.user_id,
    )
    session.add(model)
    session.flush()
    result = _read(session, model)
    audit.record(session, actor, "model.create", KIND, model.id, org_id=model.org_id, after=result)
    return result


def model_row(session: Session, actor: Actor, model_id: str, action: Action = Action.read) -> Model:
    model = session.get(Model, model_id)
    require(session, actor, action, KIND, model, model_id)
    assert model is not None
    return model


def get_model(session: Session, actor: Actor, model_id: str) -> ModelRead:
    return _read(session, model_row(session, actor, model_id))


def find_model(session: Session, actor: Actor, ref: str) -> ModelRead:
    """By id, or by name: the actor's own org's first, then any visible one if unique."""
    if ref.startswith("mdl_"):
        return get_model(session, actor, ref)
    return _read(session, find_visible_by_name(session, actor, KIND, Model, ref))


def list_models(
    session: Session,
    actor: Actor,
    *,
    task: Task | None = None,
    org_id: str | None = None,
    tag: str | None = None,
    licence: str | None = None,
    query: str | None = None,
    metric: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ModelRead]:
    """Visible models, filtered; `metric` like `accuracy>=0.9` keeps models with a version that
    meets it."""
    stmt = sa.select(Model).where(visible_clause(actor, KIND, Model))
    if task is not None:
        stmt = stmt.where(Model.task == Task(task).value)
    if org_id:
        stmt = stmt.where(Model.org_id == org_id)
    if licence:
        stmt = stmt.where(sa.func.lower(Model.licence) == licence.lower())
    if query:
        needle = query.lower()
        stmt = stmt.where(sa.or_(sa.func.lower(Model.name).contains(needle), Model.name_zh.contains(query)))
    if tag:
        stmt = stmt.where(sa.cast(Model.tags, sa.Text).contains(json.dumps(tag, ensure_ascii=False)))
    if metric:
        stmt = stmt.where(_metric_clause(metric))
    rows, next_cursor = page_rows(session, stmt, Model.id, limit=limit, cursor=cursor, owner="list_models")
    return Page[ModelRead](items=_read_many(session, list(rows)), next_cursor=next_cursor)


_METRIC_FILTER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.-]{0,59})\s*(>=|<=|>|<|=)\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE]-?[0-9]+)?)\s*$")
_COMPARE = {">=": "__ge__", "<=": "__le__", ">": "__gt__", "<": "__lt__", "=": "__eq__"}


def _metric_clause(metric: str) -> sa.ColumnElement[bool]:
    match = _METRIC_FILTER.match(metric)
    if match is None:
        raise Invalid(f"The 'metric' filter must look like 'accuracy>=0.9' (a name, one of >= <= > < =, a number); got {metric!r} instead.")
    name, op, value = match.groups()
    measured = ModelVersion.metrics[name].as_float()
    return sa.exists(
        sa.select(ModelVersion.id).where(ModelVersion.model_id == Model.id, getattr(measured, _COMPARE[op])(float(value)))
    )


def update_model(session: Session, actor: Actor, model_id: str, change: ModelUpdate) -> ModelRead:
    model = model_row(session, actor, model_id, Action.admin if change.visibility is not None else Action.write)
    before = _read(session, model)
    for field, value in change.model_dump(exclude_none=True).items():
        setattr(model, field, sorted(set(value)) if field == "tags" else value)
    session.flush()
    after = _read(session, model)
    audit.record(session, actor, "model.update", KIND, model.id, org_id=model.org_id, before=before, after=after)
    return after


# --- versions ---------------------------------------------------------------------------------


def register_version(
    session: Session,
    blobs: BlobStore,
    actor: Actor,
    model_id: str,
    artifact: Artifact,
    *,
    meta: VersionMeta,
    operation: str,
    parameters: dict[str, Any] | None = None,
    parent_version_id: str | None = None,
    job_id: str | None = None,
) -> ModelVersionRead:
    """Store an inspected artefact as the model's next version, with lineage and a generated card."""
    model = session.scalar(sa.select(Model).where(Model.id == model_id).with_for_update())
    require(session, actor, Action.write, KIND, model, model_id)
    assert model is not None
    onnx = blobs.put_bytes(artifact.onnx_bytes)
    source = blobs.put_bytes(artifact.source_bytes).sha256 if artifact.source_bytes else None
    model.latest_version += 1
    version = ModelVersion(
        id=new_id("mdv"), model_id=model.id, number=model.latest_version, onnx_sha256=onnx.sha256, onnx_size=onnx.size,
        source_format=artifact.source_format, source_sha256=source, framework=artifact.framework,
        signature=artifact.signature.as_dict(), preprocessing=meta.preprocessing, metrics=meta.metrics,
        details={**artifact.details, **({"classes": meta.classes} if meta.classes else {})},
        dataset_version_ids=meta.dataset_version_ids, parent_version_id=parent_version_id,
        operation=operation, parameters=parameters or {}, job_id=job_id, created_by=actor.user_id,
    )
    version.card = render_card(_generated_card(model, version))
    session.add(version)
    session.flush()
    result = ModelVersionRead.model_validate(version)
    audit.record(
        session, actor, f"model.version.{operation}", "model_version", version.id, org_id=model.org_id,
        after={"onnx": onnx.sha256, "source": source, "parent": parent_version_id, "datasets": meta.dataset_version_ids},
        detail={"model_id": model.id, "number": version.number, "job_id": job_id},
    )
    return result


def _generated_card(model: Model, version: ModelVersion) -> CardData:
    inputs = ", ".join(f"`{t['name']}` {t['dtype']}{t['shape']}" for t in version.signature.get("inputs", []))
    return CardData(
        title=model.name,
        summary=model.description or f"A {model.task} model ({version.framework}), version {version.number}.",
        intended_use=f"{model.task}. Inputs: {inputs or 'see the signature'}.",
        limitations="Not yet evaluated by aicommons' test suites; check the metrics before relying on it.",
        training_data=", ".join(version.dataset_version_ids) or "Not recorded.",
        metrics={k: float(v) for k, v in version.metrics.items()},
        license=model.licence or None,
        datasets=list(version.dataset_version_ids),
        base_model=version.details.get("base_model") or version.parent_version_id,  # a compressed version's parent
        tags=list(model.tags),
        language=[],
        pipeline_tag=model.task,
        name_zh=model.name_zh or None,
        description_zh=model.description_zh or None,
    )


def upload_version(
    session: Session, blobs: BlobStore, actor: Actor, model_id: str, stream: BinaryIO, filename: str, meta: VersionMeta
) -> ModelVersionRead:
    """An uploaded ONNX, skops, or safetensors file (with `meta.architecture`) as the next version.
    Pickles and broken files are refused."""
    model_row(session, actor, model_id, Action.write)
    with tempfile.TemporaryDirectory(prefix="aicommons-model-") as workdir:
        path = Path(workdir) / (Path(filename).name or "model")
        spool(stream, path, max_bytes=MAX_UPLOAD_BYTES)
        artifact = inspect_model_file(path, architecture=meta.architecture)
    return register_version(session, blobs, actor, model_id, artifact, meta=meta, operation="upload", parameters={"filename": filename})


def upload_path(session: Session, blobs: BlobStore, actor: Actor, model_id: str, path: Path, meta: VersionMeta) -> ModelVersionRead:
    if not path.is_file():
        raise Invalid(f"{str(path)!r} is not a file.")
    with open(path, "rb") as stream:
        return upload_version(session, blobs, actor, model_id, stream, path.name, meta)


def version_row(session: Session, actor: Actor, version_id: str, action: Action = Action.read) -> ModelVersion:
    version = session.get(ModelVersion, version_id)
    if version is None:
        raise not_found("model version", version_id)
    try:
        model_row(session, actor, version.model_id, action)
    except NotFound:
        raise not_found("model version", version_id) from None
    return version


def get_version(session: Session, actor: Actor, version_id: str) -> ModelVersionRead:
    return ModelVersionRead.model_validate(version_row(session, actor, version_id))


def list_versions(session: Session, actor: Actor, model_id: str) -> list[ModelVersionRead]:
    model_row(session, actor, model_id)
    rows = session.scalars(sa.select(ModelVersion).where(ModelVersion.model_id == model_id).order_by(ModelVersion.number))
    return [ModelVersionRead.model_validate(r) for r in rows]


def resolve_version(session: Session, actor: Actor, model_id: str, ref: str | int | None = None) -> ModelVersionRead:
    """A version by number, by alias (`production`), or the latest."""
    return _resolve(session, model_row(session, actor, model_id), ref)


def resolve_deployed_version(session: Session, model_id: str, ref: str) -> ModelVersionRead:
    """What a deployed endpoint's version reference means now. No actor: the endpoint's own
    permission check has already decided who may call it, and its org could read the model."""
    model = session.get(Model, model_id)
    if model is None:
        raise not_found("model", model_id)
    return _resolve(session, model, ref)


def _resolve(session: Session, model: Model, ref: str | int | None) -> ModelVersionRead:
    if ref is None or ref == "latest":
        ref = model.latest_version
    if isinstance(ref, str) and not ref.isdigit():
        alias = session.get(ModelAlias, (model.id, ref))
        if alias is None:
            raise NotFound(f"Model {model.name!r} has no alias {ref!r}.")
        return ModelVersionRead.model_validate(session.get(ModelVersion, alias.version_id))
    version = session.scalar(sa.select(ModelVersion).where(ModelVersion.model_id == model.id, ModelVersion.number == int(ref)))
    if version is None:
        raise NotFound(f"Model {model.name!r} has no version {ref}." if int(ref) else f"Model {model.name!r} has no versions yet.")
    return ModelVersionRead.model_validate(version)


# --- aliases ----------------------------------------------------------------------------------


def set_alias(session: Session, actor: Actor, model_id: str, alias: str, version_id: str) -> ModelRead:
    """Point `alias` at a version of this model (moving it if it exists); audited."""
    model = model_row(session, actor, model_id, Action.write)
    version = version_row(session, actor, version_id)
    if version.model_id != model.id:
        raise Invalid(f"Version {version_id!r} belongs to another model; an alias points within its model.")
    if alias == "latest":
        raise Invalid("'latest' always means the newest version; choose another alias name.")
    row = session.get(ModelAlias, (model.id, alias))
    before = row.version_id if row else None
    if row is None:
        session.add(ModelAlias(model_id=model.id, name=alias, version_id=version.id))
    else:
        row.version_id, row.updated_at = version.id, utcnow()
    session.flush()
    audit.record(session, actor, "model.alias", KIND, model.id, org_id=model.org_id, detail={"alias": alias, "from": before, "to": version.id})
    return _read(session, model)


def delete_alias(session: Session, actor: Actor, model_id: str, alias: str) -> ModelRead:
    model = model_row(session, actor, model_id, Action.write)
    row = session.get(ModelAlias, (model.id, alias))
    if row is None:
        raise NotFound(f"Model {model.name!r} has no alias {alias!r}.")
    session.delete(row)
    session.flush()
    audit.record(session, actor, "model.alias.delete", KIND, model.id, org_id=model.org_id, detail={"alias": alias, "was": row.version_id})
    return _read(session, model)


# --- cards and artefacts ----------------------------------------------------------------------


def update_card(session: Session, actor: Actor, version_id: str, card: str) -> ModelVersionRead:
    """The owner edits a version's card; it must still parse as a Hugging Face card."""
    version = version_row(session, actor, version_id, Action.write)
    parse_card(card)
    before = {"card": version.card}
    version.card = card
    session.flush()
    audit.record(session, actor, "model.card", "model_version", version.id, org_id=_org_of(session, version), before=before, after={"card": card})
    return ModelVersionRead.model_validate(version)


def _org_of(session: Session, version: ModelVersion) -> str:
    return session.scalar(sa.select(Model.org_id).where(Model.id == version.model_id)) or ""


def get_card(session: Session, actor: Actor, version_id: str) -> str:
    return version_row(session, actor, version_id).card


def artefact(session: Session, actor: Actor, version_id: str, kind: Literal["onnx", "source"]) -> tuple[str, str]:
    """(blob digest, file name) of a version's ONNX file or its source weights."""
    if kind not in ("onnx", "source"):
        raise Invalid(f"The 'kind' parameter of artefact must be 'onnx' or 'source'; got {kind!r} instead.")
    version = version_row(session, actor, version_id)
    model_name = session.scalar(sa.select(Model.name).where(Model.id == version.model_id))
    if kind == "onnx":
        return version.onnx_sha256, f"{model_name}-v{version.number}.onnx"
    if version.source_sha256 is None:
        raise NotFound(f"Version {version_id!r} has no source weights besides its ONNX file.")
    suffix = {"skops": "skops", "safetensors": "safetensors"}.get(version.source_format, "bin")
    return version.source_sha256, f"{model_name}-v{version.number}.{suffix}"


