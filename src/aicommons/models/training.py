"""Training as a job: a recipe on a dataset version, registered as a model version with lineage."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from aicommons import data
from aicommons.core.errors import Invalid
from aicommons.core.jobs import JobContext, job_type, submit_job
from aicommons.core.permissions import Action, Actor
from aicommons.core.schemas import JobRead, JobSubmit
from aicommons.core.blobs import BlobStore
from aicommons.models.artifacts import Artifact, signature_of
from aicommons.models.hub import model_row, register_version
from aicommons.models.recipes import Checkpoint, RecipeRun, Trained, recipes
from aicommons.models.schemas import ModelVersionRead, VersionMeta


class TrainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_version_id: str = Field(max_length=40)
    recipe: str = Field(max_length=60)
    seed: int = Field(0, ge=0, le=2**31)
    params: dict[str, float | int | str] = Field(default_factory=dict, max_length=30)


class TrainJobParams(TrainParams):
    model_id: str = Field(max_length=40)


def start_training(session: Session, actor: Actor, model_id: str, spec: TrainParams) -> JobRead:
    model = model_row(session, actor, model_id, Action.write)
    recipe = recipes.get(spec.recipe)
    if recipe.task != model.task:
        raise Invalid(f"Recipe {spec.recipe!r} trains {recipe.task} models; model {model.name!r} is {model.task}.")
    data.get_version(session, actor, spec.dataset_version_id)  # readable, or NotFound now
    params = TrainJobParams(model_id=model_id, **spec.model_dump())
    return submit_job(session, actor, JobSubmit(type="models.train", params=params.model_dump(mode="json")))


@job_type("models.train", params=TrainJobParams)
def run_training(ctx: JobContext, params: TrainJobParams) -> dict[str, Any]:
    if done := ctx.state.get("result"):
        return done
    with ctx.runtime.session() as session:
        table = data.read_version_table(session, data.manifest_cache(ctx.runtime), ctx.actor, params.dataset_version_id)
    resume = _saved_checkpoint(ctx)
    ctx.log(f"training {params.recipe} on {table.num_rows} records (seed {params.seed})" + (f", resuming at {resume.state}" if resume else ""))
    run = RecipeRun(
        table=table, params=params.params, seed=params.seed, progress=lambda f, m: ctx.progress(0.05 + 0.85 * f, m),
        blobs=ctx.runtime.blobs, save_checkpoint=lambda c: _save_checkpoint(ctx, c), resume_from=resume,
    )
    trained = recipes.get(params.recipe).train(run)
    ctx.log(f"test metrics: {trained.metrics}")
    state: dict[str, Any] = {}
    with ctx.step(state) as session:
        version = register_trained(
            session, ctx.runtime.blobs, ctx.actor, params.model_id, trained,
            dataset_version_ids=[params.dataset_version_id], operation="train",
            parameters={"recipe": params.recipe, "seed": params.seed, **params.params}, job_id=ctx.job_id,
        )
        state["result"] = {"version_id": version.id, "number": version.number, "metrics": trained.metrics}
    return state["result"]


def register_trained(
    session: Session,
    blobs: BlobStore,
    actor: Actor,
    model_id: str,
    trained: Trained,
    *,
    dataset_version_ids: list[str],
    operation: str,
    parameters: dict[str, Any],
    job_id: str | None,
    parent_version_id: str | None = None,
) -> ModelVersionRead:
    """A recipe's (or a compression's) output as the model's next version, its files as blobs."""
    files = {name: blobs.put_bytes(content).sha256 for name, content in sorted(trained.files.items())}
    artifact = Artifact(
        source_format=trained.source_format, onnx_bytes=trained.onnx_bytes, signature=signature_of(trained.onnx_bytes),
        source_bytes=trained.source_bytes, framework=trained.framework,
        details={**trained.details, **({"files": files} if files else {})},
    )
    meta = VersionMeta(metrics=trained.metrics, dataset_version_ids=dataset_version_ids, preprocessing=trained.preprocessing)
    return register_version(
        session, blobs, actor, model_id, artifact, meta=meta, operation=operation, parameters=parameters,
        parent_version_id=parent_version_id, job_id=job_id,
    )


def _saved_checkpoint(ctx: JobContext) -> Checkpoint | None:
    saved = ctx.state.get("checkpoint")
    if not saved or not ctx.runtime.blobs.exists(saved["weights"]):
        return None
    return Checkpoint(state=saved["state"], weights=ctx.runtime.blobs.read_bytes(saved["weights"]))


def _save_checkpoint(ctx: JobContext, checkpoint: Checkpoint) -> None:
    """Weights to the blob store first, then the job's state names them: a crash between the two
    leaves an unreferenced blob, never a state pointing at nothing."""
    weights = ctx.runtime.blobs.put_bytes(checkpoint.weights).sha256
    ctx.checkpoint({"checkpoint": {"state": checkpoint.state, "weights": weights}})
