"""A learned signal controller goes through the lifecycle like any other algorithm: its road network
and demand are a traffic dataset (imported in SUMO format), it is trained on a version of it (the
version is its lineage), evaluated by the signal-control tests in real SUMO simulations, filed,
graded by the signal-control policy, approved, and listed in the public registry."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from datakit import DataKit, zip_bytes
from filingkit import FilingKit, new_person
from support import assert_db_unchanged, auth, db_state

from aicommons import data, evaluation, filing, models
from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain import training
from aicommons.scenarios.citybrain.training import TrainingCreate

pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")
pytest.importorskip("torch", reason="training needs torch")

DURATION = 120  # simulated seconds per episode on a 2x2 grid: each test's simulations take a second or two
FAST = {
    "signal-performance": {"seeds": 1, "duration": DURATION},
    "signal-robustness": {"seeds": 1, "duration": DURATION, "severities": [0.5, 1]},
    "signal-safety": {"seeds": 1, "duration": DURATION},
    "signal-efficiency": {"duration": DURATION},
}


@pytest.fixture(scope="module")
def grid_files(tmp_path_factory):
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    net_file, route_file = synthetic_grid(tmp_path_factory.mktemp("grid"), size=2, duration=DURATION, vehicles_per_hour=1200, seed=0)
    return net_file.read_bytes(), route_file.read_bytes()


@pytest.fixture
def traffic(runtime, world, grid_files):
    """Org A's traffic dataset: one network and its peak-hour routes, imported from a zip."""
    kit = DataKit(runtime, world.a_member.actor)
    dataset = kit.dataset("grid-traffic", "traffic")
    net, routes = grid_files
    version = kit.imported(dataset.id, "grid.zip", zip_bytes({"grid/grid.net.xml": net, "grid/peak.rou.xml": routes}))
    return kit, dataset, version


def _trained(runtime, actor, dataset_version_id):
    with runtime.session() as session:
        job = training.start_training(session, runtime, actor, TrainingCreate(
            model="grid-policy", dataset_version_id=dataset_version_id, episodes=2, episode_duration=DURATION, demonstration_episodes=1))
    done = DataKit(runtime, actor).run(job)
    assert done.status == "succeeded", done.error
    with runtime.session() as session:
        return models.get_version(session, actor, done.result["version_id"])


def test_a_sumo_folder_imports_as_a_traffic_dataset_of_scenarios(traffic):
    kit, _, version = traffic
    records = kit.records(version.id).items
    by_role = {r["role"]: r for r in records}
    assert sorted(by_role) == ["network", "routes"] and version.record_count == 2
    assert by_role["network"]["intersections"] == 4 and by_role["network"]["file_name"] == "grid/grid.net.xml"
    assert by_role["routes"]["scenario"] == "grid/peak" and by_role["routes"]["network"] == "grid/grid.net.xml"
    assert by_role["routes"]["vehicles"] > 10


def test_uploads_that_hold_no_scenario_are_refused_naming_the_file(runtime, world, grid_files, traffic):
    kit, dataset, _ = traffic
    net, routes = grid_files
    cases = {
        "lonely.zip": ({"a/peak.rou.xml": routes, "b/grid.net.xml": net}, "a/peak.rou.xml has no network beside it"),
        "empty-routes.zip": ({"grid.net.xml": net, "none.rou.xml": b"<routes></routes>"}, "none.rou.xml schedules no vehicle"),
        "broken.zip": ({"grid.net.xml": b"<net><edge", "peak.rou.xml": routes}, "grid.net.xml is not a readable SUMO network"),
    }
    for name, (entries, message) in cases.items():
        job = kit.run(kit.upload(dataset.id, name, zip_bytes(entries)))
        assert job.status == "failed" and message in job.error, (name, job.error)
    # a failed import writes no version: the dataset still has only the first one
    with runtime.session() as session:
        assert [v.number for v in data.list_versions(session, world.a_member.actor, dataset.id)] == [1]


def test_a_controller_trained_on_a_traffic_dataset_is_evaluated_filed_and_registered(runtime, world, traffic):
    kit, _, dataset_version = traffic
    applicant = world.a_member.actor
    version = _trained(runtime, applicant, dataset_version.id)
    assert version.dataset_version_ids == [dataset_version.id] and version.parameters["scenario"] == "grid/peak"

    # an evaluation: the signal-control suite runs real simulations; a classifier's test is skipped, saying why
    with runtime.session() as session:
        run = evaluation.start_evaluation(session, applicant, evaluation.EvaluationCreate(
            version_id=version.id, suite="signal-control",
            tests=[evaluation.TestRequest(name=name, params=params) for name, params in FAST.items()] + [evaluation.TestRequest(name="accuracy")]))
    assert run.dataset_version_id == dataset_version.id  # the training data, from the lineage
    kit.run(SimpleNamespace(id=run.job_id))
    with runtime.session() as session:
        finished = evaluation.get_evaluation(session, applicant, run.id)
    assert finished.status == "succeeded", finished.message
    results = {r.name: r for r in finished.results}
    assert {n: results[n].status in ("passed", "failed") for n in FAST} == dict.fromkeys(FAST, True)
    assert results["accuracy"].status == "skipped" and "examines classifiers on records" in results["accuracy"].notes[0]
    performance = results["signal-performance"].metrics
    assert performance["fixed_time_travel_time"] > 0 and performance["max_pressure_travel_time"] > 0
    assert performance["improvement_over_fixed_time"] == pytest.approx(1 - performance["average_travel_time"] / performance["fixed_time_travel_time"])
    assert set(performance["per_scenario"]) == {"grid/peak"} and "travel-time" in results["signal-performance"].charts
    robustness = results["signal-robustness"].metrics
    assert set(robustness["relative_increase"]) == {"detector-dropout", "count-noise"}
    assert set(robustness["relative_increase"]["detector-dropout"]) == {"0.5", "1"}  # a whole severity is named as typed
    assert robustness["worst_relative_increase"] >= robustness["mean_relative_increase"]
    safety = results["signal-safety"].metrics
    assert safety["max_delay_s"] >= safety["p95_delay_s"] > 0 and safety["teleports"] >= 0
    assert results["signal-efficiency"].metrics["decisions"] > 0 and results["signal-efficiency"].metrics["decision_ms_p95"] > 0
    assert finished.reproducibility["scenarios"] == ["grid/peak"] and finished.reproducibility["dataset_version_id"] == dataset_version.id

    # filing: the signal-control filing suite, graded by the signal-control policy, approved into the registry
    reviewer = new_person(runtime, world, "reviewer@operator.test", world.operator.actor.org_id, reviewer=True)
    application = {
        "version_id": version.id, "provider": "Org A Traffic", "service_form": "api", "application_field": "adaptive traffic signal control",
        "algorithm_type": "decision", "self_assessment": "Simulated against fixed time and max pressure.",
        "public_content": "Chooses the next green phase at signalised junctions.", "intended_use": "Signals on a 2x2 grid, with engineers on call.",
        "contact": "traffic@a.test", "evaluation_params": FAST,
    }
    with runtime.session() as session:
        draft = filing.create_filing(session, applicant, filing.FilingCreate(**application))
        evidence = filing.attach_evidence(session, runtime.blobs, applicant, draft.id, io.BytesIO(b"fallback plan"), "fallback.txt", "text/plain")
        filing.update_filing(session, applicant, draft.id, filing.FilingUpdate(answers=FilingKit.answers(evidence.sha256)))
        submitted = filing.submit_filing(session, applicant, draft.id)
        run = evaluation.get_evaluation(session, applicant, submitted.evaluation_id)
    assert run.suite == "signal-control-filing"
    kit.run(SimpleNamespace(id=run.job_id))
    with runtime.session() as session:
        waiting = filing.get_filing(session, applicant, draft.id)
    assert waiting.status == "in_review", waiting.message
    assert waiting.grade["policy"] == "signal-control" and waiting.risk_level in ("low", "medium", "high")
    tested = {t["name"] for t in waiting.evaluation_summary["tests"]}
    assert tested == set(FAST)
    # every reason comes from the signal-control rules, none from "not tested" classifier tests
    rules = {reason["rule"] for reason in waiting.grade["reasons"]}
    assert rules and not any(rule.startswith("required:") for rule in rules), waiting.grade["reasons"]
    with runtime.session() as session:
        approved = filing.review_filing(session, filing.Issuer.of(runtime), reviewer.actor, draft.id,
                                        filing.FilingReview(decision="approve", judgements=FilingKit.judgements(), comment="Fit for a pilot."))
    assert approved.status == "approved" and approved.number.startswith("ZJAI-")
    with runtime.session() as session:
        found = filing.search_registry(session, number=approved.number)
    assert [e.number for e in found.items] == [approved.number] and found.items[0].task == "signal-control"


def test_requests_that_cannot_run_are_refused_before_anything_is_stored(runtime, world, traffic):
    kit, _, dataset_version = traffic
    applicant = world.a_member.actor
    tabular = kit.imported(kit.dataset("cancer", "tabular").id, "t.csv", b"x,label\n1,a\n2,b\n")
    before = db_state(runtime)
    refusals = [
        ({"dataset_version_id": dataset_version.id, "net_sha256": "a" * 64, "routes_sha256": "b" * 64}, "not both"),
        ({"dataset_version_id": dataset_version.id, "scenario": "grid/night"}, "has no scenario 'grid/night'; it has grid/peak"),
        ({"dataset_version_id": tabular.id}, "holds no road networks"),
        ({}, "Give net_sha256 and routes_sha256"),
    ]
    for changes, message in refusals:
        with runtime.session() as session, pytest.raises(Invalid, match=message):
            training.start_training(session, runtime, applicant, TrainingCreate(model="grid-policy", episodes=2, episode_duration=DURATION, **changes))
    assert_db_unchanged(before, db_state(runtime))


def test_the_api_trains_on_a_traffic_dataset_version_and_refuses_mixed_sources(runtime, world, client, traffic):
    _, _, dataset_version = traffic
    headers = auth(world.a_member)
    body = {"model": "api-grid-policy", "dataset_version_id": dataset_version.id, "episodes": 2, "episode_duration": DURATION}
    mixed = client.post("/api/v1/citybrain/training", json={**body, "net_sha256": "a" * 64, "routes_sha256": "b" * 64}, headers=headers)
    assert mixed.status_code == 422 and "not both" in mixed.json()["error"]["message"]
    hidden = client.post("/api/v1/citybrain/training", json=body, headers=auth(world.b_member))
    assert hidden.status_code == 404 and dataset_version.id in hidden.json()["error"]["message"]
    created = client.post("/api/v1/citybrain/training", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["params"]["dataset_version_id"] == dataset_version.id and created.json()["params"]["scenario"] == "grid/peak"
