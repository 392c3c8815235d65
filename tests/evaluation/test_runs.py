"""Evaluation runs as jobs: planned, stored, reproducible, cached, readable only by the right actors."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from datakit import DataKit, cancer_csv
from support import assert_db_unchanged, auth, db_state

from aicommons import evaluation, models
from aicommons.core.errors import Invalid, NotFound
from aicommons.core.identity import actor_for_user_id, create_user
from aicommons.core.schemas import UserCreate


@pytest.fixture
def cancer_model(runtime, world):
    kit = DataKit(runtime, world.a_member.actor)
    dataset_version = kit.imported(kit.dataset("cancer", "tabular").id, "c.csv", cancer_csv())
    with runtime.session() as session:
        model = models.create_model(session, kit.actor, models.ModelCreate(name="cancer", task="tabular-classification"))
        job = models.start_training(session, kit.actor, model.id, models.TrainParams(dataset_version_id=dataset_version.id, recipe="tabular-logistic", seed=3))
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    with runtime.session() as session:
        return kit, dataset_version, models.get_version(session, kit.actor, done.result["version_id"])


def _run(kit, spec):
    with kit.runtime.session() as session:
        started = evaluation.start_evaluation(session, kit.actor, spec)
    assert started.status == "queued" and started.results == []
    job = kit.run(SimpleNamespace(id=started.job_id))  # DataKit runs every queued job in this process
    assert job.status == "succeeded", job.error
    with kit.runtime.session() as session:
        return evaluation.get_evaluation(session, kit.actor, started.id)


def test_the_default_suite_runs_every_category_and_records_what_reproduces_it(runtime, cancer_model):
    kit, dataset_version, version = cancer_model
    run = _run(kit, evaluation.EvaluationCreate(version_id=version.id))
    statuses = {r.name: r.status for r in run.results}
    assert statuses == {"accuracy": "passed", "robustness": "passed", "fairness": "skipped", "privacy": "passed", "efficiency": "passed"}
    accuracy = run.result("accuracy")
    # The test split is the one training held out: the same records, the same accuracy.
    assert accuracy.metrics["accuracy"] == pytest.approx(version.metrics["accuracy"], abs=1e-3)
    assert 0 <= accuracy.metrics["roc_auc"] <= 1 and accuracy.charts
    assert "sensitive" in run.result("fairness").notes[0]
    assert run.result("privacy").metrics["membership_inference_auc"] > 0
    reproducibility = run.reproducibility
    assert reproducibility["model_sha256"] and reproducibility["dataset_manifest_sha256"] == dataset_version.manifest_sha256
    assert reproducibility["seed"] == 0 and reproducibility["split_seed"] == 3 and "onnxruntime" in reproducibility["libraries"]
    assert reproducibility["evaluation_records"] + reproducibility["training_records"] < dataset_version.record_count
    assert run.status == "succeeded" and run.progress == 1.0 and run.finished_at is not None


def test_a_repeated_run_reuses_cached_predictions_and_gets_the_same_numbers(runtime, cancer_model):
    kit, _, version = cancer_model
    spec = evaluation.EvaluationCreate(version_id=version.id, suite=None, tests=[evaluation.TestRequest(name="accuracy"), evaluation.TestRequest(name="robustness")])
    first = _run(kit, spec)
    second = _run(kit, spec)
    cached = first.reproducibility["prediction_cache"]
    assert cached["misses"] > 0 and cached["hits"] > 0  # robustness reuses accuracy's clean predictions
    assert second.reproducibility["prediction_cache"] == {"hits": cached["hits"] + cached["misses"], "misses": 0}
    assert [r.metrics for r in first.results] == [r.metrics for r in second.results]


def test_thresholds_turn_metrics_into_failed_checks(runtime, cancer_model):
    kit, _, version = cancer_model
    spec = evaluation.EvaluationCreate(
        version_id=version.id, suite="quick", tests=[evaluation.TestRequest(name="accuracy", thresholds={"accuracy": [">=", 0.999], "ece": "<= 1"})]
    )
    run = _run(kit, spec)
    accuracy = run.result("accuracy")
    assert accuracy.status == "failed"
    failed = [c for c in accuracy.checks if not c["passed"]]
    assert [c["metric"] for c in failed] == ["accuracy"] and failed[0]["threshold"] == 0.999
    assert run.result("efficiency").status == "passed"


def test_runs_are_private_to_their_org_and_open_to_reviewers(runtime, world, cancer_model, client):
    kit, _, version = cancer_model
    run = _run(kit, evaluation.EvaluationCreate(version_id=version.id, suite="quick"))
    with runtime.session() as session:
        with pytest.raises(NotFound):
            evaluation.get_evaluation(session, world.b_member.actor, run.id)
        user = create_user(session, world.operator.actor, UserCreate(email="reviewer@platform.test", org_id=world.org_b, platform_roles=["reviewer"]))
        reviewer = actor_for_user_id(session, user.id)
        assert evaluation.get_evaluation(session, reviewer, run.id).id == run.id
        # A reviewer reads the model the run reports on (reviewers read every model), so its report renders.
        built = evaluation.build_report_input(session, runtime.blobs, reviewer, run.id)
        assert built.model.id == version.model_id and built.charts
        assert [r.id for r in evaluation.list_evaluations(session, world.b_member.actor).items] == []
    assert client.get(f"/api/v1/evaluations/{run.id}", headers=auth(world.b_member)).status_code == 404
    response = client.get(f"/api/v1/evaluations/{run.id}", headers=auth(world.a_member))
    assert response.status_code == 200 and response.json()["results"][0]["name"] == "accuracy"
    html = client.get(f"/api/v1/evaluations/{run.id}/report.html", headers=auth(world.a_member))
    assert html.status_code == 200 and "data:image/png;base64," in html.text
    pdf = client.get(f"/api/v1/evaluations/{run.id}/report.pdf", headers=auth(world.a_member))
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    chart = next(iter(run.result("accuracy").charts))
    assert client.get(f"/api/v1/evaluations/{run.id}/charts/{chart}", headers=auth(world.a_member)).content.startswith(b"\x89PNG")


def test_bad_requests_are_refused_before_anything_is_queued(runtime, world, cancer_model, client):
    kit, _, version = cancer_model
    before = db_state(runtime)
    bad = [
        ({"version_id": version.id, "suite": "nonsense"}, "evaluation suite"),
        ({"version_id": version.id, "tests": [{"name": "telepathy"}]}, "evaluation test"),
        ({"version_id": version.id, "tests": [{"name": "accuracy", "thresholds": {"accuracy": ["~", 1]}}]}, "op one of"),
        ({"version_id": version.id, "suite": None}, "no tests"),
        ({"version_id": "mv_missing"}, "no model version"),
    ]
    for body, message in bad:
        response = client.post("/api/v1/evaluations", json=body, headers=auth(world.a_member))
        assert 400 <= response.status_code < 500 and message in response.text.lower(), (body, response.text)
    response = client.post("/api/v1/evaluations", json={"version_id": version.id}, headers=auth(world.b_member))
    assert response.status_code == 404
    assert_db_unchanged(before, db_state(runtime))
    with runtime.session() as session, pytest.raises(Invalid, match="Compare 2 to 10"):
        evaluation.compare_evaluations(session, kit.actor, ["one"])


def test_the_cli_runs_a_suite_writes_reports_and_compares(runtime, cancer_model, member_cli, tmp_path):
    kit, _, version = cancer_model
    first = _run(kit, evaluation.EvaluationCreate(version_id=version.id, suite="quick"))
    second = _run(kit, evaluation.EvaluationCreate(version_id=version.id, suite="quick", seed=1))
    shown = member_cli("evaluation", "show", first.id)
    assert shown.exit_code == 0 and "accuracy" in shown.output and "passed" in shown.output
    report = tmp_path / "report.pdf"
    written = member_cli("evaluation", "report", first.id, "-o", str(report))
    assert written.exit_code == 0 and report.read_bytes().startswith(b"%PDF")
    compared = member_cli("evaluation", "compare", first.id, second.id)
    assert compared.exit_code == 0 and "macro_f1" in compared.output
    refused = member_cli("evaluation", "report", first.id, "-o", str(tmp_path / "report.docx"))
    assert refused.exit_code != 0 and ".html or .pdf" in refused.output
    listed = member_cli("evaluation", "tests")
    assert listed.exit_code == 0 and "robustness" in listed.output and "filing" in listed.output


ENDED: list[tuple[str, str, str]] = []


def _record_end(session, run):
    ENDED.append((run.id, run.status, run.message))


def test_listeners_hear_of_a_run_that_fails_as_well_as_one_that_succeeds(runtime, cancer_model):
    evaluation.evaluation_finished.add("tests.record_end", _record_end)
    kit, dataset_version, version = cancer_model
    with runtime.session() as session:
        # The same graph without its preprocessing spec: its records cannot be turned into inputs.
        bare = models.create_model(session, kit.actor, models.ModelCreate(name="bare", task="tabular-classification"))
        onnx = runtime.blobs.read_bytes(version.onnx_sha256)
        bare_version = models.upload_version(session, runtime.blobs, kit.actor, bare.id, io.BytesIO(onnx), "bare.onnx", models.VersionMeta(dataset_version_ids=[dataset_version.id]))
        failing = evaluation.start_evaluation(session, kit.actor, evaluation.EvaluationCreate(version_id=bare_version.id, suite="quick"))
    job = kit.run(SimpleNamespace(id=failing.job_id))
    assert job.status == "failed"
    assert (failing.id, "failed") in [(i, s) for i, s, _ in ENDED]
    assert "plain tensors" in next(m for i, _, m in ENDED if i == failing.id)
    succeeded = _run(kit, evaluation.EvaluationCreate(version_id=version.id, suite="quick"))
    assert (succeeded.id, "succeeded") in [(i, s) for i, s, _ in ENDED]
