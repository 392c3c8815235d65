"""Training recipes: from a dataset version's table to an ONNX model with test-split metrics.

Recipes register like plugins. Each is deterministic under its seed and reports progress per
boosting round or epoch. What they return is stored as a model version by `training.py`.
A recipe reads everything through its `RecipeRun`: the table, parameters and seed, the blob store
(for image records), and checkpoint hooks so a job whose worker died resumes at its last epoch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from aicommons.core.errors import Invalid
from aicommons.core.registry import Registry
from aicommons.data.manifest import RESERVED

if TYPE_CHECKING:
    from aicommons.core.blobs import BlobStore

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Checkpoint:
    """A recipe's saved progress: small JSON state (epoch, best score, ...) and its weights."""

    state: dict[str, Any]
    weights: bytes


def _no_checkpoint(checkpoint: Checkpoint) -> None:
    return None


@dataclass(frozen=True)
class RecipeRun:
    table: pa.Table
    params: dict[str, Any]
    seed: int
    progress: Progress
    blobs: BlobStore | None = None
    save_checkpoint: Callable[[Checkpoint], None] = _no_checkpoint
    resume_from: Checkpoint | None = None


@dataclass(frozen=True)
class Trained:
    onnx_bytes: bytes
    source_bytes: bytes | None
    source_format: str
    framework: str
    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)
    # How a caller turns raw input (an image, a sentence) into the ONNX inputs; see preprocessing.py.
    preprocessing: dict[str, Any] = field(default_factory=dict)
    # Files the preprocessing needs (a tokenizer.json), stored as blobs and named in details["files"].
    files: dict[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True)
class Recipe:
    name: str
    task: str
    train: Callable[[RecipeRun], Trained]
    description: str = ""


recipes: Registry[Recipe] = Registry("training recipe")


def list_recipes() -> list[Recipe]:
    return [recipes.get(name) for name in recipes.names()]


@dataclass(frozen=True)
class TabularSplits:
    feature_names: list[str]
    classes: list[str]
    x: dict[str, np.ndarray]
    y: dict[str, np.ndarray]


def record_splits(table: pa.Table, seed: int) -> list[str]:
    """Each record's split: the version's own when it has train and test records (carving a
    validation tenth out of train when it has none, for early stopping), otherwise a
    deterministic stratified 80/10/10 under the seed. Every recipe and every comparison of a
    compressed version uses this, so "the test split" means the same records everywhere."""
    from aicommons.data import assign_splits

    record_ids, labels = table["record_id"].to_pylist(), table["label"].to_pylist()
    splits = table["split"].to_pylist() if "split" in table.column_names else []
    if "train" not in splits or "test" not in splits:
        return assign_splits(record_ids, labels, train=0.8, validation=0.1, test=0.1, seed=seed, stratify=True)
    if "validation" in splits:
        return splits
    train_rows = [i for i, s in enumerate(splits) if s == "train"]
    carved = assign_splits(
        [record_ids[i] for i in train_rows], [labels[i] for i in train_rows], train=0.9, validation=0.0, test=0.1, seed=seed, stratify=True
    )
    for row, name in zip(train_rows, carved, strict=True):
        splits[row] = "train" if name == "train" else "validation"
    return splits


def tabular_splits(table: pa.Table, seed: int) -> TabularSplits:
    """Numeric fields as float32 features, labels as class indices, by `record_splits`."""
    names = [n for n in table.column_names if n not in RESERVED and (pa.types.is_integer(table[n].type) or pa.types.is_floating(table[n].type))]
    if not names:
        raise Invalid("A tabular recipe needs numeric fields; this version has none.")
    labels = table["label"].to_pylist()
    if any(label is None for label in labels):
        raise Invalid("A classification recipe needs every record labelled; some records have no label.")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise Invalid(f"A classification recipe needs at least two classes; this version has {classes}.")
    splits = record_splits(table, seed)
    features = np.column_stack([np.nan_to_num(table[n].to_numpy(zero_copy_only=False).astype(np.float32)) for n in names])
    codes = np.array([classes.index(label) for label in labels])
    mask = {name: np.array([s == name for s in splits]) for name in ("train", "validation", "test")}
    return TabularSplits(names, classes, {k: features[m] for k, m in mask.items()}, {k: codes[m] for k, m in mask.items()})


def tabular_preprocessing(feature_names: list[str]) -> dict[str, Any]:
    return {"kind": "tabular", "input": "features", "features": feature_names}


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score

    return {
        "accuracy": round(float(accuracy_score(y_true, y_pred)), 4),
        "macro_f1": round(float(f1_score(y_true, y_pred, average="macro")), 4),
    }


def _lightgbm(run: RecipeRun) -> Trained:
    import lightgbm as lgb
    import onnxmltools
    from onnxmltools.convert.common.data_types import FloatTensorType

    params, seed, progress = run.params, run.seed, run.progress
    data = tabular_splits(run.table, seed)
    rounds = int(params.get("n_estimators", 200))
    model = lgb.LGBMClassifier(
        n_estimators=rounds, learning_rate=float(params.get("learning_rate", 0.05)), num_leaves=int(params.get("num_leaves", 31)),
        random_state=seed, deterministic=True, force_row_wise=True, n_jobs=1, verbose=-1,
    )
    callbacks = [lambda env: progress((env.iteration + 1) / rounds, f"round {env.iteration + 1}/{rounds}")]
    evaluation: dict[str, Any] = {}
    if len(data.y["validation"]):
        callbacks.append(lgb.early_stopping(int(params.get("early_stopping_rounds", 20)), verbose=False))
        evaluation = {"eval_X": (data.x["validation"],), "eval_y": (data.y["validation"],)}
    model.fit(data.x["train"], data.y["train"], callbacks=callbacks, **evaluation)
    onnx_model = onnxmltools.convert_lightgbm(
        model, initial_types=[("features", FloatTensorType([None, len(data.feature_names)]))], zipmap=False, target_opset=15
    )
    return Trained(
        onnx_bytes=onnx_model.SerializeToString(),
        source_bytes=model.booster_.model_to_string().encode(),
        source_format="lightgbm-text",
        framework="lightgbm",
        metrics=classification_metrics(data.y["test"], model.predict(data.x["test"])),
        details={"features": data.feature_names, "classes": data.classes, "best_iteration": int(model.best_iteration_ or rounds)},
        preprocessing=tabular_preprocessing(data.feature_names),
    )


def _logistic(run: RecipeRun) -> Trained:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    data = tabular_splits(run.table, run.seed)
    C = float(run.params.get("C", 1.0))
    model = make_pipeline(StandardScaler(), LogisticRegression(C=C, solver="newton-cg", max_iter=5000, random_state=run.seed))
    run.progress(0.2, "fitting")
    model.fit(data.x["train"], data.y["train"])
    inputs = [("features", FloatTensorType([None, len(data.feature_names)]))]
    onnx_model = to_onnx(model, initial_types=inputs, options={id(model.steps[-1][1]): {"zipmap": False}})
    return Trained(
        onnx_bytes=onnx_model.SerializeToString(),
        source_bytes=sio.dumps(model),
        source_format="skops",
        framework="scikit-learn",
        metrics=classification_metrics(data.y["test"], model.predict(data.x["test"])),
        details={"features": data.feature_names, "classes": data.classes},
        preprocessing=tabular_preprocessing(data.feature_names),
    )


recipes.add("tabular-lightgbm", Recipe("tabular-lightgbm", "tabular-classification", _lightgbm, "LightGBM gradient-boosted trees with early stopping on the validation split."))
recipes.add("tabular-logistic", Recipe("tabular-logistic", "tabular-classification", _logistic, "Standardised features and logistic regression (scikit-learn)."))


def _deferred(module: str, function: str) -> Callable[[RecipeRun], Trained]:
    """A recipe whose code loads when it first trains. Torch, jieba and transformers take seconds
    to import; the API, the CLI and every job worker load this registry without them."""

    def train(run: RecipeRun) -> Trained:
        return getattr(importlib.import_module(module), function)(run)  # type: ignore[no-any-return]

    return train


for _name, _task, _module, _function, _description in (
    ("image-cnn", "image-classification", "aicommons.models.vision", "train_image_cnn",
     "A small PyTorch CNN (digits-cnn by default) trained with Adam and early stopping on the validation split; resumable per epoch."),
    ("image-logistic", "image-classification", "aicommons.models.vision", "train_image_logistic",
     "Logistic regression on the normalised pixels (scikit-learn): the baseline the CNN must beat."),
    ("text-tfidf", "text-classification", "aicommons.models.text", "train_tfidf",
     "jieba word segmentation, TF-IDF over words and word bigrams, logistic regression (scikit-learn)."),
    ("text-minilm", "text-classification", "aicommons.models.text", "train_minilm_classifier",
     "Frozen all-MiniLM-L6-v2 sentence embeddings and a small torch head with early stopping, exported as one ONNX graph."),
):
    recipes.add(_name, Recipe(_name, _task, _deferred(_module, _function), _description))
