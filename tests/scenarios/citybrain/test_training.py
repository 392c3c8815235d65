"""Training a learned controller as a job into the model hub, and running it as a City Brain run:
the version carries lineage, weights and metrics; a run of controller "learned" names a hub model
and resolves it with the actor's permission; requests that cannot run are refused before anything
is queued; the same through the API and the CLI."""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa
from datakit import DataKit
from support import assert_db_unchanged, auth, db_state

from aicommons.core import jobs
from aicommons.core.errors import Invalid, NotFound
from aicommons.core.jobs.worker import WorkerLoop
from aicommons.core.tables import AuditEntry
from aicommons.models import hub
from aicommons.models.schemas import ModelCreate, Task
from aicommons.scenarios.citybrain import runs, training
from aicommons.scenarios.citybrain.learning import FEATURES
from aicommons.scenarios.citybrain.schemas import RunCreate
from aicommons.scenarios.citybrain.training import TrainingCreate

pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")
pytest.importorskip("torch", reason="training needs torch")

DURATION = 120.0  # two episodes of two simulated minutes on a 2x2 grid train in about a second


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    return synthetic_grid(tmp_path_factory.mktemp("grid"), size=2, duration=DURATION, vehicles_per_hour=1200, seed=0)


def _training(net: str, routes: str, **changes) -> TrainingCreate:
    return TrainingCreate(**{"net_sha256": net, "routes_sha256": routes, "model": "grid-policy", "episodes": 2, "episode_duration": DURATION, **changes})


def test_training_registers_a_hub_version_and_runs_use_it(runtime, world, grid):
    actor = world.a_member.actor
    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, *grid)
    with runtime.session() as session:
        queued = training.start_training(session, runtime, actor, _training(net_sha256, routes_sha256, seed=3))
        model = hub.find_model(session, actor, "grid-policy")  # created by the request, in the actor's org
    assert queued.type == "citybrain.train" and queued.status == "queued" and queued.params["model_id"] == model.id
    assert model.task == Task.signal_control and model.org_id == world.org_a
    with runtime.session() as session:
        actions = set(session.scalars(sa.select(AuditEntry.action).where(AuditEntry.resource_id.in_([queued.id, model.id]))))
    assert {"model.create", "job.submit", "citybrain.train"} <= actions

    job = DataKit(runtime, actor).run(queued)
    assert job.status == "succeeded", job.error
    assert job.progress == 1.0
    with runtime.session() as session:
        log = jobs.read_logs(session, runtime.blobs, actor, job.id)
    assert "episode 1/2 (max-pressure demonstration)" in log and "episode 2/2" in log  # progress reported per episode
    result = job.result
    assert [h["episode"] for h in result["history"]] == [1, 2]
    with runtime.session() as session:
        version = hub.get_version(session, actor, result["version_id"])
    assert version.model_id == model.id and version.number == 1 and version.operation == "train" and version.job_id == job.id
    assert version.framework == "pytorch" and version.source_format == "safetensors" and version.source_sha256
    assert version.signature["inputs"][0]["name"] == "phase_features" and version.signature["inputs"][0]["shape"][1] == len(FEATURES)
    assert version.parameters["network_sha256"] == net_sha256 and version.parameters["routes_sha256"] == routes_sha256
    assert version.parameters["seed"] == 3 and version.parameters["episodes"] == 2 and version.parameters["hyperparameters"]["gamma"] == 0.8
    assert version.metrics["average_travel_time"] > 0 and version.metrics["fixed_time_average_travel_time"] > 0
    assert version.details["history"] == result["history"]

    # A second training of the same name trains the next version of the same model.
    with runtime.session() as session:
        again = training.start_training(session, runtime, actor, _training(net_sha256, routes_sha256, seed=3))
    assert again.params["model_id"] == model.id
    second = DataKit(runtime, actor).run(again)
    assert second.status == "succeeded" and second.result["number"] == 2
    with runtime.session() as session:
        same = hub.get_version(session, actor, second.result["version_id"])
    assert same.onnx_sha256 == version.onnx_sha256  # the same seed on the same files: the same policy

    with runtime.session() as session:
        run = runs.start_run(session, runtime.blobs, actor, RunCreate(
            net_sha256=net_sha256, routes_sha256=routes_sha256, controller="learned", params={"model": "grid-policy@1"}, duration=DURATION,
        ))  # fmt: skip
    assert run.params == {"model": "grid-policy@1", "model_id": model.id, "version_id": version.id, "version": 1, "onnx_sha256": version.onnx_sha256}
    ran = DataKit(runtime, actor).run(type("Job", (), {"id": run.job_id}))
    assert ran.status == "succeeded", ran.error
    with runtime.session() as session:
        done = runs.get_run(session, actor, run.id)
    assert done.episodes[0]["controller"] == "learned" and done.episodes[0]["average_travel_time"] > 0


def test_requests_that_cannot_run_are_refused_before_anything_is_queued(runtime, world, grid):
    actor = world.a_member.actor
    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, *grid)
    with runtime.session() as session:
        other = hub.create_model(session, world.b_member.actor, ModelCreate(name="b-policy", task=Task.signal_control))
        tabular = hub.create_model(session, actor, ModelCreate(name="a-tabular", task=Task.tabular_classification))
        empty = hub.create_model(session, actor, ModelCreate(name="a-empty", task=Task.signal_control))
    before = db_state(runtime)
    trainings = {
        "episodes must be 1 to 200": (Invalid, {"episodes": 0}),
        "episodes must be 1 to 200; got 500": (Invalid, {"episodes": 500}),
        "episode_duration must be 60 to 14400": (Invalid, {"episode_duration": 10.0}),
        "demonstration_episodes must be fewer than episodes": (Invalid, {"demonstration_episodes": 2}),
        "names no stored file": (Invalid, {"routes_sha256": "0" * 64}),
        "is a tabular-classification model": (Invalid, {"model": tabular.id}),
        f"No model with id {other.id!r}": (NotFound, {"model": other.id}),
    }
    for message, (error, changes) in trainings.items():
        with runtime.session() as session, pytest.raises(error, match=re.escape(message)):
            training.start_training(session, runtime, actor, _training(net_sha256, routes_sha256, **changes))
    run_params = {
        "takes params {\"model\"": (Invalid, {"onnx_path": "/etc/passwd"}),
        "'no-such-policy'": (NotFound, {"model": "no-such-policy@1"}),
        f"No model with id {other.id!r}": (NotFound, {"model": f"{other.id}@1"}),
        "needs a signal-control model": (Invalid, {"model": "a-tabular"}),
        "has no versions yet": (NotFound, {"model": f"{empty.id}"}),
        "has no alias 'production'": (NotFound, {"model": "a-empty@production"}),
    }
    for message, (error, params) in run_params.items():
        spec = RunCreate(net_sha256=net_sha256, routes_sha256=routes_sha256, controller="learned", params=params, duration=DURATION)
        with runtime.session() as session, pytest.raises(error, match=re.escape(message)):
            runs.start_run(session, runtime.blobs, actor, spec)
    assert_db_unchanged(before, db_state(runtime))


def test_the_api_trains_reads_the_training_and_runs_the_policy(runtime, world, client, grid):
    headers = auth(world.a_member)
    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, *grid)
    body = {"net_sha256": net_sha256, "routes_sha256": routes_sha256, "model": "api-policy", "episodes": 2, "episode_duration": DURATION}
    before = db_state(runtime)
    refused = client.post("/api/v1/citybrain/training", json={**body, "episodes": 0}, headers=headers)
    assert refused.status_code == 422 and "episodes must be 1 to 200" in refused.text
    with runtime.session() as session:
        other = hub.create_model(session, world.b_member.actor, ModelCreate(name="b-policy", task=Task.signal_control))
    before = db_state(runtime)
    hidden = client.post("/api/v1/citybrain/training", json={**body, "model": other.id}, headers=headers)
    assert hidden.status_code == 404 and other.id in hidden.text
    assert_db_unchanged(before, db_state(runtime))

    created = client.post("/api/v1/citybrain/training", json=body, headers=headers)
    assert created.status_code == 201, created.text
    job = created.json()
    assert job["type"] == "citybrain.train" and job["status"] == "queued"
    assert DataKit(runtime, world.a_member.actor).run(type("Job", (), {"id": job["id"]})).status == "succeeded"
    read = client.get(f"/api/v1/citybrain/training/{job['id']}", headers=headers)
    assert read.status_code == 200 and read.json()["result"]["number"] == 1 and len(read.json()["result"]["history"]) == 2
    assert client.get(f"/api/v1/citybrain/training/{job['id']}", headers=auth(world.b_member)).status_code == 404

    model_id = job["params"]["model_id"]
    run_body = {"net_sha256": net_sha256, "routes_sha256": routes_sha256, "controller": "learned", "params": {"model": f"{model_id}@latest"}, "duration": DURATION}
    assert client.post("/api/v1/citybrain/runs", json=run_body, headers=auth(world.b_member)).status_code == 404  # B cannot read A's private model
    assert client.post("/api/v1/citybrain/runs", json={**run_body, "params": {"model": "missing-policy"}}, headers=headers).status_code == 404
    started = client.post("/api/v1/citybrain/runs", json=run_body, headers=headers)
    assert started.status_code == 201, started.text
    assert started.json()["params"]["version_id"] == read.json()["result"]["version_id"]
    assert DataKit(runtime, world.a_member.actor).run(type("Job", (), {"id": started.json()["job_id"]})).status == "succeeded"
    episodes = client.get(f"/api/v1/citybrain/runs/{started.json()['id']}", headers=headers).json()["episodes"]
    assert episodes[0]["controller"] == "learned"


def test_the_cli_trains_with_a_progress_bar(runtime, member_cli, grid):
    net_file, route_file = grid
    refused = member_cli("citybrain", "train", "--network", str(net_file), "--routes", str(route_file), "--model", "cli-policy", "--episodes", "0")
    assert refused.exit_code == 2 and "episodes must be 1 to 200" in refused.output, refused.output

    loop, stop = WorkerLoop(runtime, "cli-citybrain-train"), threading.Event()
    loop.announce()
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        followed = member_cli("citybrain", "train", "--network", str(net_file), "--routes", str(route_file), "--model", "cli-policy",
                              "--episodes", "2", "--episode-duration", str(DURATION), "--seed", "1")
    finally:
        stop.set()
        thread.join(10)
    assert followed.exit_code == 0, followed.output
    assert "100.0%" in followed.output and "Training episodes" in followed.output and "version 1" in followed.output, followed.output
