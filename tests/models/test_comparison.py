"""The parent/child comparison every compression writes, measured on real ONNX models: a
scikit-learn MLP on digits and its int8 child, a small mean-pooling encoder, a fixed-batch graph."""

from __future__ import annotations

import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from aicommons.core.errors import Invalid
from aicommons.models.comparison import compare
from aicommons.models.quantization import quantize_dynamic_int8

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only


@pytest.fixture(scope="module")
def digits_mlp():
    """A scikit-learn MLP on digits as ONNX (64 → 256 → 10), its dynamic int8 child, and the test split."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    from skl2onnx import to_onnx

    bunch = load_digits()
    x = (bunch.data / 16).astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, bunch.target, test_size=0.2, stratify=bunch.target, random_state=0)
    # One BLAS thread: on a busy two-core machine a second one slows the fit tenfold.
    with pytest.warns(ConvergenceWarning), threadpool_limits(1):
        mlp = MLPClassifier(hidden_layer_sizes=(256,), max_iter=30, random_state=0).fit(x_train, y_train)
    parent = to_onnx(mlp, x_train[:1], options={id(mlp): {"zipmap": False}}).SerializeToString()
    return parent, quantize_dynamic_int8(parent), x_test, y_test, mlp


def test_compare_reports_size_latency_accuracy_and_agreement(digits_mlp):
    parent, child, x_test, y_test, mlp = digits_mlp
    started = time.perf_counter()
    report = compare(parent, child, {"X": x_test}, y_test)
    assert time.perf_counter() - started < 2.0  # cheap enough to run after every compression
    assert report["samples"] == len(x_test) and report["threads"] == 1
    assert report["parent"]["size_bytes"] == len(parent) and report["child"]["size_bytes"] == len(child)
    assert report["parent"]["accuracy"] == pytest.approx(mlp.score(x_test, y_test), abs=1e-6)
    for side in ("parent", "child"):
        for size in ("1", "32"):
            latency = report[side]["latency_ms"][size]
            assert 0 < latency["p50"] <= latency["p95"] and latency["runs"] >= 5
    child_report, deltas = report["child"], report["deltas"]
    assert child_report["cosine_to_parent"] > 0.99 and child_report["label_agreement"] >= 0.98
    assert deltas["size_ratio"] == pytest.approx(len(parent) / len(child), rel=1e-3) and deltas["size_ratio"] > 3
    assert deltas["accuracy_points"] == pytest.approx((child_report["accuracy"] - report["parent"]["accuracy"]) * 100, abs=1e-3)
    assert abs(deltas["accuracy_points"]) <= 1.0
    expected_b32 = report["parent"]["latency_ms"]["32"]["p50"] / report["child"]["latency_ms"]["32"]["p50"]
    assert deltas["speedup_b32"] == pytest.approx(expected_b32, rel=1e-3) and deltas["speedup_b1"] > 0


def test_a_model_compared_with_itself_agrees_fully(digits_mlp):
    parent, _, x_test, y_test, _ = digits_mlp
    report = compare(parent, parent, {"X": x_test[:50]}, y_test[:50], batch_sizes=(1, 8), repeats=7)
    assert report["child"]["cosine_to_parent"] == pytest.approx(1.0) and report["child"]["label_agreement"] == 1.0
    assert report["deltas"]["accuracy_points"] == 0.0 and report["deltas"]["size_ratio"] == 1.0
    assert set(report["parent"]["latency_ms"]) == {"1", "8"} and report["child"]["latency_ms"]["8"]["runs"] == 7
    assert set(report["deltas"]) == {"size_ratio", "speedup_b1", "speedup_b8", "accuracy_points"}


def mean_pooling_encoder(vocabulary: int = 2000, width: int = 32, seed: int = 0) -> bytes:
    """Token embeddings averaged over the attention mask and L2-normalised: the shape of a sentence
    encoder, with a per-token output whose length follows the input's."""
    table = np.random.default_rng(seed).normal(0, 1, (vocabulary, width)).astype(np.float32)
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["tokens"]),
        helper.make_node("Cast", ["attention_mask"], ["mask_float"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_float", "last_axis"], ["mask"]),
        helper.make_node("Mul", ["tokens", "mask"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "sequence_axis"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask", "sequence_axis"], ["counts"], keepdims=0),
        helper.make_node("Div", ["summed", "counts"], ["mean"]),
        helper.make_node("LpNormalization", ["mean"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        nodes, "encoder",
        [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in ("input_ids", "attention_mask")],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", width]),
         helper.make_tensor_value_info("tokens", TensorProto.FLOAT, ["batch", "sequence", width])],
        [numpy_helper.from_array(table, "table"), numpy_helper.from_array(np.array([2], np.int64), "last_axis"),
         numpy_helper.from_array(np.array([1], np.int64), "sequence_axis")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_encoders_are_compared_by_embedding_cosine_on_batches_without_unused_padding():
    rng = np.random.default_rng(1)
    rows, padded = 300, 40
    lengths = np.where(np.arange(rows) < 256, 5, 12)  # the first chunk of rows is short, the second longer
    ids = np.zeros((rows, padded), dtype=np.int64)
    mask = np.zeros((rows, padded), dtype=np.int64)
    for row, length in enumerate(lengths):
        ids[row, :length] = rng.integers(1, 2000, length)
        mask[row, :length] = 1
    parent = mean_pooling_encoder()
    child = quantize_dynamic_int8(parent)
    report = compare(parent, child, {"input_ids": ids, "attention_mask": mask}, None, repeats=5)
    assert report["child"]["cosine_to_parent"] > 0.99
    assert report["child"]["label_agreement"] is None and "accuracy" not in report["child"]
    # An int8 table with a float scale per 32-wide row: at most 4 / (1 + 4/32) = 3.56 times smaller.
    assert report["deltas"]["accuracy_points"] is None and report["deltas"]["size_ratio"] > 3.4


def fixed_batch_graph() -> bytes:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "fixed",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_a_fixed_batch_graph_is_timed_only_at_its_batch_size():
    model = fixed_batch_graph()
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float32)
    report = compare(model, model, {"x": x}, None, repeats=5)
    assert report["parent"]["latency_ms"]["32"] is None and report["deltas"]["speedup_b32"] is None
    assert report["parent"]["latency_ms"]["1"]["runs"] == 5 and report["child"]["cosine_to_parent"] == pytest.approx(1.0)


def test_inputs_that_cannot_be_compared_are_refused(digits_mlp):
    parent, child, x_test, y_test, _ = digits_mlp
    with pytest.raises(Invalid, match="needs the models' inputs"):
        compare(parent, child, {}, None)
    with pytest.raises(Invalid, match=r"same, non-zero number of rows; got \{'X': 0\}"):
        compare(parent, child, {"X": x_test[:0]}, None)
    with pytest.raises(Invalid, match="got 5 labels for 360 input rows"):
        compare(parent, child, {"X": x_test}, y_test[:5], repeats=5)
