"""The model hub through its services, the API and the CLI: uploads, lineage, cards, aliases, refusals."""

from __future__ import annotations

import io
import json
import pickle

import numpy as np
import onnxruntime as ort
import pytest
import skops.io as sio
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from support import assert_db_unchanged, auth, db_state

from aicommons import models
from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound

API = "/api/v1"


@pytest.fixture(scope="module")
def cancer_model():
    X, y = load_breast_cancer(return_X_y=True)
    model = LogisticRegression(max_iter=5000).fit(X, y)
    return model, X.astype(np.float32), sio.dumps(model)


def _model(runtime, actor, name="cancer", task="tabular-classification", **extra):
    with runtime.session() as session:
        return models.create_model(session, actor, models.ModelCreate(name=name, task=task, **extra))


def _upload(runtime, actor, model_id, payload: bytes, filename="m.skops", **meta):
    with runtime.session() as session:
        return models.upload_version(session, runtime.blobs, actor, model_id, io.BytesIO(payload), filename, models.VersionMeta(**meta))


def test_a_skops_upload_becomes_an_onnx_version_that_predicts_like_the_original(runtime, world, cancer_model):
    estimator, X, payload = cancer_model
    model = _model(runtime, world.a_member.actor, licence="Apache-2.0", name_zh="乳腺癌诊断")
    version = _upload(runtime, world.a_member.actor, model.id, payload, metrics={"accuracy": 0.95}, dataset_version_ids=["dsv_x"])
    assert version.number == 1 and version.source_format == "skops" and version.framework == "scikit-learn"
    assert version.signature["inputs"][0]["shape"][-1] == 30
    session = ort.InferenceSession(runtime.blobs.read_bytes(version.onnx_sha256))
    labels = session.run(None, {session.get_inputs()[0].name: X})[0]
    assert (labels == estimator.predict(X)).mean() > 0.99
    assert runtime.blobs.read_bytes(version.source_sha256) == payload
    with runtime.session() as s:
        card = models.get_card(s, world.a_member.actor, version.id)
    assert "license: Apache-2.0" in card and "乳腺癌诊断" in card and "accuracy" in card and "dsv_x" in card


def test_pickles_and_broken_files_are_refused_and_nothing_is_stored(runtime, world, cancer_model):
    estimator, _, _ = cancer_model
    model = _model(runtime, world.a_member.actor)
    before = db_state(runtime)
    with pytest.raises(Invalid, match="pickle"):
        _upload(runtime, world.a_member.actor, model.id, pickle.dumps(estimator), "model.pkl")
    with pytest.raises(Invalid):
        _upload(runtime, world.a_member.actor, model.id, b"\x08\x01garbage-not-onnx" * 10, "model.onnx")
    assert_db_unchanged(before, db_state(runtime))


def test_aliases_move_between_versions_and_resolve(runtime, world, cancer_model):
    _, _, payload = cancer_model
    actor = world.a_member.actor
    model = _model(runtime, actor)
    v1 = _upload(runtime, actor, model.id, payload)
    v2 = _upload(runtime, actor, model.id, payload)
    with runtime.session() as session:
        assert models.set_alias(session, actor, model.id, "production", v1.id).aliases == {"production": 1}
        assert models.set_alias(session, actor, model.id, "production", v2.id).aliases == {"production": 2}
        assert models.resolve_version(session, actor, model.id, "production").id == v2.id
        assert models.resolve_version(session, actor, model.id, "latest").id == v2.id
        with pytest.raises(NotFound, match="no alias 'staging'"):
            models.resolve_version(session, actor, model.id, "staging")


def test_cards_are_edited_by_the_owner_only_and_must_parse(runtime, world, cancer_model):
    model = _model(runtime, world.a_member.actor, visibility="public")
    version = _upload(runtime, world.a_member.actor, model.id, cancer_model[2])
    with runtime.session() as session:
        card = models.get_card(session, world.b_member.actor, version.id)  # public: readable
        edited = card.replace("Not yet evaluated", "Evaluated on the held-out split")
        models.update_card(session, world.a_member.actor, version.id, edited)
        with pytest.raises(Forbidden):
            models.update_card(session, world.b_member.actor, version.id, edited)
        with pytest.raises(Invalid):
            models.update_card(session, world.a_member.actor, version.id, "---\nlicense: [unclosed\n---\n# x\n")
    with runtime.session() as session:
        assert "held-out split" in models.get_card(session, world.a_member.actor, version.id)


def test_search_and_isolation(runtime, world):
    _model(runtime, world.a_member.actor, "private-a", tags=["medical"])
    _model(runtime, world.b_member.actor, "public-b", visibility="public", tags=["medical"], licence="MIT")
    with runtime.session() as session:
        seen_by_a = {m.name for m in models.list_models(session, world.a_member.actor, tag="medical").items}
        seen_by_b = {m.name for m in models.list_models(session, world.b_member.actor).items}
        assert seen_by_a == {"private-a", "public-b"} and seen_by_b == {"public-b"}
        assert [m.name for m in models.list_models(session, world.a_member.actor, licence="mit").items] == ["public-b"]
        with pytest.raises(Conflict):
            models.create_model(session, world.a_member.actor, models.ModelCreate(name="Private-A", task="tabular-classification"))


def test_search_by_metric_finds_models_with_a_version_meeting_it(runtime, world, cancer_model):
    _, _, payload = cancer_model
    strong, weak, none = (_model(runtime, world.a_member.actor, name) for name in ("strong", "weak", "unmeasured"))
    _upload(runtime, world.a_member.actor, strong.id, payload, metrics={"accuracy": 0.62})
    _upload(runtime, world.a_member.actor, strong.id, payload, metrics={"accuracy": 0.97, "macro_f1": 0.95})
    _upload(runtime, world.a_member.actor, weak.id, payload, metrics={"accuracy": 0.7})
    _upload(runtime, world.a_member.actor, none.id, payload)

    def names(metric):
        with runtime.session() as session:
            return sorted(m.name for m in models.list_models(session, world.a_member.actor, metric=metric).items)

    assert names("accuracy>=0.9") == ["strong"]
    assert names("accuracy > 0.65") == ["strong", "weak"]
    assert names("accuracy<0.65") == ["strong"]  # its first version
    assert names("macro_f1>=0.9") == ["strong"] and names("loss<=1") == []
    for bad in ("accuracy>>0.9", "accuracy", "drop table;>=1", "accuracy>=high"):
        with pytest.raises(Invalid, match="metric"):
            names(bad)


def test_the_hub_over_http(client, runtime, world, cancer_model):
    created = client.post(f"{API}/models", json={"name": "cancer", "task": "tabular-classification"}, headers=auth(world.a_member))
    assert created.status_code == 201
    model_id = created.json()["id"]
    upload = client.post(
        f"{API}/models/{model_id}/versions", files={"file": ("m.skops", cancer_model[2])},
        data={"meta": json.dumps({"metrics": {"accuracy": 0.95}})}, headers=auth(world.a_member),
    )
    assert upload.status_code == 201, upload.text
    version_id = upload.json()["id"]
    onnx_file = client.get(f"{API}/model-versions/{version_id}/artefacts/onnx", headers=auth(world.a_member))
    assert onnx_file.status_code == 200 and ort.InferenceSession(onnx_file.content)
    alias = client.put(f"{API}/models/{model_id}/aliases/production", json={"version_id": version_id}, headers=auth(world.a_member))
    assert alias.json()["aliases"] == {"production": 1}
    assert client.get(f"{API}/models/{model_id}/versions/production", headers=auth(world.a_member)).json()["id"] == version_id
    refused = client.post(
        f"{API}/models/{model_id}/versions", files={"file": ("m.pkl", pickle.dumps({"a": 1}))}, headers=auth(world.a_member)
    )
    assert refused.status_code == 422 and "pickle" in refused.json()["error"]["message"]
    bad_meta = client.post(
        f"{API}/models/{model_id}/versions", files={"file": ("m.skops", cancer_model[2])}, data={"meta": "{"}, headers=auth(world.a_member)
    )
    assert bad_meta.status_code == 422 and "meta" in bad_meta.json()["error"]["message"]
    for path in (f"/models/{model_id}", f"/model-versions/{version_id}", f"/model-versions/{version_id}/artefacts/onnx"):
        assert client.get(API + path, headers=auth(world.b_admin)).status_code == 404


def test_torch_weights_upload_with_their_architecture_and_are_refused_without(runtime, world):
    import torch

    from aicommons.models import torchnets

    architecture = {"name": "digits-cnn", "config": torchnets.architectures.get("digits-cnn").config(in_channels=1, classes=10, image_size=[8, 8])}
    module = torchnets.build_module(architecture, seed=3)
    weights = torchnets.weights_to_bytes(module)
    model = _model(runtime, world.a_member.actor, "torch-digits", task="image-classification")
    before = db_state(runtime)
    with pytest.raises(Invalid, match="architecture"):
        _upload(runtime, world.a_member.actor, model.id, weights, "w.safetensors")
    with pytest.raises(Invalid, match="Unknown"):
        _upload(runtime, world.a_member.actor, model.id, weights, "w.safetensors", architecture={"name": "resnet-900", "config": {}})
    wrong = {"name": "small-cnn", "config": torchnets.architectures.get("small-cnn").config(in_channels=1, classes=10, image_size=[8, 8])}
    with pytest.raises(Invalid):
        _upload(runtime, world.a_member.actor, model.id, weights, "w.safetensors", architecture=wrong)
    assert_db_unchanged(before, db_state(runtime))

    version = _upload(runtime, world.a_member.actor, model.id, weights, "w.safetensors", architecture=architecture, classes=[str(d) for d in range(10)])
    assert version.framework == "pytorch" and version.source_format == "safetensors" and version.details["architecture"] == architecture
    assert version.details["classes"][9] == "9" and runtime.blobs.read_bytes(version.source_sha256) == weights
    x = np.random.default_rng(0).normal(size=(4, 1, 8, 8)).astype(np.float32)
    onnx_probabilities = ort.InferenceSession(runtime.blobs.read_bytes(version.onnx_sha256)).run(["probabilities"], {"image": x})[0]
    with torch.no_grad():
        torch_probabilities = torch.softmax(module.eval()(torch.from_numpy(x)), dim=1).numpy()
    assert np.allclose(onnx_probabilities, torch_probabilities, atol=1e-5)
