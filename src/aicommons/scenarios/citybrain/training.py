"""Training a learned signal controller as a job, saved as a version in the model hub.

`start_training` checks the request and queues a "citybrain.train" job; nothing is queued (and no
model created) for a request that cannot run: files not stored, a network with no signalised
junction, episodes or durations out of range, a model the actor may not write or that is not a
signal-control model. The model is the one named by id, or the actor's organisation's model of that
name, created (task "signal-control") when it has none.

The job trains on the stored network and routes (`learning.train_policy`, DQN with one phase scorer
shared by every intersection), reporting progress after every episode. It then runs one greedy
episode of the trained policy through its ONNX (exactly what a run of controller "learned" does)
and one of fixed time, both on seed `seed + episodes` (a seed no training episode used) and with
the same timing, and registers the next version of the model: the ONNX as the artefact, the
safetensors weights as its source, operation "train", lineage parameters (the network's and routes'
digests, the timing, episodes, episode duration, seed and hyperparameters), the per-episode history
in its details and the two evaluation episodes' travel times in its metrics. A job that restarts
trains again from the start; with the same seed it reaches the same weights.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sqlalchemy.orm import Session

from aicommons import data
from aicommons.core import audit
from aicommons.core.errors import Invalid, NotFound, not_found
from aicommons.core.jobs import JobContext, get_job, job_type, submit_job
from aicommons.core.permissions import Action, Actor
from aicommons.core.runtime import Runtime
from aicommons.core.schemas import JobRead, JobSubmit, Schema
from aicommons.models.artifacts import Artifact, signature_of
from aicommons.models.hub import create_model, find_model, model_row, register_version
from aicommons.models.schemas import ModelCreate, Task, VersionMeta
from aicommons.scenarios.citybrain import runs
from aicommons.scenarios.citybrain.controllers import Timing
from aicommons.scenarios.citybrain.learning import (
    FEATURES,
    Hyperparameters,
    LearnedController,
    train_policy,
)
from aicommons.scenarios.citybrain.network_datasets import dataset_scenario
from aicommons.scenarios.citybrain.schemas import Sha256, TimingSpec

KIND = "citybrain training"
JOB_TYPE = "citybrain.train"
MAX_EPISODES = 200
MIN_EPISODE_DURATION, MAX_EPISODE_DURATION = 60.0, 14_400.0


class TrainingCreate(Schema):
    net_sha256: Sha256 | None = Field(None, description="The SUMO .net.xml, uploaded with POST /citybrain/files (or give dataset_version_id).")
    routes_sha256: Sha256 | None = Field(None, description="The SUMO .rou.xml, uploaded with POST /citybrain/files (or give dataset_version_id).")
    dataset_version_id: Annotated[str, StringConstraints(max_length=40)] | None = Field(
        None, description="A traffic dataset version to train on instead of uploaded files; it becomes the model version's training data."
    )
    scenario: Annotated[str, StringConstraints(max_length=500)] | None = Field(
        None, description="Which of the dataset version's scenarios (routes files) to train on; the first by name when not given."
    )
    model: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = Field(
        description="A model id (mdl_…) you may write, or a name: your organisation's model of that name, created (task signal-control) if there is none."
    )
    episodes: int = Field(10, description=f"Training episodes, 1 to {MAX_EPISODES}.")
    episode_duration: float = Field(3600.0, description=f"Simulated seconds per episode, {MIN_EPISODE_DURATION:g} to {MAX_EPISODE_DURATION:g}.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seeds torch, exploration and SUMO: the same seed gives the same weights.")
    demonstration_episodes: int = Field(1, ge=0, description="Leading episodes driven by max pressure (a warm start); fewer than episodes.")
    timing: TimingSpec = Field(default_factory=TimingSpec)


class TrainingJobParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_id: str = Field(max_length=40)
    net_sha256: str = Field(max_length=64)
    routes_sha256: str = Field(max_length=64)
    dataset_version_id: str | None = Field(None, max_length=40)
    scenario: str | None = Field(None, max_length=500)
    episodes: int
    episode_duration: float
    seed: int
    demonstration_episodes: int
    timing: dict[str, float]


def start_training(session: Session, runtime: Runtime, actor: Actor, spec: TrainingCreate) -> JobRead:
    """Check the request and queue its job; refuse before queueing (or creating a model) anything that cannot run."""
    _check_range(spec)
    net_sha256, routes_sha256, scenario = _training_files(session, runtime, actor, spec)
    runs.check_files(runtime.blobs, net_sha256, routes_sha256)
    model_id = _writable_model(session, actor, spec.model)
    params = TrainingJobParams(
        model_id=model_id, net_sha256=net_sha256, routes_sha256=routes_sha256, dataset_version_id=spec.dataset_version_id,
        scenario=scenario, episodes=spec.episodes,
        episode_duration=spec.episode_duration, seed=spec.seed, demonstration_episodes=spec.demonstration_episodes,
        timing=spec.timing.model_dump(),
    )
    job = submit_job(session, actor, JobSubmit(type=JOB_TYPE, params=params.model_dump(mode="json")))
    audit.record(
        session, actor, "citybrain.train", KIND, job.id, org_id=actor.org_id,
        detail={"model_id": model_id, "episodes": spec.episodes, "seed": spec.seed, "net_sha256": net_sha256, "routes_sha256": routes_sha256,
                "dataset_version_id": spec.dataset_version_id, "scenario": scenario},
    )
    return job


def _training_files(session: Session, runtime: Runtime, actor: Actor, spec: TrainingCreate) -> tuple[str, str, str | None]:
    """(network, routes, scenario name): the uploaded files, or a scenario of a traffic dataset version the actor may read."""
    if spec.dataset_version_id is None:
        if spec.net_sha256 is None or spec.routes_sha256 is None or spec.scenario is not None:
            raise Invalid("Give net_sha256 and routes_sha256 (uploaded files), or dataset_version_id (and optionally scenario) of a traffic dataset.")
        return spec.net_sha256, spec.routes_sha256, None
    if spec.net_sha256 is not None or spec.routes_sha256 is not None:
        raise Invalid("Give either dataset_version_id or net_sha256 and routes_sha256, not both.")
    chosen = dataset_scenario(session, data.manifest_cache(runtime), actor, spec.dataset_version_id, spec.scenario)
    return chosen.net_sha256, chosen.routes_sha256, chosen.name


def get_training(session: Session, actor: Actor, job_id: str) -> JobRead:
    """A training job; when it has finished, its result names the model version and holds the history."""
    job = get_job(session, actor, job_id)
    if job.type != JOB_TYPE:
        raise not_found(KIND, job_id)
    return job


def _check_range(spec: TrainingCreate) -> None:
    if not 1 <= spec.episodes <= MAX_EPISODES:
        raise Invalid(f"episodes must be 1 to {MAX_EPISODES}; got {spec.episodes!r}.")
    if not MIN_EPISODE_DURATION <= spec.episode_duration <= MAX_EPISODE_DURATION:
        raise Invalid(f"episode_duration must be {MIN_EPISODE_DURATION:g} to {MAX_EPISODE_DURATION:g} simulated seconds; got {spec.episode_duration!r}.")
    if spec.demonstration_episodes >= spec.episodes:
        raise Invalid(f"demonstration_episodes must be fewer than episodes ({spec.episodes}), so the network also learns on its own; got {spec.demonstration_episodes!r}.")


def _writable_model(session: Session, actor: Actor, reference: str) -> str:
    """The id of the signal-control model to train a version of; created when a name finds none of the actor's org."""
    if reference.startswith("mdl_"):
        model = model_row(session, actor, reference, Action.write)  # NotFound when invisible, Forbidden when read-only
        task = model.task
        model_id = model.id
    else:
        try:
            found = find_model(session, actor, reference)
        except NotFound:
            found = None
        if found is None or found.org_id != actor.org_id:
            return create_model(session, actor, ModelCreate(name=reference, task=Task.signal_control)).id
        model_row(session, actor, found.id, Action.write)
        task, model_id = found.task, found.id
    if task != Task.signal_control:
        raise Invalid(f"Model {reference!r} is a {Task(task).value} model; a trained signal controller needs a signal-control model.")
    return model_id


@job_type(JOB_TYPE, params=TrainingJobParams)
def run_training(ctx: JobContext, params: TrainingJobParams) -> dict[str, Any]:
    """Train, evaluate the greedy policy beside fixed time, and register the model version."""
    if done := ctx.state.get("result"):
        return done
    from aicommons.scenarios.citybrain.controllers import FixedTime
    from aicommons.scenarios.citybrain.simulation import run_episode

    timing = Timing(**params.timing)
    hyperparameters = Hyperparameters(demonstration_episodes=params.demonstration_episodes)
    evaluation_seed = params.seed + params.episodes

    def progress(fraction: float, message: str) -> None:
        ctx.log(message)
        ctx.progress(0.02 + 0.83 * fraction, message)

    with tempfile.TemporaryDirectory(prefix="citybrain-train-") as scratch:
        ctx.progress(0.01, "materialising the network and routes")
        net_file, route_file = runs.materialise(ctx.runtime.blobs, params.net_sha256, params.routes_sha256, Path(scratch))
        policy = train_policy(
            net_file, route_file, episodes=params.episodes, episode_duration=params.episode_duration, seed=params.seed,
            timing=timing, hyperparameters=hyperparameters, progress=progress,
        )
        ctx.progress(0.86, f"evaluating the trained policy on seed {evaluation_seed}")
        learned = run_episode(net_file, route_file, LearnedController(onnx_bytes=policy.onnx), timing=timing, seed=evaluation_seed, duration=params.episode_duration)
        ctx.progress(0.93, f"fixed time on seed {evaluation_seed}, for comparison")
        fixed = run_episode(net_file, route_file, FixedTime(), timing=timing, seed=evaluation_seed, duration=params.episode_duration)
    metrics = {
        "average_travel_time": learned.average_travel_time,
        "throughput": float(learned.throughput),
        "average_queue": learned.average_queue,
        "average_delay": learned.average_delay,
        "fixed_time_average_travel_time": fixed.average_travel_time,
    }
    artifact = Artifact(
        source_format="safetensors", onnx_bytes=policy.onnx, signature=signature_of(policy.onnx), source_bytes=policy.weights,
        framework="pytorch", details={
            "controller": "learned", "features": list(FEATURES), "history": policy.history, "evaluation_seed": evaluation_seed,
            "training_wall_seconds": policy.wall_seconds,
        },
    )
    lineage = {
        "network_sha256": params.net_sha256, "routes_sha256": params.routes_sha256, "episodes": params.episodes,
        "episode_duration": params.episode_duration, "seed": params.seed, "timing": dataclasses.asdict(timing),
        "hyperparameters": policy.hyperparameters, "scenario": params.scenario,
    }
    state: dict[str, Any] = {}
    with ctx.step(state) as session:
        version = register_version(
            session, ctx.runtime.blobs, ctx.actor, params.model_id, artifact,
            meta=VersionMeta(metrics=metrics, dataset_version_ids=[params.dataset_version_id] if params.dataset_version_id else []),
            operation="train", parameters=lineage, job_id=ctx.job_id,
        )
        state["result"] = {
            "model_id": params.model_id, "version_id": version.id, "number": version.number, "metrics": metrics, "history": policy.history,
        }
    ctx.progress(
        1.0, f"version {version.number}: travel time {learned.average_travel_time:.1f} s (fixed time {fixed.average_travel_time:.1f} s) on seed {evaluation_seed}"
    )
    return state["result"]
