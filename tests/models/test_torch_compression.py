"""Pruning and distillation of a digits CNN trained by the `image-cnn` recipe, measured on the
real built-in sklearn-digits images with the stored ONNX run in ONNX Runtime."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import numpy_helper

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.data.builtin_datasets import digits
from aicommons.data.manifest import build_table
from aicommons.models import torch_compression, torchnets, vision
from aicommons.models.recipes import RecipeRun, recipes

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only


@pytest.fixture(scope="module")
def digits_data(tmp_path_factory):
    """The built-in digits in a blob store shared by this module's tests (building it takes ~3 s)."""
    blobs = BlobStore(str(tmp_path_factory.mktemp("digits-blobs")))
    return build_table(digits(blobs)), blobs


def _run(digits_data, seed=0, **params):
    table, blobs = digits_data
    return RecipeRun(table=table, params=params, seed=seed, progress=lambda fraction, message: None, blobs=blobs)


@pytest.fixture(scope="module")
def teacher(digits_data):
    return recipes.get("image-cnn").train(_run(digits_data))


@pytest.fixture(scope="module")
def parent(teacher):
    return torch_compression.TorchParent.from_version(teacher.details, teacher.preprocessing, teacher.source_bytes, source_format="safetensors", version_number=1)


def _zero_fraction_of_onnx_weights(onnx_bytes: bytes) -> float:
    # Rank ≥ 2 initializers are the conv and linear weights; biases are not pruned.
    weights = [numpy_helper.to_array(t) for t in onnx.load_from_string(onnx_bytes).graph.initializer if len(t.dims) >= 2]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.size for w in weights)


def test_pruning_reaches_the_target_sparsity_within_two_points_of_the_parent(digits_data, teacher, parent):
    table, blobs = digits_data
    pruned = torch_compression.prune(parent, _run(digits_data), sparsity=0.5, fine_tune_epochs=5)
    details = pruned.details
    assert details["sparsity"] >= 0.5 and details["target_sparsity"] == 0.5 and details["fine_tune_epochs"] == 5
    assert _zero_fraction_of_onnx_weights(pruned.onnx_bytes) >= 0.5  # the masks held through fine-tuning
    assert pruned.metrics["accuracy"] >= teacher.metrics["accuracy"] - 0.02
    assert details["parent_test_accuracy"] == teacher.metrics["accuracy"]
    assert details["compressed_onnx_bytes"] < 0.8 * details["parent_compressed_onnx_bytes"]
    assert "no faster" in details["note"]
    assert details["architecture"] == teacher.details["architecture"] and pruned.preprocessing == teacher.preprocessing

    # The pruned weights are a torch source again (prunable, distillable), and the ONNX runs what they say.
    again = torch_compression.TorchParent.from_version(details, pruned.preprocessing, pruned.source_bytes, source_format=pruned.source_format)
    module = again.module()
    assert torch_compression.measured_sparsity(module) == details["sparsity"]
    images = vision.image_arrays(table, blobs, pruned.preprocessing)[:200]
    with torch.no_grad():
        expected = torch.softmax(module(torch.as_tensor(images)), dim=1).numpy()
    assert np.allclose(ort.InferenceSession(pruned.onnx_bytes).run(["probabilities"], {"image": images})[0], expected, atol=1e-5)


def test_distillation_trains_a_smaller_student_above_90_percent(digits_data, teacher):
    student = torch_compression.distill(
        teacher.onnx_bytes, _run(digits_data), preprocessing=teacher.preprocessing, classes=teacher.details["classes"], epochs=20,
    )
    assert student.metrics["accuracy"] >= 0.9
    assert student.details["student"]["name"] == "small-cnn"
    assert student.details["student"]["parameters"] < student.details["teacher_parameters"] == teacher.details["parameters"]
    assert student.details["teacher_test_accuracy"] == teacher.metrics["accuracy"]
    assert student.details["architecture"]["name"] == "small-cnn" and student.source_format == "safetensors"
    session = ort.InferenceSession(student.onnx_bytes)
    assert [o.name for o in session.get_outputs()] == ["probabilities", "label"]


def test_distillation_loss_follows_the_teacher_at_high_alpha():
    teacher_probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype=np.float32)
    loss = torch_compression.distillation_loss(teacher_probabilities, temperature=1.0, alpha=1.0)
    rows, labels = torch.tensor([0, 1]), torch.tensor([1, 0])  # labels disagree with the teacher; alpha=1 ignores them
    matching = loss(torch.log(torch.as_tensor(teacher_probabilities)), labels, rows)
    assert float(matching) == pytest.approx(0.0, abs=1e-6)
    assert float(loss(torch.zeros(2, 3), labels, rows)) > 0.1


def test_versions_without_a_torch_source_cannot_be_pruned(teacher):
    with pytest.raises(Invalid, match=r"Pruning needs a version trained by a torch recipe \(safetensors weights and an architecture\); version 2 is onnx\."):
        torch_compression.TorchParent.from_version({"classes": ["0", "1"]}, teacher.preprocessing, teacher.onnx_bytes, source_format="onnx", version_number=2)
    with pytest.raises(Invalid, match="version 3 is skops"):
        torch_compression.TorchParent.from_version({"classes": ["0", "1"]}, teacher.preprocessing, b"zip", source_format="skops", version_number=3)
    with pytest.raises(Invalid, match="this version is without source weights"):
        torch_compression.TorchParent.from_version(teacher.details, teacher.preprocessing, None)
    tabular = {"kind": "tabular", "input": "features", "features": ["a"]}
    with pytest.raises(Invalid, match="works on image classifiers"):
        torch_compression.TorchParent.from_version(teacher.details, tabular, teacher.source_bytes)


def test_bad_compression_requests_are_refused(digits_data, teacher, parent):
    run = _run(digits_data)
    with pytest.raises(Invalid, match="'sparsity' parameter must be between 0 and 1"):
        torch_compression.prune(parent, run, sparsity=1.5)
    with pytest.raises(Invalid, match="'temperature' parameter must be above 0"):
        torch_compression.distill(teacher.onnx_bytes, run, preprocessing=teacher.preprocessing, classes=teacher.details["classes"], temperature=0)
    with pytest.raises(Invalid, match="labels the model does not know"):
        torch_compression.distill(teacher.onnx_bytes, run, preprocessing=teacher.preprocessing, classes=["0", "1"])
    renamed = {**teacher.preprocessing, "input": "pixels"}
    with pytest.raises(Invalid, match="must take one input named 'pixels'"):
        torch_compression.distill(teacher.onnx_bytes, run, preprocessing=renamed, classes=teacher.details["classes"], epochs=1)
    wrong_weights = torchnets.weights_to_bytes(torchnets.build_module({"name": "small-cnn", "config": {**parent.config, "channels": [8, 16]}}))
    with pytest.raises(Invalid, match="weights do not fit the architecture"):
        torch_compression.TorchParent(parent.architecture, parent.config, wrong_weights, parent.preprocessing, parent.classes).module()
