"""int8 quantization of real models: a torch CNN trained on sklearn digits (static and dynamic),
a scikit-learn MLP (dynamic), and the refusals for inputs static quantization cannot calibrate.

The CNN is conv 1→16→32 (3×3), max-pool, dense 512→256→10: 138k parameters, a 0.55 MB FP32 ONNX
file of which weights are over 99%, so int8 storage should make it nearly 4× smaller.
"""

from __future__ import annotations

import io

import warnings

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from aicommons.core.errors import Invalid
from aicommons.models.artifacts import signature_of
from aicommons.models.quantization import quantize_dynamic_int8, quantize_static_int8, quantized_ops

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only


def run(onnx_bytes: bytes, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs), strict=True))


def accuracy(onnx_bytes: bytes, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(run(onnx_bytes, {"image": x})["label"] == y))


def checked(onnx_bytes: bytes) -> bytes:
    onnx.checker.check_model(onnx.load_model_from_string(onnx_bytes), full_check=True)
    return onnx_bytes


@pytest.fixture(scope="module")
def digits():
    """sklearn digits as normalised [N, 1, 8, 8] float32, split 80/20 stratified."""
    bunch = load_digits()
    x = (bunch.images / 16).astype(np.float32)[:, None]
    x = (x - x.mean()) / x.std()
    return train_test_split(x, bunch.target, test_size=0.2, stratify=bunch.target, random_state=0)


@pytest.fixture(scope="module")
def digits_cnn(digits) -> bytes:
    import torch

    x_train, _, y_train, _ = digits
    torch.manual_seed(0)
    torch.set_num_threads(1)

    class DigitsCNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.Sequential(
                torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
                torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(512, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10),
            )

        def forward(self, image):
            logits = self.layers(image)
            return torch.softmax(logits, dim=1), torch.argmax(logits, dim=1)

    net = DigitsCNN()
    optimiser = torch.optim.Adam(net.parameters(), lr=2e-3)
    features, targets = torch.from_numpy(x_train), torch.from_numpy(y_train)
    for _ in range(6):
        order = torch.randperm(len(features))
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            optimiser.zero_grad()
            torch.nn.functional.cross_entropy(net.layers(features[batch]), targets[batch]).backward()
            optimiser.step()
    net.eval()
    buffer = io.BytesIO()
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated, and stable for a plain Sequential
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net, (torch.zeros(1, 1, 8, 8),), buffer, input_names=["image"], output_names=["probabilities", "label"],
            dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}, "label": {0: "batch"}}, dynamo=False,
        )
    return buffer.getvalue()


def test_static_int8_cnn_is_nearly_4x_smaller_and_as_accurate(digits, digits_cnn):
    x_train, x_test, _, y_test = digits
    assert 500_000 < len(digits_cnn) < 600_000
    quantized = checked(quantize_static_int8(digits_cnn, {"image": x_train[:256]}))
    assert len(digits_cnn) / len(quantized) >= 3.5
    assert signature_of(quantized) == signature_of(digits_cnn)
    before, after = accuracy(digits_cnn, x_test, y_test), accuracy(quantized, x_test, y_test)
    assert before > 0.95
    assert after >= before - 0.01  # at most one point lost on the 360 test digits
    ops = quantized_ops(quantized)
    assert ops["Conv"] == 2 and ops["Gemm"] == 2 and ops["MaxPool"] == 1 and "ArgMax" not in ops
    assert quantized_ops(digits_cnn) == {}


@pytest.mark.parametrize(("method", "per_channel"), [("entropy", True), ("percentile", False)])
def test_other_calibration_methods_give_accurate_graphs(digits, digits_cnn, method, per_channel):
    x_train, x_test, _, y_test = digits
    quantized = checked(quantize_static_int8(digits_cnn, {"image": x_train[:128]}, method=method, per_channel=per_channel, batch_size=16))
    assert accuracy(quantized, x_test, y_test) >= accuracy(digits_cnn, x_test, y_test) - 0.01
    assert len(digits_cnn) / len(quantized) >= 3.5


def test_dynamic_int8_rewrites_conv_and_matmul_ops(digits, digits_cnn):
    _, x_test, _, y_test = digits
    quantized = checked(quantize_dynamic_int8(digits_cnn))
    assert signature_of(quantized) == signature_of(digits_cnn)
    assert quantized_ops(quantized) == {"ConvInteger": 2, "MatMulInteger": 2}
    assert len(digits_cnn) / len(quantized) >= 3.5
    assert accuracy(quantized, x_test, y_test) >= accuracy(digits_cnn, x_test, y_test) - 0.01
    only_matmul = quantize_dynamic_int8(digits_cnn, op_types=["MatMul"])
    assert quantized_ops(only_matmul) == {"MatMulInteger": 2}
    first_conv = next(n.name for n in onnx.load_model_from_string(digits_cnn).graph.node if n.op_type == "Conv")
    assert quantized_ops(quantize_dynamic_int8(digits_cnn, keep_float=[first_conv])) == {"ConvInteger": 1, "MatMulInteger": 2}
    with pytest.raises(Invalid, match=r"keep_float names nodes the model does not have: \['/nowhere'\]"):
        quantize_dynamic_int8(digits_cnn, keep_float=["/nowhere"])


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dynamic_int8_of_a_scikit_learn_mlp_keeps_its_predictions(digits):
    from sklearn.neural_network import MLPClassifier
    from skl2onnx import to_onnx

    x_train, x_test, y_train, _ = digits
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    with threadpool_limits(1):  # a second BLAS thread slows the fit tenfold on a busy two-core machine
        mlp = MLPClassifier(hidden_layer_sizes=(256,), max_iter=20, random_state=0).fit(flat_train, y_train)
    model = to_onnx(mlp, flat_train[:1], options={id(mlp): {"zipmap": False}}).SerializeToString()
    quantized = checked(quantize_dynamic_int8(model))
    assert quantized_ops(quantized).get("MatMulInteger") == 2
    assert len(model) / len(quantized) > 3
    parent, child = run(model, {"X": flat_test}), run(quantized, {"X": flat_test})
    assert np.mean(parent["label"] == child["label"]) >= 0.99
    assert np.abs(parent["probabilities"] - child["probabilities"]).max() < 0.1


def test_graphs_joined_by_onnx_compose_are_quantized(digits, digits_cnn):
    """merge_models lists the default opset once per joined graph; the quantizer needs one."""
    from onnx import TensorProto, helper

    _, x_test, _, y_test = digits
    scale = helper.make_graph(
        [helper.make_node("Identity", ["probs_in"], ["scaled"])], "identity",
        [helper.make_tensor_value_info("probs_in", TensorProto.FLOAT, ["batch", 10])],
        [helper.make_tensor_value_info("scaled", TensorProto.FLOAT, ["batch", 10])],
    )
    cnn = onnx.load_model_from_string(digits_cnn)
    tail = helper.make_model(scale, opset_imports=list(cnn.opset_import), ir_version=cnn.ir_version)
    joined = onnx.compose.merge_models(cnn, tail, io_map=[("probabilities", "probs_in")])
    assert [o.domain for o in joined.opset_import].count("") == 2
    quantized = checked(quantize_dynamic_int8(joined.SerializeToString()))
    assert quantized_ops(quantized) == {"ConvInteger": 2, "MatMulInteger": 2}
    assert accuracy(quantized, x_test, y_test) >= accuracy(digits_cnn, x_test, y_test) - 0.01


def test_a_graph_with_nothing_int8_can_store_is_refused(digits):
    from sklearn.tree import DecisionTreeClassifier
    from skl2onnx import to_onnx

    x_train, _, y_train, _ = digits
    flat_train = x_train.reshape(len(x_train), -1)
    tree = DecisionTreeClassifier(max_depth=6, random_state=0).fit(flat_train, y_train)
    model = to_onnx(tree, flat_train[:1], options={id(tree): {"zipmap": False}}).SerializeToString()
    with pytest.raises(Invalid, match="Dynamic int8 quantization has nothing to quantize .* the model has TreeEnsembleClassifier"):
        quantize_dynamic_int8(model)
    with pytest.raises(Invalid, match="Static int8 quantization has nothing to quantize"):
        quantize_static_int8(model, {"X": flat_train[:10]})


def test_static_quantization_refuses_what_it_cannot_calibrate(digits, digits_cnn):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType

    x_train = digits[0]
    with pytest.raises(Invalid, match="calibration set is empty"):
        quantize_static_int8(digits_cnn, {"image": x_train[:0]})
    with pytest.raises(Invalid, match="calibration data lacks input 'image'"):
        quantize_static_int8(digits_cnn, {})
    with pytest.raises(Invalid, match="calibration method must be one of minmax, entropy, percentile; got 'kmeans'"):
        quantize_static_int8(digits_cnn, {"image": x_train[:8]}, method="kmeans")
    texts = ["好 评", "差 评", "很 好", "很 差"]
    pipeline = make_pipeline(TfidfVectorizer(token_pattern=r"\S+"), LogisticRegression()).fit(texts, [1, 0, 1, 0])
    text_model = to_onnx(
        pipeline, initial_types=[("text", StringTensorType([None, 1]))], options={id(pipeline.steps[0][1]): {"separators": [" "]}}
    ).SerializeToString()
    with pytest.raises(Invalid, match=r"needs numeric inputs; this model takes strings \(text\)"):
        quantize_static_int8(text_model, {"text": np.array([["好 评"]], dtype=object)})


def outlier_mlp(seed: int = 0) -> tuple[bytes, np.ndarray, np.ndarray]:
    """x [N, 64] → MatMul 64×128 → Relu → MatMul 128×16, and inputs whose channel 5 is 40 times the
    others, as a transformer's LayerNorm outputs have a few such channels. Returns the model,
    calibration rows and test rows."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    w1, w2 = rng.normal(0, 0.15, (64, 128)).astype(np.float32), rng.normal(0, 0.1, (128, 16)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w1"], ["h"], name="first"), helper.make_node("Relu", ["h"], ["r"], name="relu"),
         helper.make_node("MatMul", ["r", "w2"], ["y"], name="second")],
        "outliers", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 16])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(w2, "w2")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    def rows(count: int) -> np.ndarray:
        x = rng.normal(0, 1, (count, 64)).astype(np.float32)
        x[:, 5] *= 40
        return x

    return model.SerializeToString(), rows(64), rows(256)


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))))


def test_outlier_channels_stay_float_given_calibration_inputs():
    from aicommons.models.quantization import outlier_channels

    model, calibration, test = outlier_mlp()
    reference = run(model, {"x": test})["y"]
    plain = checked(quantize_dynamic_int8(model))
    split = checked(quantize_dynamic_int8(model, calibration={"x": calibration}))
    assert outlier_channels(plain) == 0 and outlier_channels(split) == 1  # channel 5 of x; the Relu output has none
    assert signature_of(split) == signature_of(model)
    # The int8 MatMuls stay; the outlier channel runs through a 1-row float MatMul beside the first.
    assert quantized_ops(split) == {"MatMulInteger": 2}
    graph = onnx.load_model_from_string(split).graph
    float_weights = {t.name: list(t.dims) for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    assert [float_weights.get(n.input[1]) for n in graph.node if n.op_type == "MatMul"] == [[1, 128]]  # w1's row for channel 5
    plain_error = 1 - mean_cosine(run(plain, {"x": test})["y"], reference)
    split_error = 1 - mean_cosine(run(split, {"x": test})["y"], reference)
    assert split_error < plain_error / 5, (plain_error, split_error)
    # Static quantization finds them on its own calibration inputs; None turns the split off.
    static = checked(quantize_static_int8(model, {"x": calibration}))
    static_plain = checked(quantize_static_int8(model, {"x": calibration}, outlier_threshold=None))
    assert outlier_channels(static) == 1 and outlier_channels(static_plain) == 0
    static_error = 1 - mean_cosine(run(static, {"x": test})["y"], reference)
    static_plain_error = 1 - mean_cosine(run(static_plain, {"x": test})["y"], reference)
    assert static_error < static_plain_error / 5, (static_plain_error, static_error)
    # A threshold above the outlier's ratio finds nothing; a ratio of 1 or less is refused.
    assert outlier_channels(quantize_dynamic_int8(model, calibration={"x": calibration}, outlier_threshold=500)) == 0
    with pytest.raises(Invalid, match="outlier threshold .* must be above 1"):
        quantize_dynamic_int8(model, calibration={"x": calibration}, outlier_threshold=1)
    with pytest.raises(Invalid, match="calibration data lacks input 'x'"):
        quantize_dynamic_int8(model, calibration={"image": calibration})


def test_embedding_tables_are_stored_with_a_scale_per_row():
    """Rows of very different magnitudes (a frequent token's and a rare one's, positions): one scale
    for the whole table rounds the small rows to a few levels, a scale per row keeps them."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    table = (rng.normal(0, 1, (500, 32)) * rng.uniform(0.01, 1, (500, 1))).astype(np.float32)
    table[7] *= 30  # one row far larger than the rest
    graph = helper.make_graph(
        [helper.make_node("Gather", ["table", "ids"], ["rows"], name="embed"), helper.make_node("ReduceMean", ["rows"], ["pooled"], axes=[1], keepdims=0)],
        "embedding", [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "tokens"])],
        [helper.make_tensor_value_info("pooled", TensorProto.FLOAT, ["batch", 32])], [numpy_helper.from_array(table, "table")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    ids = {"ids": rng.integers(0, 500, (200, 6))}
    reference = run(model, ids)["pooled"]
    by_row, by_table = checked(quantize_dynamic_int8(model)), checked(quantize_dynamic_int8(model, row_wise_embeddings=False))
    static_by_row = checked(quantize_static_int8(model, ids, op_types=["Gather"]))
    for quantized in (by_row, by_table, static_by_row):
        assert quantized_ops(quantized) == {"Gather": 1} and len(model) / len(quantized) > 3.3
    # The stored tensors keep the suffixes that say what they are (their names are shortened).
    initializers = {t.name.rsplit("/", 1)[-1]: t for t in onnx.load_model_from_string(by_row).graph.initializer}
    assert initializers["int8"].data_type == onnx.TensorProto.INT8 and list(initializers["row_scale"].dims) == [500, 1]
    assert 1 - mean_cosine(run(by_row, ids)["pooled"], reference) < 5e-5
    assert 1 - mean_cosine(run(by_row, ids)["pooled"], reference) < (1 - mean_cosine(run(by_table, ids)["pooled"], reference)) / 10
    assert 1 - mean_cosine(run(static_by_row, ids)["pooled"], reference) < 5e-5
    # A Gather named in keep_float keeps its float table.
    assert quantized_ops(quantize_dynamic_int8(model, keep_float=["embed"])) == {}


def test_static_int8_leaves_matmuls_of_two_activations_in_float_unless_asked():
    """Attention-like scores h·hᵀ: both sides are activations, and a fixed int8 range for them (and
    for softmax probabilities after them) loses the small values; by default only the MatMul with
    constant weights is quantized."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="project"), helper.make_node("Transpose", ["h"], ["ht"], perm=[1, 0], name="flip"),
         helper.make_node("MatMul", ["h", "ht"], ["scores"], name="scores")],
        "scores", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["rows", 32])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["rows", "rows"])],
        [numpy_helper.from_array(rng.normal(0, 0.2, (32, 16)).astype(np.float32), "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()
    calibration = {"x": rng.normal(0, 1, (64, 32)).astype(np.float32)}
    by_default = checked(quantize_static_int8(model, calibration, batch_size=16))
    asked = checked(quantize_static_int8(model, calibration, batch_size=16, activation_matmuls=True))
    assert quantized_ops(by_default)["MatMul"] == 1 and quantized_ops(asked)["MatMul"] == 2
    x = {"x": calibration["x"][:16]}
    reference = run(model, x)["scores"]
    assert np.abs(run(by_default, x)["scores"] - reference).max() < 0.03 * np.abs(reference).max()
