"""City Brain runs as a service: files as blobs, a run queued as a job and run in this process, its
episodes and summary stored; runs are private to their org; requests that cannot run are refused
before anything is queued; the same through the API."""

from __future__ import annotations

import statistics

import pytest
from datakit import DataKit
from support import assert_db_unchanged, auth, db_state

from aicommons.core.errors import Invalid, NotFound
from aicommons.scenarios.citybrain import runs
from aicommons.scenarios.citybrain.schemas import SUMMARY_METRICS, RunCreate

pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")
pytest.importorskip("sumolib", reason="the citybrain extra (sumolib) is not installed")

DURATION = 120.0  # two simulated minutes keep a seed well under a second on a 2x2 grid


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    return synthetic_grid(tmp_path_factory.mktemp("grid"), size=2, duration=DURATION, vehicles_per_hour=1200, seed=0)


def _spec(net: str, routes: str, **changes) -> RunCreate:
    fields = {"name": "grid", "net_sha256": net, "routes_sha256": routes, "controller": "max-pressure", "seeds": [0, 1], "duration": DURATION}
    return RunCreate(**{**fields, **changes})


def test_a_run_simulates_each_seed_and_summarises_them(runtime, world, grid):
    actor = world.a_member.actor
    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, *grid)
    with runtime.session() as session:
        queued = runs.start_run(session, runtime.blobs, actor, _spec(net_sha256, routes_sha256, params={}))
    assert queued.status == "queued" and queued.id.startswith("cbr") and queued.episodes == [] and queued.summary == {}
    assert queued.timing == {"action_interval": 5.0, "yellow": 3.0, "min_green": 5.0}
    assert queued.kind == "signal-control" and queued.scenario == {}

    job = DataKit(runtime, actor).run(type("Job", (), {"id": queued.job_id}))
    assert job.status == "succeeded", job.error
    assert job.progress == 1.0 and job.result["run_id"] == queued.id

    with runtime.session() as session:
        done = runs.get_run(session, actor, queued.id)
    assert done.status == "succeeded" and done.finished_at is not None
    assert [e["seed"] for e in done.episodes] == [0, 1]
    for episode in done.episodes:
        assert episode["controller"] == "max-pressure" and episode["duration"] == DURATION
        assert episode["average_travel_time"] > 0 and episode["throughput"] > 0 and episode["per_intersection"]
    assert set(done.summary) == set(SUMMARY_METRICS)
    travel = [e["average_travel_time"] for e in done.episodes]
    assert done.summary["average_travel_time"].mean == pytest.approx(statistics.fmean(travel))
    assert done.summary["average_travel_time"].std == pytest.approx(statistics.stdev(travel))

    with runtime.session() as session:
        assert [r.id for r in runs.list_runs(session, actor).items] == [queued.id]
        assert runs.list_runs(session, world.b_member.actor).items == []
        assert [r.id for r in runs.list_runs(session, actor, controller="sotl").items] == []
        assert [r.id for r in runs.list_runs(session, actor, kind="signal-control").items] == [queued.id]
        assert runs.list_runs(session, actor, kind="green-wave").items == []
        with pytest.raises(NotFound):
            runs.get_run(session, world.b_member.actor, queued.id)


def test_runs_that_cannot_run_are_refused_before_anything_is_queued(runtime, world, grid):
    actor = world.a_member.actor
    net_file, route_file = grid
    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, net_file, route_file)
    not_xml = runtime.blobs.put_bytes(b"not a network").sha256
    no_signals = runtime.blobs.put_bytes(b'<net version="1.20"></net>').sha256
    refusals = {
        "Unknown signal controller 'nope'; known:": {"controller": "nope"},
        "Unknown citybrain run kind 'parade'; known:": {"kind": "parade"},
        "A signal-control run takes no scenario parameters; got": {"scenario": {"route": "e1"}},
        "Bad parameters for controller 'max-pressure'": {"params": {"no_such_knob": 1}},
        "names no stored file": {"routes_sha256": "0" * 64},
        "not a readable SUMO .net.xml": {"net_sha256": not_xml},
        "no signalised junction": {"net_sha256": no_signals},
        "duration must be 60 to 86400": {"duration": 30},
        "seeds must list 1 to 10": {"seeds": list(range(11))},
        "seeds must not repeat": {"seeds": [1, 1]},
    }
    before = db_state(runtime)
    for message, changes in refusals.items():
        with runtime.session() as session, pytest.raises(Invalid, match=message.replace("(", r"\(").replace(".", r"\.")) as refused:
            runs.start_run(session, runtime.blobs, actor, _spec(net_sha256, routes_sha256, **changes))
        if changes.get("controller") == "nope":
            assert "max-pressure" in str(refused.value) and "fixed-time" in str(refused.value)
    assert_db_unchanged(before, db_state(runtime))


def test_the_api_uploads_files_runs_and_reads_a_run(runtime, world, client, grid):
    net_file, route_file = grid
    headers = auth(world.a_member)
    uploaded = {}
    for key, path in (("net", net_file), ("routes", route_file)):
        response = client.post("/api/v1/citybrain/files", files={"file": (path.name, path.read_bytes())}, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["size"] == path.stat().st_size
        uploaded[key] = response.json()["sha256"]
    assert client.post("/api/v1/citybrain/files", files={"file": ("empty.xml", b"")}, headers=headers).status_code == 422
    assert client.post("/api/v1/citybrain/files", files={"file": ("x.xml", b"<x/>")}).status_code == 401

    names = [c["name"] for c in client.get("/api/v1/citybrain/controllers", headers=headers).json()]
    assert {"fixed-time", "max-pressure", "sotl", "webster"} <= set(names)

    body = {"net_sha256": uploaded["net"], "routes_sha256": uploaded["routes"], "controller": "fixed-time", "seeds": [3], "duration": DURATION,
            "timing": {"action_interval": 5, "yellow": 2, "min_green": 10}}
    before = db_state(runtime)
    refused = client.post("/api/v1/citybrain/runs", json={**body, "controller": "nope"}, headers=headers)
    assert refused.status_code == 422 and "max-pressure" in refused.text
    assert_db_unchanged(before, db_state(runtime))

    created = client.post("/api/v1/citybrain/runs", json=body, headers=headers)
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["status"] == "queued" and run["timing"] == {"action_interval": 5.0, "yellow": 2.0, "min_green": 10.0}
    job = DataKit(runtime, world.a_member.actor).run(type("Job", (), {"id": run["job_id"]}))
    assert job.status == "succeeded", job.error

    read = client.get(f"/api/v1/citybrain/runs/{run['id']}", headers=headers)
    assert read.status_code == 200
    assert read.json()["status"] == "succeeded" and [e["seed"] for e in read.json()["episodes"]] == [3]
    assert read.json()["summary"]["throughput"]["std"] == 0.0
    listed = client.get("/api/v1/citybrain/runs", headers=headers).json()
    assert [r["id"] for r in listed["items"]] == [run["id"]]
    assert client.get(f"/api/v1/citybrain/runs/{run['id']}", headers=auth(world.b_member)).status_code == 404
    assert client.get("/api/v1/citybrain/runs", headers=auth(world.b_member)).json()["items"] == []


def test_a_run_that_sumo_cannot_load_fails_with_the_reason(runtime, world, grid):
    actor = world.a_member.actor
    net_sha256, _ = runs.store_network(runtime.blobs, *grid)
    bad_routes = runtime.blobs.put_bytes(b"<routes><vehicle id='v' depart='0' route='nowhere'/></routes>").sha256
    with runtime.session() as session:
        queued = runs.start_run(session, runtime.blobs, actor, _spec(net_sha256, bad_routes, seeds=[0]))
    job = DataKit(runtime, actor).run(type("Job", (), {"id": queued.job_id}))
    assert job.status == "failed" and "SUMO could not load" in job.error
    with runtime.session() as session:
        failed = runs.get_run(session, actor, queued.id)
    assert failed.status == "failed" and "SUMO could not load" in failed.message and failed.finished_at is None and failed.summary == {}
