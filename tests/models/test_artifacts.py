"""Model files: ONNX and skops are read (and run in ONNX Runtime); pickles and broken files are refused."""

from __future__ import annotations

import io
import pickle
import zipfile

import joblib
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import skops.io as sio
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from aicommons.core.errors import Invalid
from aicommons.models.artifacts import (
    Artifact,
    Signature,
    TensorSpec,
    inspect_model_file,
    signature_of,
)

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only

PICKLE_WORDS = ("pickle", "arbitrary code", "never loads them", "skops.io.dump", "safetensors")


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def logistic(data):
    X, y = data
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y)


@pytest.fixture(scope="module")
def forest(data):
    X, y = data
    return RandomForestClassifier(n_estimators=20, max_depth=6, random_state=0).fit(X, y)


def write(tmp_path, name: str, payload: bytes):
    path = tmp_path / name
    path.write_bytes(payload)
    return path


def run_onnx(artifact: Artifact, X: np.ndarray) -> list[np.ndarray]:
    session = ort.InferenceSession(artifact.onnx_bytes, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: X})


def refused(path, *words: str) -> str:
    with pytest.raises(Invalid) as info:
        inspect_model_file(path)
    for word in words:
        assert word in info.value.message, info.value.message
    return info.value.message


# --- skops ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["logistic", "forest"])
def test_skops_model_is_converted_and_predicts_like_sklearn(request, tmp_path, data, which):
    model = request.getfixturevalue(which)
    X, _ = data
    path = tmp_path / "model.skops"
    sio.dump(model, path)

    artifact = inspect_model_file(path)

    assert artifact.source_format == "skops" and artifact.framework == "scikit-learn"
    assert artifact.source_bytes == path.read_bytes()
    assert artifact.details["n_features_in"] == 30 and artifact.details["classes"] == [0, 1]
    assert type(model).__name__ in artifact.details["estimator"]
    sig = artifact.signature
    assert [t.as_dict() for t in sig.inputs] == [{"name": "X", "dtype": "float32", "shape": [None, 30]}]
    assert [(t.name, t.dtype) for t in sig.outputs] == [("label", "int64"), ("probabilities", "float32")]
    assert sig.outputs[1].shape == [None, 2]

    labels, probabilities = run_onnx(artifact, X)
    np.testing.assert_array_equal(labels, model.predict(X))
    np.testing.assert_allclose(probabilities, model.predict_proba(X), atol=1e-4)
    assert signature_of(artifact.onnx_bytes) == sig


def test_skops_with_an_untrusted_function_is_refused_naming_it(tmp_path):
    path = tmp_path / "model.skops"
    sio.dump(FunctionTransformer(func=eval), path)
    refused(path, "builtins.eval", "does not trust")


class HomeMadeClassifier(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        self.n_features_in_ = X.shape[1]
        return self


def test_skops_with_a_custom_class_is_refused_naming_it(tmp_path, data):
    path = tmp_path / "model.skops"
    sio.dump(HomeMadeClassifier().fit(*data), path)
    refused(path, "HomeMadeClassifier", "does not trust")


def test_skops_of_something_that_is_not_an_estimator_is_refused(tmp_path):
    path = tmp_path / "weights.skops"
    sio.dump({"w": np.ones(3)}, path)
    refused(path, "not a fitted scikit-learn estimator")


# --- ONNX ----------------------------------------------------------------------------------------


def small_graph(*, broken: bool = False) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [None])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    n = helper.make_tensor_value_info("n", TensorProto.INT64, [1])
    nodes = [
        helper.make_node("Relu", ["missing" if broken else "x"], ["y"]),
        helper.make_node("Shape", ["ids"], ["n"]),
    ]
    graph = helper.make_graph(nodes, "small", [x, ids], [y, n])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")


def test_onnx_from_helper_has_its_signature(tmp_path):
    path = write(tmp_path, "no-extension", small_graph().SerializeToString())

    artifact = inspect_model_file(path)

    assert artifact.source_format == "onnx" and artifact.framework == "onnx" and artifact.source_bytes is None
    assert artifact.signature == Signature(
        inputs=[TensorSpec("x", "float32", ["batch", 3]), TensorSpec("ids", "int64", [None])],
        outputs=[TensorSpec("y", "float32", ["batch", 3]), TensorSpec("n", "int64", [1])],
    )
    assert artifact.details["opset"] == {"ai.onnx": 17} and artifact.details["producer_name"] == "test"
    assert Signature.from_dict(artifact.signature.as_dict()) == artifact.signature
    session = ort.InferenceSession(artifact.onnx_bytes, providers=["CPUExecutionProvider"])
    y, n = session.run(None, {"x": np.array([[-1, 0, 2]], np.float32), "ids": np.arange(4)})
    assert y.tolist() == [[0, 0, 2]] and n.tolist() == [4]


def test_onnx_from_skl2onnx_has_its_signature(tmp_path, data, logistic):
    X, _ = data
    path = write(tmp_path, "model.onnx", to_onnx(logistic, X[:1]).SerializeToString())
    artifact = inspect_model_file(path)
    assert artifact.signature.inputs == [TensorSpec("X", "float32", [None, 30])]
    # with skl2onnx's default ZipMap the probabilities are a sequence of maps, not a tensor
    assert [(t.name, t.dtype) for t in artifact.signature.outputs] == [
        ("output_label", "int64"), ("output_probability", "sequence<map<int64,float32>>")
    ]
    assert artifact.details["producer_name"] == "skl2onnx"


def test_truncated_onnx_is_refused(tmp_path, data, logistic):
    X, _ = data
    payload = to_onnx(logistic, X[:1]).SerializeToString()
    message = refused(write(tmp_path, "model.onnx", payload[: len(payload) // 2]), "ONNX")
    assert "truncated or corrupt" in message or "onnx.checker" in message


def test_onnx_with_a_broken_graph_is_refused_naming_the_checker_complaint(tmp_path):
    refused(write(tmp_path, "model.onnx", small_graph(broken=True).SerializeToString()), "onnx.checker", "missing")


def test_onnx_onnxruntime_cannot_load_is_refused(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    graph = helper.make_graph([helper.make_node("Mystery", ["x"], ["y"], domain="com.example")], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)])
    refused(write(tmp_path, "model.onnx", model.SerializeToString()), "ONNX Runtime cannot load it", "Mystery")


# --- pickles -------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [0, 1, 2, pickle.HIGHEST_PROTOCOL])
def test_pickles_are_refused_whatever_the_name(tmp_path, logistic, protocol):
    path = write(tmp_path, "model.onnx", pickle.dumps(logistic, protocol=protocol))
    refused(path, "Python pickle", *PICKLE_WORDS)


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)])
def test_joblib_files_are_refused(tmp_path, forest, compress):
    path = tmp_path / "model.joblib"
    joblib.dump(forest, path, compress=compress)
    message = refused(path, *PICKLE_WORDS)
    if compress:
        assert "joblib" in message


def test_torch_checkpoint_zip_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"weight": [1.0, 2.0]}))
        archive.writestr("archive/version", "3\n")
        archive.writestr("archive/data/0", b"\x00" * 16)
    refused(write(tmp_path, "model.pt", buffer.getvalue()), "PyTorch checkpoint", "archive/data.pkl", *PICKLE_WORDS)


# --- other refusals ------------------------------------------------------------------------------


def test_empty_file_is_refused(tmp_path):
    refused(write(tmp_path, "model.onnx", b""), "empty")


def test_random_bytes_are_refused(tmp_path):
    payload = np.random.default_rng(7).bytes(4096)
    assert payload[0] not in (0x08, 0x80)
    refused(write(tmp_path, "model.onnx", payload), "not a model aicommons can read", "expected ONNX or skops")


def test_a_zip_that_is_not_skops_is_refused(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    refused(write(tmp_path, "model.skops", buffer.getvalue()), "without a skops schema.json")


def test_safetensors_alone_is_refused_with_advice(tmp_path):
    header = b'{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}'
    payload = len(header).to_bytes(8, "little") + header + np.ones(2, np.float32).tobytes()
    refused(write(tmp_path, "model.safetensors", payload), "safetensors", "ONNX")


def test_oversize_and_missing_files_are_refused(tmp_path):
    path = write(tmp_path, "model.onnx", small_graph().SerializeToString())
    with pytest.raises(Invalid, match="the limit is 10 bytes"):
        inspect_model_file(path, max_bytes=10)
    with pytest.raises(Invalid, match="'path' parameter of inspect_model_file must be an existing file"):
        inspect_model_file(tmp_path / "absent.onnx")
