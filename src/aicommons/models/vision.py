"""Image-classification recipes: a small PyTorch CNN (`image-cnn`) and a scikit-learn baseline
(`image-logistic`), both served identically from an NCHW float tensor named "image".

Images are read from the blob store (each record's `file_sha256`), converted to one mode and size,
scaled to [0, 1] and normalised with the train split's per-channel mean and standard deviation.
The preprocessing spec that says so travels with the model, and `image_arrays` applies it again
wherever a version's inputs are needed (compression, evaluation).

Torch is imported inside the recipes: registering them must not cost a torch import.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from PIL import Image, UnidentifiedImageError

from aicommons.core.errors import Invalid
from aicommons.models.recipes import (
    RecipeRun,
    Trained,
    classification_metrics,
    record_splits,
)

if TYPE_CHECKING:
    from aicommons.core.blobs import BlobStore

INPUT_NAME = "image"
SCALE = 1 / 255
GREY_MODES = ("1", "L", "LA", "I", "I;16", "F")


# --- images to arrays ----------------------------------------------------------------------------


def image_arrays(table: pa.Table, blobs: BlobStore | None, spec: dict[str, Any]) -> np.ndarray:
    """The table's images as the float32 NCHW tensor an "image" preprocessing spec describes."""
    return normalise(scaled_pixels(table, blobs, size=spec["size"], mode=spec["mode"]), spec)


def scaled_pixels(table: pa.Table, blobs: BlobStore | None, *, size: list[int], mode: str) -> np.ndarray:
    """Each record's image in `mode`, resized to `size` [h, w], as float32 NCHW scaled by 1/255."""
    digests = image_digests(table, blobs)
    assert blobs is not None  # image_digests refuses a missing store
    height, width = size
    images = [_decoded(blobs.read_bytes(digest), digest, mode, (width, height)) for digest in digests]
    pixels = np.stack(images).astype(np.float32) * np.float32(SCALE)
    return pixels[:, None] if pixels.ndim == 3 else pixels.transpose(0, 3, 1, 2)


def normalise(pixels: np.ndarray, spec: dict[str, Any]) -> np.ndarray:
    mean = np.asarray(spec["mean"], dtype=np.float32).reshape(1, -1, 1, 1)
    std = np.asarray(spec["std"], dtype=np.float32).reshape(1, -1, 1, 1)
    return ((pixels - mean) / std).astype(np.float32)


def image_digests(table: pa.Table, blobs: BlobStore | None) -> list[str]:
    digests = table["file_sha256"].to_pylist() if "file_sha256" in table.column_names else []
    if not digests or any(d is None for d in digests):
        raise Invalid("An image recipe needs every record to carry an image file (file_sha256); this version has records without one.")
    if blobs is None:
        raise Invalid("An image recipe needs the blob store to read the images; none was given.")
    return digests


def _decoded(data: bytes, digest: str, mode: str, size: tuple[int, int]) -> np.ndarray:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError):
        raise Invalid(f"The file {digest[:12]}… is not an image Pillow can read.") from None
    image = image.convert(mode)
    if image.size != size:
        image = image.resize(size, Image.Resampling.BILINEAR)
    return np.asarray(image)


def first_image_geometry(table: pa.Table, blobs: BlobStore | None) -> tuple[list[int], str]:
    """[height, width] and the mode ("L" or "RGB") of the version's first image: the defaults."""
    digest = image_digests(table, blobs)[0]
    assert blobs is not None
    try:
        image = Image.open(io.BytesIO(blobs.read_bytes(digest)))
    except (UnidentifiedImageError, OSError):
        raise Invalid(f"The file {digest[:12]}… is not an image Pillow can read.") from None
    return [image.height, image.width], ("L" if image.mode in GREY_MODES else "RGB")


def image_preprocessing(size: list[int], mode: str, mean: list[float], std: list[float]) -> dict[str, Any]:
    return {"kind": "image", "input": INPUT_NAME, "size": list(size), "mode": mode, "scale": SCALE, "mean": mean, "std": std, "layout": "NCHW"}


# --- splits ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageSplits:
    classes: list[str]
    x: dict[str, np.ndarray]  # "train" / "validation" / "test" -> float32 NCHW
    y: dict[str, np.ndarray]  # class indices into `classes`


def label_indices(table: pa.Table, classes: list[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Classes (sorted, or the given ones, e.g. a parent model's) and each record's class index."""
    labels = table["label"].to_pylist() if "label" in table.column_names else [None]
    if any(label is None for label in labels):
        raise Invalid("A classification recipe needs every record labelled; some records have no label.")
    if classes is None:
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise Invalid(f"A classification recipe needs at least two classes; this version has {classes}.")
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        raise Invalid(f"The version has labels the model does not know: {unknown[:10]}; the model's classes are {classes}.")
    position = {name: index for index, name in enumerate(classes)}
    return classes, np.array([position[label] for label in labels], dtype=np.int64)


def by_split(x: np.ndarray, y: np.ndarray, splits: list[str], classes: list[str]) -> ImageSplits:
    masks = {name: np.array([s == name for s in splits]) for name in ("train", "validation", "test")}
    empty = [name for name, mask in masks.items() if not mask.any()]
    if empty:
        raise Invalid(f"An image recipe needs records in the train, validation and test splits; {empty} would be empty (too few records).")
    return ImageSplits(classes, {k: x[m] for k, m in masks.items()}, {k: y[m] for k, m in masks.items()})


def prepared_images(run: RecipeRun) -> tuple[ImageSplits, dict[str, Any]]:
    """The run's images, normalised by train-split statistics, and the spec that reproduces that."""
    size, mode = _geometry(run)
    classes, codes = label_indices(run.table)
    scaled = by_split(scaled_pixels(run.table, run.blobs, size=size, mode=mode), codes, record_splits(run.table, run.seed), classes)
    train = scaled.x["train"]
    mean = [round(float(v), 6) for v in train.mean(axis=(0, 2, 3))]
    # A floor, so a channel that is constant in the train split does not divide by zero.
    std = [round(max(float(v), 1e-3), 6) for v in train.std(axis=(0, 2, 3))]
    spec = image_preprocessing(size, mode, mean, std)
    return ImageSplits(classes, {name: normalise(x, spec) for name, x in scaled.x.items()}, scaled.y), spec


def _geometry(run: RecipeRun) -> tuple[list[int], str]:
    size, mode = first_image_geometry(run.table, run.blobs)
    if "image_size" in run.params:
        size = _parsed_size(run.params["image_size"])
    mode = str(run.params.get("mode", mode))
    if mode not in ("L", "RGB"):
        raise Invalid(f"The 'mode' parameter must be 'L' (grey) or 'RGB'; got {mode!r} instead.")
    return size, mode


def _parsed_size(value: Any) -> list[int]:
    """`8`, `"8"` (square) or `"8x6"` (height x width)."""
    number = _number(value)
    text = str(int(number)) if number is not None and number.is_integer() else str(value)
    try:
        parts = [int(part) for part in text.lower().split("x")]
    except ValueError:
        parts = []
    parts = parts * 2 if len(parts) == 1 else parts
    if len(parts) != 2 or not all(2 <= p <= 64 for p in parts):
        raise Invalid(f"The 'image_size' parameter must be a side in pixels or 'HxW', 2 to 64 each; got {value!r} instead.")
    return parts


# --- ONNX measurement ------------------------------------------------------------------------------


def onnx_classify(onnx_bytes: bytes, x: np.ndarray, input_name: str = INPUT_NAME) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, labels) of an ONNX classifier that follows the platform's output contract."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # deterministic sums; these models are small
    session = ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])
    outputs = [o.name for o in session.get_outputs()]
    if "probabilities" not in outputs or "label" not in outputs:
        raise Invalid(f"The model must output 'probabilities' and 'label' to be measured as a classifier; it outputs {outputs}.")
    inputs = [i.name for i in session.get_inputs()]
    if inputs != [input_name]:
        raise Invalid(f"The model must take one input named {input_name!r}; it takes {inputs}.")
    probabilities, labels = session.run(["probabilities", "label"], {input_name: x.astype(np.float32)})
    return np.asarray(probabilities), np.asarray(labels).astype(np.int64)


def onnx_test_metrics(onnx_bytes: bytes, data: ImageSplits) -> dict[str, float]:
    """Test-split metrics of the stored artefact itself, run in ONNX Runtime."""
    _, predicted = onnx_classify(onnx_bytes, data.x["test"])
    return classification_metrics(data.y["test"], predicted)


# --- recipes ---------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A parameter's numeric value; job parameters may arrive as strings from the CLI."""
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int_param(params: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = params.get(name, default)
    number = _number(value)
    if number is None or not number.is_integer() or not low <= number <= high:
        raise Invalid(f"The {name!r} parameter must be an integer from {low} to {high}; got {value!r} instead.")
    return int(number)


def _float_param(params: dict[str, Any], name: str, default: float, low: float, high: float) -> float:
    value = params.get(name, default)
    number = _number(value)
    if number is None or not low < number <= high:
        raise Invalid(f"The {name!r} parameter must be a number above {low} and at most {high}; got {value!r} instead.")
    return number


@dataclass(frozen=True)
class LoopSettings:
    """The training-loop parameters a torch recipe reads from `run.params`."""

    epochs: int
    lr: float
    batch_size: int
    patience: int

    @classmethod
    def of(cls, params: dict[str, Any], *, epochs: int, lr: float, patience: int) -> LoopSettings:
        return cls(
            epochs=_int_param(params, "epochs", epochs, 0, 1000), lr=_float_param(params, "lr", lr, 0.0, 1.0),
            batch_size=_int_param(params, "batch_size", 64, 1, 4096), patience=_int_param(params, "patience", patience, 1, 1000),
        )


def fit_images(module: Any, data: ImageSplits, run: RecipeRun, settings: LoopSettings, loss: Any = None) -> Any:
    """`torchnets.fit` on the image splits, with the run's seed, progress and checkpoints."""
    from aicommons.models import torchnets

    return torchnets.fit(
        module, (data.x["train"], data.y["train"]), (data.x["validation"], data.y["validation"]),
        epochs=settings.epochs, lr=settings.lr, batch_size=settings.batch_size, seed=run.seed, patience=settings.patience,
        progress=run.progress, save_checkpoint=run.save_checkpoint, resume_from=run.resume_from, loss=loss,
    )


def torch_image_result(module: Any, data: ImageSplits, input_name: str, details: dict[str, Any], preprocessing: dict[str, Any]) -> Trained:
    """A trained torch image classifier as a hub result: its ONNX export, safetensors weights, and
    test metrics measured on the exported ONNX (what is stored is what was measured)."""
    from aicommons.models import torchnets

    onnx_bytes = torchnets.export_onnx(module, data.x["train"][:1], input_name=input_name)
    return Trained(
        onnx_bytes=onnx_bytes, source_bytes=torchnets.weights_to_bytes(module), source_format="safetensors", framework="pytorch",
        metrics=onnx_test_metrics(onnx_bytes, data), details=details, preprocessing=dict(preprocessing),
    )


def train_image_cnn(run: RecipeRun) -> Trained:
    from aicommons.models import torchnets

    data, spec = prepared_images(run)
    name = str(run.params.get("architecture", "digits-cnn"))
    config = torchnets.architectures.get(name).config(in_channels=data.x["train"].shape[1], classes=len(data.classes), image_size=spec["size"])
    architecture = {"name": name, "config": config}
    settings = LoopSettings.of(run.params, epochs=30, lr=0.01, patience=5)
    module = torchnets.build_module(architecture, seed=run.seed)
    result = fit_images(module, data, run, settings)
    details = {
        "classes": data.classes, "architecture": architecture, "best_epoch": result.best_epoch, "epochs_run": result.epochs_run,
        "validation_accuracy": round(result.best_accuracy, 4), "parameters": torchnets.parameter_count(module), "optimizer": "adam",
    }
    return torch_image_result(module, data, INPUT_NAME, details, spec)


def train_image_logistic(run: RecipeRun) -> Trained:
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    data, spec = prepared_images(run)
    C = _float_param(run.params, "C", 1.0, 0.0, 1e6)
    model = LogisticRegression(C=C, max_iter=2000, random_state=run.seed)
    run.progress(0.2, "fitting logistic regression")
    # One BLAS thread: on a small shared machine more threads make this fit ~50x slower, not faster.
    with threadpool_limits(1):
        model.fit(data.x["train"].reshape(len(data.x["train"]), -1), data.y["train"])
    onnx_bytes = _logistic_onnx(model, data.x["train"].shape[1:])
    run.progress(0.9, "converted to ONNX")
    return Trained(
        onnx_bytes=onnx_bytes,
        source_bytes=sio.dumps(model),
        source_format="skops",
        framework="scikit-learn",
        metrics=onnx_test_metrics(onnx_bytes, data),
        details={"classes": data.classes, "parameters": int(model.coef_.size + model.intercept_.size)},
        preprocessing=spec,
    )


def _logistic_onnx(model: Any, image_shape: tuple[int, ...]) -> bytes:
    """skl2onnx's graph for the flat pixels, behind a Reshape from the NCHW "image" tensor, so the
    baseline takes exactly the input the CNN takes."""
    import onnx
    from onnx import TensorProto, helper
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    features = int(np.prod(image_shape))
    converted = to_onnx(
        model, initial_types=[("pixels", FloatTensorType([None, features]))], options={id(model): {"zipmap": False}},
        target_opset={"": 17, "ai.onnx.ml": 3},
    )
    graph = converted.graph
    outputs = [o.name for o in graph.output]
    if outputs != ["label", "probabilities"]:
        raise RuntimeError(f"skl2onnx named the classifier outputs {outputs}; expected label and probabilities")
    graph.initializer.append(helper.make_tensor("flat_shape", TensorProto.INT64, [2], [-1, features]))
    graph.node.insert(0, helper.make_node("Reshape", [INPUT_NAME, "flat_shape"], ["pixels"], name="flatten_image"))
    del graph.input[:]
    graph.input.append(helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", *image_shape]))
    onnx.checker.check_model(converted)
    return converted.SerializeToString()
