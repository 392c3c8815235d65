"""Training recipes as jobs: deterministic, measured on the test split, stored with lineage."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import onnxruntime as ort
import pytest
from datakit import DataKit, cancer_csv
from sklearn.datasets import load_breast_cancer

from aicommons import models
from aicommons.core.errors import Invalid


@pytest.fixture
def cancer_version(runtime, world):
    kit = DataKit(runtime, world.a_member.actor)
    return kit, kit.imported(kit.dataset("cancer", "tabular").id, "c.csv", cancer_csv())


def _train(kit, runtime, version, recipe, seed=0, name=None):
    with runtime.session() as session:
        model = models.create_model(session, kit.actor, models.ModelCreate(name=name or recipe, task="tabular-classification"))
        job = models.start_training(session, kit.actor, model.id, models.TrainParams(dataset_version_id=version.id, recipe=recipe, seed=seed))
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    with runtime.session() as session:
        return models.get_version(session, kit.actor, done.result["version_id"]), done


def test_lightgbm_trains_a_model_whose_onnx_predicts_like_the_booster(runtime, cancer_version):
    kit, dataset_version = cancer_version
    version, job = _train(kit, runtime, dataset_version, "tabular-lightgbm")
    assert version.operation == "train" and version.dataset_version_ids == [dataset_version.id]
    assert version.metrics["accuracy"] > 0.93 and version.framework == "lightgbm"
    with runtime.session() as session:
        from aicommons.core import jobs

        log = jobs.read_logs(session, runtime.blobs, kit.actor, job.id)
    assert "training tabular-lightgbm on 569 records" in log and "test metrics" in log
    X = load_breast_cancer().data.astype(np.float32)
    booster = lgb.Booster(model_str=runtime.blobs.read_bytes(version.source_sha256).decode())
    session = ort.InferenceSession(runtime.blobs.read_bytes(version.onnx_sha256))
    probabilities = session.run(["probabilities"], {"features": X})[0]
    assert np.allclose(probabilities[:, 1], booster.predict(X), atol=1e-5)


def test_training_is_deterministic_under_a_seed(runtime, cancer_version):
    kit, dataset_version = cancer_version
    first, _ = _train(kit, runtime, dataset_version, "tabular-logistic", seed=3, name="first")
    second, _ = _train(kit, runtime, dataset_version, "tabular-logistic", seed=3, name="second")
    assert first.metrics == second.metrics and first.metrics["accuracy"] > 0.93
    assert first.onnx_sha256 == second.onnx_sha256


def test_bad_training_requests_are_refused(runtime, world, cancer_version):
    kit, dataset_version = cancer_version
    with runtime.session() as session:
        images = models.create_model(session, kit.actor, models.ModelCreate(name="imgs", task="image-classification"))
        with pytest.raises(Invalid, match="trains tabular-classification models"):
            models.start_training(session, kit.actor, images.id, models.TrainParams(dataset_version_id=dataset_version.id, recipe="tabular-lightgbm"))
        with pytest.raises(Invalid, match="Unknown training recipe"):
            models.start_training(session, kit.actor, images.id, models.TrainParams(dataset_version_id=dataset_version.id, recipe="gpt-5"))
        theirs = models.create_model(session, world.b_member.actor, models.ModelCreate(name="b", task="tabular-classification"))
        with pytest.raises(Exception, match="not visible|No dataset version"):
            models.start_training(session, world.b_member.actor, theirs.id, models.TrainParams(dataset_version_id=dataset_version.id, recipe="tabular-lightgbm"))
