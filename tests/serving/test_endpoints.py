"""Endpoints over HTTP: deploy, predict (JSON, .npy, instances), isolation, alias moves, quotas, metering, metrics."""

from __future__ import annotations

import io
import threading
import time

import numpy as np
import onnxruntime as ort
import pytest
from datakit import DataKit, cancer_csv
from sklearn.datasets import load_breast_cancer
from support import assert_db_unchanged, auth, db_state

from aicommons import models

API = "/api/v1"


@pytest.fixture
def cancer(runtime, world):
    """A model with two trained versions (different regularisation) and the features it takes."""
    kit = DataKit(runtime, world.a_member.actor)
    names = [f"f{i}" for i in range(30)]
    dataset_version = kit.imported(kit.dataset("cancer", "tabular").id, "c.csv", cancer_csv())
    with runtime.session() as session:
        model = models.create_model(session, kit.actor, models.ModelCreate(name="cancer", task="tabular-classification"))
    versions = []
    for c in (1.0, 0.001):
        with runtime.session() as session:
            job = models.start_training(
                session, kit.actor, model.id, models.TrainParams(dataset_version_id=dataset_version.id, recipe="tabular-logistic", params={"C": c})
            )
        done = kit.run(job)
        assert done.status == "succeeded", done.error
        with runtime.session() as session:
            versions.append(models.get_version(session, kit.actor, done.result["version_id"]))
    features = np.array([[float(f"{v:.6g}") for v in row] for row in load_breast_cancer().data], dtype=np.float32)
    return model, versions, names, features


def _deploy(client, member, model, **extra):
    body = {"name": "cancer-api", "model_id": model.id, "max_wait_ms": 2, "latency_cap_ms": 500, **extra}
    response = client.post(f"{API}/endpoints", json=body, headers=auth(member))
    assert response.status_code == 201, response.text
    return response.json()


def _expected(runtime, version, features):
    session = ort.InferenceSession(runtime.blobs.read_bytes(version.onnx_sha256))
    outputs = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"features": features}), strict=True))
    return next(v for k, v in outputs.items() if "prob" in k)


def test_predictions_in_every_form_match_onnx_runtime(client, runtime, world, cancer):
    model, versions, names, features = cancer
    endpoint = _deploy(client, world.a_member, model)
    assert endpoint["url"] == f"{API}/endpoints/cancer-api/predict" and endpoint["version_ref"] == "latest"
    expected = _expected(runtime, versions[1], features[:5])

    by_instances = client.post(endpoint["url"], json={"instances": [dict(zip(names, map(float, row), strict=True)) for row in features[:5]]}, headers=auth(world.a_member))
    by_inputs = client.post(endpoint["url"], json={"inputs": {"features": features[:5].tolist()}}, headers=auth(world.a_member))
    buffer = io.BytesIO()
    np.save(buffer, features[:5])
    by_npy = client.post(endpoint["url"], content=buffer.getvalue(), headers={**auth(world.a_member), "Content-Type": "application/x-npy"})
    for response in (by_instances, by_inputs, by_npy):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["model_version_id"] == versions[1].id and body["batch_rows"] >= 5
        got = np.array([[p["probabilities"][c] for c in ("benign", "malignant")] for p in body["predictions"]])
        assert np.allclose(got, expected, atol=1e-5)
        assert [p["label"] for p in body["predictions"]] == [("benign", "malignant")[i] for i in expected.argmax(1)]


def test_bad_requests_are_refused_with_the_problem_named(client, runtime, world, cancer):
    model, _, names, features = cancer
    url = _deploy(client, world.a_member, model)["url"]
    row = dict(zip(names, map(float, features[0]), strict=True))
    before = db_state(runtime)
    cases = [
        ({"json": {"instances": [{**row, "f99": 1.0}]}}, "f99"),
        ({"json": {"instances": [{k: v for k, v in row.items() if k != "f3"}]}}, "f3"),
        ({"json": {"instances": [{**row, "f0": "high"}]}}, "f0"),
        ({"json": {"inputs": {"features": [[1.0, 2.0]]}}}, "30"),
        ({"json": {"inputs": {"pixels": [[1.0]]}}}, "pixels"),
        ({"json": {"instances": []}}, "instances"),
        ({"json": {"instances": [row], "inputs": {}}}, "exactly one"),
        ({"content": b"{not json", "headers": {"Content-Type": "application/json"}}, "invalid"),
        ({"content": b"plain", "headers": {"Content-Type": "text/plain"}}, "Content-Type"),
        ({"content": b"\x93NUMPY broken", "headers": {"Content-Type": "application/x-npy"}}, "npy"),
    ]
    for request, needle in cases:
        headers = {**auth(world.a_member), **request.pop("headers", {})}
        response = client.post(url, headers=headers, **request)
        assert response.status_code == 422, (needle, response.text)
        assert needle.lower() in response.json()["error"]["message"].lower(), (needle, response.text)
    after = db_state(runtime)
    assert_db_unchanged(before, after)  # refusals are metered as errors in memory; nothing stored changed
    client.app.state.serving.meter.flush()
    usage = client.get(f"{API}/endpoints/cancer-api/usage", headers=auth(world.a_member)).json()
    reached_the_model = 6  # the rest fail as HTTP bodies, before the endpoint's quota and meter
    assert usage[0]["errors"] == reached_the_model and usage[0]["calls"] == reached_the_model and usage[0]["rows"] == 0


def test_the_predict_gateway_answers_as_the_fastapi_route_does(client, runtime, world, cancer, monkeypatch):
    """Predict calls are answered ahead of FastAPI (`api.predict_gateway`); with the gateway
    stepping aside, FastAPI's route answers. Both must give the same statuses, bodies and headers."""
    model, versions, _, features = cancer
    url = _deploy(client, world.a_member, model)["url"]
    calls = [
        ({"json": {"inputs": {"features": features[:3].tolist()}}, "headers": auth(world.a_member)}, 200),
        ({"json": {"inputs": {"features": features[:3].tolist()}}}, 401),
        ({"json": {"inputs": {"features": [[1.0]]}}, "headers": auth(world.a_member)}, 422),
        ({"content": b"{not json", "headers": {**auth(world.a_member), "Content-Type": "application/json"}}, 422),
        ({"content": b"{}", "headers": {**auth(world.a_member), "Content-Length": str(64 << 20)}}, 422),
        ({"json": {"inputs": {"features": features[:1].tolist()}}, "headers": auth(world.b_member)}, 404),
    ]

    def answers():
        out = []
        for request, status in calls:
            response = client.post(url, **request)
            assert response.status_code == status, (request, response.text)
            body = response.json()
            if status == 200:
                body = {k: v for k, v in body.items() if k not in ("queue_ms", "compute_ms", "batch_rows")}
            out.append((response.status_code, body, response.headers.get("www-authenticate"), response.headers["content-type"]))
        return out

    through_gateway = answers()
    monkeypatch.setattr(client.app.predict_gateway, "endpoint_called", lambda scope: None)
    through_fastapi = answers()
    assert through_gateway == through_fastapi
    assert through_gateway[0][1]["model_version_id"] == versions[1].id
    assert through_gateway[1][2] == "Bearer" and "MiB" in through_gateway[4][1]["error"]["message"]
    # Other methods on the path are FastAPI's, and the call stays in the OpenAPI schema.
    assert client.get(url, headers=auth(world.a_member)).status_code == 405
    assert "/api/v1/endpoints/{name}/predict" in client.get("/openapi.json").json()["paths"]


def test_an_unexpected_failure_in_predict_is_a_json_500(client, world, cancer, monkeypatch):
    model, _, _, features = cancer
    url = _deploy(client, world.a_member, model)["url"]
    client.post(url, json={"inputs": {"features": features[:1].tolist()}}, headers=auth(world.a_member))

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(client.app.state.serving, "predict", broken)
    response = client.post(url, json={"inputs": {"features": features[:1].tolist()}}, headers=auth(world.a_member))
    assert response.status_code == 500 and response.json()["error"]["code"] == "internal"
    assert "disk on fire" not in response.text


def test_only_the_owner_org_may_call_and_deploy_refusals(client, runtime, world, cancer):
    model, _, _, features = cancer
    url = _deploy(client, world.a_member, model)["url"]
    body = {"inputs": {"features": features[:1].tolist()}}
    assert client.post(url, json=body, headers=auth(world.b_member)).status_code == 404
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=auth(world.a_admin)).status_code == 200
    assert client.post(f"{API}/endpoints/nope/predict", json=body, headers=auth(world.a_member)).status_code == 404
    refusals = [
        ({"name": "cancer-api", "model_id": model.id}, 409, world.a_member),
        ({"name": "Bad Name!", "model_id": model.id}, 422, world.a_member),
        ({"name": "theirs", "model_id": model.id}, 404, world.b_member),
        ({"name": "v9", "model_id": model.id, "version": "9"}, 404, world.a_member),
        ({"name": "waits", "model_id": model.id, "max_wait_ms": 50, "latency_cap_ms": 20}, 422, world.a_member),
    ]
    for spec, status, member in refusals:
        response = client.post(f"{API}/endpoints", json=spec, headers=auth(member))
        assert response.status_code == status, (spec, response.text)
        assert response.json()["error"]["message"]
    assert [e["name"] for e in client.get(f"{API}/endpoints", headers=auth(world.b_member)).json()] == []


def test_an_alias_move_switches_traffic_without_dropping_a_request(client, runtime, world, cancer):
    model, versions, _, features = cancer
    with runtime.session() as session:
        models.set_alias(session, world.a_member.actor, model.id, "production", versions[0].id)
    # Four callers in a tight loop for seconds: a quota far above what they can send (the default's
    # burst, 6000 a minute, is spent in a few seconds on a fast machine).
    url = _deploy(client, world.a_member, model, version="production", rate_limit_per_minute=10_000_000)["url"]
    body = {"inputs": {"features": features[:3].tolist()}}
    seen: list[tuple[int, str]] = []
    stop = threading.Event()

    def call():
        while not stop.is_set():
            response = client.post(url, json=body, headers=auth(world.a_member))
            seen.append((response.status_code, response.json().get("model_version_id", response.text)))

    callers = [threading.Thread(target=call) for _ in range(4)]
    for caller in callers:
        caller.start()
    time.sleep(0.5)
    with runtime.session() as session:
        models.set_alias(session, world.a_member.actor, model.id, "production", versions[1].id)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (not seen or seen[-1][1] != versions[1].id):
        time.sleep(0.1)
    time.sleep(0.3)
    stop.set()
    for caller in callers:
        caller.join()
    assert {status for status, _ in seen} == {200}, [s for s in seen if s[0] != 200][:3]
    order = [version for _, version in seen]
    assert order[0] == versions[0].id and order[-1] == versions[1].id
    switched = order.index(versions[1].id)
    assert set(order[switched + len(callers):]) == {versions[1].id}  # no flapping back once switched


def test_quotas_metering_and_metrics(client, runtime, world, cancer):
    model, _, _, features = cancer
    url = _deploy(client, world.a_member, model, rate_limit_per_minute=60)["url"]
    body = {"inputs": {"features": features[:4].tolist()}}
    statuses = [client.post(url, json=body, headers=auth(world.a_member)) for _ in range(14)]
    assert [r.status_code for r in statuses[:10]] == [200] * 10  # ten seconds' burst of 1/s
    limited = [r for r in statuses if r.status_code == 429]
    assert limited and int(limited[0].headers["Retry-After"]) >= 1 and "quota" in limited[0].json()["error"]["message"]
    client.app.state.serving.meter.flush()
    usage = client.get(f"{API}/endpoints/cancer-api/usage", headers=auth(world.a_admin)).json()
    assert len(usage) == 1 and usage[0]["org_id"] == world.a_member.actor.org_id
    assert usage[0]["calls"] == 10 and usage[0]["rows"] == 40 and usage[0]["compute_seconds"] > 0
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'endpoint="cancer-api"' in text and "_bucket" in text


def test_stop_restart_and_delete(client, runtime, world, cancer):
    model, versions, _, features = cancer
    url = _deploy(client, world.a_member, model, version="1")["url"]
    body = {"inputs": {"features": features[:1].tolist()}}
    assert client.post(url, json=body, headers=auth(world.a_member)).json()["model_version_id"] == versions[0].id
    assert client.patch(f"{API}/endpoints/cancer-api", json={"status": "stopped"}, headers=auth(world.a_member)).status_code == 200
    time.sleep(1.1)  # callers' cached view of the endpoint lasts a second
    stopped = client.post(url, json=body, headers=auth(world.a_member))
    assert stopped.status_code == 409 and "stopped" in stopped.json()["error"]["message"]
    change = client.patch(f"{API}/endpoints/cancer-api", json={"status": "active", "version": "2"}, headers=auth(world.a_member))
    assert change.status_code == 200 and change.json()["version_ref"] == "2"
    time.sleep(1.1)
    assert client.post(url, json=body, headers=auth(world.a_member)).json()["model_version_id"] == versions[1].id
    assert client.delete(f"{API}/endpoints/cancer-api", headers=auth(world.a_member)).status_code == 403  # admins delete
    assert client.delete(f"{API}/endpoints/cancer-api", headers=auth(world.a_admin)).status_code == 200
    assert client.get(f"{API}/endpoints/cancer-api", headers=auth(world.a_admin)).status_code == 404
    again = client.post(f"{API}/endpoints", json={"name": "cancer-api", "model_id": model.id}, headers=auth(world.a_member))
    assert again.status_code == 409
