"""Real subjects for testing evaluation tests: scikit-learn models trained on real data, converted to
ONNX with skl2onnx, wrapped in a `Subject` exactly as a run builds one (preprocessing spec, signature,
splits of raw instances, labels and records).

    from evaluation.subjects import digits_subject, cancer_subject, tabular_subject

Trained models are cached per process, so a module of tests trains each once.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
import pyarrow as pa
from onnx import TensorProto, helper
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from aicommons.evaluation.subject import Split, Subject
from aicommons.models.artifacts import signature_of

DIGITS_CLASSES = [str(d) for d in range(10)]


def onnx_classifier(estimator: Any, example: np.ndarray) -> bytes:
    """A fitted scikit-learn classifier as ONNX whose "probabilities" output is a plain float matrix."""
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    model = to_onnx(estimator, example[:1].astype(np.float32), options={id(final): {"zipmap": False}}, target_opset=17)
    return model.SerializeToString()


def with_image_input(flat_onnx: bytes, height: int, width: int) -> bytes:
    """A classifier over flat pixel rows [N, h*w] made to take images [N, 1, h, w], the way an image
    model's preprocessing feeds it: a Reshape in front of the original graph."""
    model = onnx.load_model_from_string(flat_onnx)
    graph = model.graph
    flat_name = graph.input[0].name
    graph.input.pop()
    graph.input.append(helper.make_tensor_value_info("image", TensorProto.FLOAT, [None, 1, height, width]))
    graph.initializer.append(helper.make_tensor("flat_shape", TensorProto.INT64, [2], [-1, height * width]))
    graph.node.insert(0, helper.make_node("Reshape", ["image", "flat_shape"], [flat_name]))
    onnx.checker.check_model(model)
    return model.SerializeToString()


def split(raw: Sequence[Any], labels: Sequence[int] | np.ndarray | None, **fields: Sequence[Any]) -> Split:
    """A split whose records hold a record_id, the label index and any extra fields given."""
    columns: dict[str, Any] = {"record_id": [f"r{i}" for i in range(len(raw))]}
    columns.update({name: list(values) for name, values in fields.items()})
    return Split(raw=list(raw), labels=None if labels is None else np.asarray(labels, dtype=int), records=pa.table(columns))


def tabular_subject(
    onnx_bytes: bytes, features: Sequence[str], classes: Sequence[str], evaluation: Split, training: Split | None = None,
    *, seed: int = 0, progress: Callable[[float, str], None] | None = None,
    pii_scan: Callable[[list[str]], dict[str, int]] | None = None,
) -> Subject:
    return Subject(
        onnx_bytes=onnx_bytes,
        preprocessing={"kind": "tabular", "input": signature_of(onnx_bytes).inputs[0].name, "features": list(features)},
        signature=signature_of(onnx_bytes).as_dict(), classes=classes, evaluation=evaluation, training=training,
        task="tabular-classification", seed=seed, progress=progress, pii_scan=pii_scan,
    )


# --- digits (10 classes, images or 64 pixel features) -------------------------------------------


@functools.cache
def digits_data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits images (8×8, 0–16) and labels split 2:1 (seeded): train images, labels, test images, labels."""
    bunch = load_digits()
    order = np.random.default_rng(0).permutation(len(bunch.target))
    train, test = order[:1200], order[1200:]
    return bunch.images[train], bunch.target[train], bunch.images[test], bunch.target[test]


@functools.cache
def digits_model() -> tuple[LogisticRegression, bytes]:
    """A logistic regression trained on the digits training split's pixels / 16, and its ONNX over [N, 64]."""
    train_images, train_labels, _, _ = digits_data()
    flat = train_images.reshape(len(train_images), -1) / 16.0
    model = LogisticRegression(max_iter=2000, C=0.5).fit(flat, train_labels)
    return model, onnx_classifier(model, flat)


def digits_subject(
    kind: str = "image", *, with_training: bool = False, limit: int | None = None, seed: int = 0,
    progress: Callable[[float, str], None] | None = None, pii_scan: Callable[[list[str]], dict[str, int]] | None = None,
) -> Subject:
    """The digits logistic regression as an image model (8×8 grey pixels 0–255, scaled by 1/255 into
    a [N, 1, 8, 8] graph) or as a tabular model over 64 pixel features (0–16, divided by 16 in the
    features the caller sends: the raw instances here are already divided)."""
    train_images, train_labels, test_images, test_labels = digits_data()
    flat = digits_model()[1]
    if limit is not None:
        test_images, test_labels = test_images[:limit], test_labels[:limit]
    if kind == "image":
        onnx_bytes = with_image_input(flat, 8, 8)

        def as_raw(images: np.ndarray) -> list[np.ndarray]:
            # Digits' 0–16 pixels as the 0–255 grey levels an image model receives.
            return [(image * (255.0 / 16.0)).astype(np.float32)[:, :, None] for image in images]

        def make(images: np.ndarray, labels: np.ndarray) -> Split:
            return split(as_raw(images), labels, label=[DIGITS_CLASSES[i] for i in labels])

        return Subject(
            onnx_bytes=onnx_bytes,
            preprocessing={"kind": "image", "input": "image", "size": [8, 8], "mode": "L", "scale": 1 / 255.0, "layout": "NCHW"},
            signature=signature_of(onnx_bytes).as_dict(), classes=DIGITS_CLASSES, evaluation=make(test_images, test_labels),
            training=make(train_images, train_labels) if with_training else None, task="image-classification",
            seed=seed, progress=progress, pii_scan=pii_scan,
        )

    def rows(images: np.ndarray, labels: np.ndarray) -> Split:
        return split([image.reshape(-1) / 16.0 for image in images], labels, label=[DIGITS_CLASSES[i] for i in labels])

    return tabular_subject(
        flat, [f"pixel_{i}" for i in range(64)], DIGITS_CLASSES, rows(test_images, test_labels),
        rows(train_images, train_labels) if with_training else None, seed=seed, progress=progress, pii_scan=pii_scan,
    )


# --- breast cancer (binary tabular) -------------------------------------------------------------


@functools.cache
def cancer_data() -> tuple[np.ndarray, np.ndarray, list[str], list[str], np.ndarray, np.ndarray]:
    """Breast-cancer features and labels, split 2:1 (seeded): train X, y, feature names, class names, test X, y."""
    bunch = load_breast_cancer()
    order = np.random.default_rng(1).permutation(len(bunch.target))
    train, test = order[:380], order[380:]
    return bunch.data[train], bunch.target[train], list(bunch.feature_names), list(bunch.target_names), bunch.data[test], bunch.target[test]


@functools.cache
def cancer_model() -> tuple[Any, bytes]:
    """A standardised logistic regression trained on the breast-cancer training split, and its ONNX."""
    x_train, y_train, *_ = cancer_data()
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)).fit(x_train, y_train)
    return model, onnx_classifier(model, x_train)


def cancer_subject(
    *, onnx_bytes: bytes | None = None, with_training: bool = False, seed: int = 0,
    progress: Callable[[float, str], None] | None = None, pii_scan: Callable[[list[str]], dict[str, int]] | None = None,
    evaluation_fields: dict[str, Sequence[Any]] | None = None, training_fields: dict[str, Sequence[Any]] | None = None,
) -> Subject:
    """A binary tabular subject ("malignant", "benign") on the breast-cancer test split; by default a
    standardised logistic regression, or any classifier trained on `cancer_data()`'s training split.
    `evaluation_fields` and `training_fields` add fields to the splits' records."""
    x_train, y_train, features, classes, x_test, y_test = cancer_data()
    training = split(list(x_train), y_train, **(training_fields or {})) if with_training else None
    return tabular_subject(
        onnx_bytes or cancer_model()[1], features, classes, split(list(x_test), y_test, **(evaluation_fields or {})), training,
        seed=seed, progress=progress, pii_scan=pii_scan,
    )


class ProgressLog:
    """A `progress` callback that remembers every report."""

    def __init__(self) -> None:
        self.reports: list[tuple[float, str]] = []

    def __call__(self, fraction: float, message: str = "") -> None:
        self.reports.append((fraction, message))

    def check(self) -> None:
        """At least a start and an end, fractions in [0, 1] and never going backwards."""
        fractions = [f for f, _ in self.reports]
        assert len(fractions) >= 2, self.reports
        assert all(0.0 <= f <= 1.0 for f in fractions), self.reports
        assert fractions == sorted(fractions), self.reports
        assert fractions[-1] == 1.0
