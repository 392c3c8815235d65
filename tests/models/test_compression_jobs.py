"""Training an image model and compressing it as jobs: lineage, comparisons, refusals."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from datakit import DataKit

from aicommons import models
from aicommons.core.errors import Invalid
from aicommons.data.builtin_datasets import digits
from aicommons.data.manifest import build_table
from aicommons.data.versions import write_version


@pytest.fixture
def digits_cnn(runtime, world):
    kit = DataKit(runtime, world.a_member.actor)
    dataset = kit.dataset("digits", "image")
    with runtime.session() as session:
        dataset_version = write_version(
            session, runtime.blobs, kit.actor, dataset.id, build_table(digits(runtime.blobs)), operation="builtin", parameters={}
        )
        model = models.create_model(session, kit.actor, models.ModelCreate(name="digits", task="image-classification"))
        job = models.start_training(session, kit.actor, model.id, models.TrainParams(dataset_version_id=dataset_version.id, recipe="image-cnn", seed=1))
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    with runtime.session() as session:
        return kit, dataset_version, models.get_version(session, kit.actor, done.result["version_id"])


def _compress(kit, version, **spec):
    with kit.runtime.session() as session:
        job = models.start_compression(session, kit.actor, version.id, models.CompressParams(**spec))
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    with kit.runtime.session() as session:
        return models.get_version(session, kit.actor, done.result["version_id"])


def test_a_trained_cnn_compresses_with_lineage_and_a_comparison(runtime, digits_cnn):
    kit, dataset_version, parent = digits_cnn
    assert parent.framework == "pytorch" and parent.source_format == "safetensors" and parent.metrics["accuracy"] >= 0.95
    assert parent.preprocessing["kind"] == "image" and parent.details["architecture"]["name"] == "digits-cnn"

    static = _compress(kit, parent, method="int8-static")
    assert static.parent_version_id == parent.id and static.operation == "compress.int8-static"
    assert static.dataset_version_ids == [dataset_version.id] and static.preprocessing == parent.preprocessing
    comparison = static.details["comparison"]
    assert comparison["parent"]["size_bytes"] == parent.onnx_size and comparison["child"]["size_bytes"] == static.onnx_size
    assert comparison["deltas"]["accuracy_points"] >= -1.0
    assert set(comparison["child"]["latency_ms"]) == {"1", "32"} and comparison["child"]["latency_ms"]["32"]["p95"] > 0
    assert static.metrics["accuracy"] == pytest.approx(comparison["child"]["accuracy"], abs=1e-4)
    quantized = ort.InferenceSession(runtime.blobs.read_bytes(static.onnx_sha256))
    assert quantized.run(["probabilities"], {"image": np.zeros((2, 1, 8, 8), np.float32)})[0].shape == (2, 10)
    # The int8 options are in the lineage; the CNN's linear layers are Gemms, which the outlier split leaves alone.
    assert static.parameters["outlier_threshold"] == 6.0 and static.parameters["row_wise_embeddings"] is True
    assert static.details["outlier_channels"] == 0 and static.details["calibration_records"] == 256

    pruned = _compress(kit, parent, method="prune", sparsity=0.6, fine_tune_epochs=3)
    assert pruned.source_format == "safetensors" and pruned.details["sparsity"] >= 0.6
    assert pruned.details["comparison"]["deltas"]["accuracy_points"] >= -2.0

    student = _compress(kit, parent, method="distil", epochs=15)
    assert student.details["architecture"]["name"] == "small-cnn" and student.metrics["accuracy"] >= 0.9
    with runtime.session() as session:
        card = models.get_card(session, kit.actor, student.id)
    assert "accuracy" in card
    # Every compressed version is the model's next version; the parent is untouched.
    with runtime.session() as session:
        numbers = [(v.number, v.operation) for v in models.list_versions(session, kit.actor, parent.model_id)]
    assert numbers == [(1, "train"), (2, "compress.int8-static"), (3, "compress.prune"), (4, "compress.distil")]


def test_dynamic_int8_records_its_options_and_calibrates_only_when_asked(runtime, digits_cnn):
    kit, _, parent = digits_cnn
    calibrated = _compress(kit, parent, method="int8-dynamic", calibration_records=64)
    assert calibrated.parameters["outlier_threshold"] == 6.0 and calibrated.details["calibration_records"] == 64
    assert calibrated.details["outlier_channels"] == 0 and calibrated.details["quantized_ops"]
    plain = _compress(kit, parent, method="int8-dynamic", outlier_threshold=None, row_wise_embeddings=False)
    assert plain.parameters["outlier_threshold"] is None and plain.parameters["row_wise_embeddings"] is False
    assert "calibration_records" not in plain.details and plain.details["comparison"]["deltas"]["size_ratio"] > 1
    with pytest.raises(ValueError, match="outlier_threshold"):
        models.CompressParams(method="int8-dynamic", outlier_threshold=0.5)


def test_compressions_that_cannot_apply_are_refused_before_queueing(runtime, world, digits_cnn):
    kit, dataset_version, parent = digits_cnn
    with runtime.session() as session:
        baseline_model = models.create_model(session, kit.actor, models.ModelCreate(name="baseline", task="image-classification"))
        job = models.start_training(session, kit.actor, baseline_model.id, models.TrainParams(dataset_version_id=dataset_version.id, recipe="image-logistic"))
    done = kit.run(job)
    with runtime.session() as session:
        baseline = models.get_version(session, kit.actor, done.result["version_id"])
        with pytest.raises(Invalid, match="Pruning needs a version trained by a torch recipe"):
            models.start_compression(session, kit.actor, baseline.id, models.CompressParams(method="prune"))
        with pytest.raises(Exception, match="not visible|No model"):
            models.start_compression(session, world.b_member.actor, parent.id, models.CompressParams(method="int8-dynamic"))
    with pytest.raises(ValueError, match="method"):
        models.CompressParams(method="int4")
