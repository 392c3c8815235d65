"""From raw input to a model version's ONNX inputs, and from its ONNX outputs to predictions.

A version's preprocessing spec (`Trained.preprocessing`, stored with the version) says how a caller's
raw input becomes the tensors its ONNX graph takes:

- ``{}`` or ``{"kind": "tensor"}``: the caller sends the tensors themselves, by input name;
- ``{"kind": "tabular", "input": "features", "features": [names]}``: records of named numbers;
- ``{"kind": "image", "input": ..., "size": [h, w], "mode": "L"|"RGB", "scale", "mean", "std", "layout"}``:
  encoded images (bytes or base64) or pixel lists, to float32 ``((pixels * scale) - mean) / std``;
- ``{"kind": "segmented-text", "input": ..., "segmenter": "jieba"}``: sentences, to jieba tokens joined by
  single spaces in a string tensor ``[N, 1]``;
- ``{"kind": "wordpiece", "tokenizer": "tokenizer.json", "max_length": 128, "inputs": [...]}``: sentences,
  to int64 ``input_ids`` / ``attention_mask`` / ``token_type_ids`` padded with 0 to the longest in the batch.

Serving uses `Preprocessor.from_instances` / `from_arrays` and `predictions`; compression and evaluation
use `Preprocessor.from_table` on a dataset version's table (its `test_split`) for calibration and accuracy.
Everything a caller can get wrong raises `Invalid` with a message naming the input or instance at fault.
"""

from __future__ import annotations

import base64
import binascii
import io
import logging
import numbers
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aicommons.core.errors import Invalid
from aicommons.models.artifacts import Signature, TensorSpec

if TYPE_CHECKING:
    from aicommons.core.blobs import BlobStore

KINDS = ("tensor", "tabular", "image", "segmented-text", "wordpiece")
# The keys each kind of spec cannot do without.
_REQUIRED_KEYS = {"tabular": ("input", "features"), "image": ("input", "size"), "segmented-text": ("input",)}
DEFAULT_MAX_INSTANCES = 1024

# Which field of a tokenizers Encoding feeds which BERT-style ONNX input.
_ENCODING_FIELDS = {"input_ids": "ids", "attention_mask": "attention_mask", "token_type_ids": "type_ids"}
_NUMERIC_KINDS = "biuf"


class Preprocessor:
    """Builds the ONNX inputs of one model version from raw input, as its preprocessing spec says.

    Loaded resources (the WordPiece tokenizer, jieba's dictionary) are created once, on first use,
    and shared by the threads of a server.
    """

    def __init__(
        self, spec: dict[str, Any] | None, signature: Signature, files: dict[str, bytes] | None = None,
        *, max_instances: int = DEFAULT_MAX_INSTANCES,
    ):
        self.spec = dict(spec or {})
        self.kind = self.spec.get("kind", "tensor")
        if self.kind not in KINDS:
            raise Invalid(f"The preprocessing kind {self.kind!r} is unknown; expected one of {', '.join(KINDS)}.")
        missing = [key for key in _REQUIRED_KEYS.get(self.kind, ()) if key not in self.spec]
        if missing:
            raise Invalid(f"The {self.kind!r} preprocessing spec lacks {missing[0]!r}; it has {sorted(self.spec)}.")
        self.signature = signature
        self.files = dict(files or {})
        self.max_instances = max_instances
        self._inputs = {spec.name: spec for spec in signature.inputs}
        self._lock = threading.Lock()
        self._tokenizer: Any = None

    # --- tensors by name ----------------------------------------------------------------------

    def from_arrays(self, inputs: dict[str, Any]) -> dict[str, np.ndarray]:
        """Named nested lists or arrays, checked against the signature and coerced to its dtypes."""
        if not isinstance(inputs, dict) or not inputs:
            raise Invalid(f"Send the model's inputs as an object of named arrays: {', '.join(self._inputs)}.")
        unknown = sorted(set(inputs) - set(self._inputs))
        if unknown:
            raise Invalid(f"Unknown input {unknown[0]!r}; this model takes {', '.join(map(repr, self._inputs))}.")
        missing = [name for name in self._inputs if name not in inputs]
        if missing:
            raise Invalid(f"Missing input {missing[0]!r}; this model takes {', '.join(map(repr, self._inputs))}.")
        arrays = {name: _coerced(self._inputs[name], value) for name, value in inputs.items()}
        self._check_batch(arrays, self.max_instances)
        return arrays

    def _check_batch(self, arrays: dict[str, np.ndarray], limit: int | None) -> None:
        batches = {name: a.shape[0] for name, a in arrays.items() if a.ndim >= 1}
        if len(set(batches.values())) > 1:
            described = ", ".join(f"{name!r} has {n}" for name, n in batches.items())
            raise Invalid(f"The inputs' batch sizes differ ({described}); every input needs one row per instance.")
        size = next(iter(batches.values()), 1)
        if size == 0:
            raise Invalid("The inputs hold no instances; send at least one.")
        if limit is not None and size > limit:
            raise Invalid(f"The inputs hold {size:,} instances; at most {limit:,} are taken per request.")

    # --- raw instances ------------------------------------------------------------------------

    def from_instances(self, instances: list[Any]) -> dict[str, np.ndarray]:
        """Raw items as the spec's kind reads them (records, images, sentences), as ONNX inputs."""
        if not isinstance(instances, list):
            raise Invalid(f"Send instances as a list; got {type(instances).__name__}.")
        if not instances:
            raise Invalid("The list of instances is empty; send at least one.")
        if len(instances) > self.max_instances:
            raise Invalid(f"{len(instances):,} instances were sent; at most {self.max_instances:,} are taken per request.")
        if self.kind == "tensor":
            raise Invalid(
                "This model has no preprocessing for raw instances; send its inputs by name "
                f"({', '.join(map(repr, self._inputs))})."
            )
        if self.kind == "tabular":
            return self._arrays({self.spec["input"]: np.stack([self._tabular_row(i, item) for i, item in enumerate(instances)])})
        if self.kind == "image":
            return self._arrays({self.spec["input"]: self._images([_decoded_image(i, item) for i, item in enumerate(instances)])})
        return self._texts([_text(i, item) for i, item in enumerate(instances)])

    def _arrays(self, arrays: dict[str, np.ndarray], limit: int | None = None) -> dict[str, np.ndarray]:
        """Inputs this module built, checked against the signature like the caller's own would be:
        a spec that disagrees with its graph fails here, naming the input."""
        checked = {name: _coerced(self._input(name), value) for name, value in arrays.items()}
        self._check_batch(checked, limit)
        return checked

    def _input(self, name: str) -> TensorSpec:
        if name not in self._inputs:
            raise Invalid(f"The preprocessing spec feeds input {name!r}, which the model does not have ({', '.join(self._inputs)}).")
        return self._inputs[name]

    def _tabular_row(self, index: int, item: Any) -> np.ndarray:
        features: list[str] = self.spec["features"]
        if isinstance(item, dict):
            missing = [f for f in features if f not in item]
            if missing:
                raise Invalid(f"Instance {index} lacks feature {missing[0]!r}; expected {len(features)} features: {', '.join(features)}.")
            extra = sorted(set(item) - set(features))
            if extra:
                raise Invalid(f"Instance {index} has unknown feature {extra[0]!r}; expected {', '.join(features)}.")
            values = [item[f] for f in features]
        elif isinstance(item, (list, tuple)):
            if len(item) != len(features):
                raise Invalid(f"Instance {index} has {len(item)} values; expected {len(features)} ({', '.join(features)}).")
            values = list(item)
        else:
            raise Invalid(f"Instance {index} must be an object of features or a list of {len(features)} numbers; got {type(item).__name__}.")
        for name, value in zip(features, values, strict=True):
            if not _is_number(value):
                raise Invalid(f"Instance {index} feature {name!r} must be a number; got {value!r}.")
        return np.asarray(values, dtype=np.float64)

    def _images(self, images: list[Any]) -> np.ndarray:
        """Decoded images or pixel arrays to the normalised float batch the graph takes."""
        height, width = self.spec["size"]
        mode = self.spec.get("mode", "L")
        channels = 1 if mode == "L" else 3
        rows = []
        for index, image in enumerate(images):
            if isinstance(image, np.ndarray):
                pixels = image
                if pixels.ndim == 2:
                    pixels = pixels[:, :, None]
                if pixels.ndim != 3 or pixels.shape != (height, width, channels):
                    raise Invalid(
                        f"Instance {index} has pixels of shape {list(image.shape)}; expected "
                        f"{[height, width] if channels == 1 else [height, width, channels]} ({mode} images of {height}×{width})."
                    )
            else:
                pixels = np.asarray(_image_pixels(image, mode, height, width), dtype=np.float32)
            rows.append(pixels)
        batch = np.stack(rows).astype(np.float32)  # [N, h, w, c]
        mean = np.asarray(self.spec.get("mean", [0.0] * channels), dtype=np.float32)
        std = np.asarray(self.spec.get("std", [1.0] * channels), dtype=np.float32)
        batch = (batch * np.float32(self.spec.get("scale", 1.0)) - mean) / std
        if self.spec.get("layout", "NCHW") == "NCHW":
            batch = batch.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(batch)

    def _texts(self, texts: list[str]) -> dict[str, np.ndarray]:
        if self.kind == "segmented-text":
            segmented = [segment(text) for text in texts]
            return self._arrays({self.spec["input"]: np.array(segmented, dtype=object).reshape(-1, 1)})
        encodings = self._wordpiece().encode_batch(texts)
        length = max(len(e.ids) for e in encodings)
        arrays = {}
        for name in self.spec.get("inputs", list(_ENCODING_FIELDS)):
            if name not in _ENCODING_FIELDS:
                raise Invalid(f"The wordpiece preprocessing cannot make input {name!r}; it makes {', '.join(_ENCODING_FIELDS)}.")
            array = np.zeros((len(encodings), length), dtype=np.int64)
            for row, encoding in enumerate(encodings):
                values = getattr(encoding, _ENCODING_FIELDS[name])
                array[row, : len(values)] = values
            arrays[name] = array
        return self._arrays(arrays)

    def _wordpiece(self) -> Any:
        with self._lock:
            if self._tokenizer is None:
                self._tokenizer = _load_tokenizer(self.spec, self.files)
            return self._tokenizer

    # --- a dataset version's records ----------------------------------------------------------

    def from_table(self, table: pa.Table, blobs: BlobStore | None = None) -> dict[str, np.ndarray]:
        """Every record of a dataset version's table as ONNX inputs (no instance limit): the named
        feature columns, the images its `file_sha256` points to, or its `text` field."""
        if table.num_rows == 0:
            raise Invalid("The table has no records to build model inputs from.")
        if self.kind == "tabular":
            return self._table_features(table)
        if self.kind == "image":
            return self._table_images(table, blobs)
        if self.kind in ("segmented-text", "wordpiece"):
            field = self.spec.get("field", "text")
            if field not in table.column_names:
                raise Invalid(f"The table has no {field!r} field for the model's text input.")
            return self._texts(["" if t is None else str(t) for t in table[field].to_pylist()])
        raise Invalid("This model's inputs are plain tensors, so they cannot be built from a dataset's records.")

    def raw_instances(self, table: pa.Table, blobs: BlobStore | None = None) -> list[Any]:
        """Every record as the raw instance a caller would send, before normalisation: float32
        pixel arrays [h, w, c] (0–255) at the model's size for images, strings for text, float64
        feature rows for tabular models. Evaluation perturbs these, then runs `from_instances`."""
        if self.kind == "tabular":
            features = self._table_features(table)[self.spec["input"]]
            return [row.astype(np.float64) for row in features]
        if self.kind == "image":
            if blobs is None or "file_sha256" not in table.column_names:
                raise Invalid("Reading a table of images needs the blob store and a file_sha256 column.")
            height, width = self.spec["size"]
            mode = self.spec.get("mode", "L")
            return [
                _image_pixels(_decoded_image(index, blobs.read_bytes(sha256)), mode, height, width)
                for index, sha256 in enumerate(table["file_sha256"].to_pylist())
            ]
        if self.kind in ("segmented-text", "wordpiece"):
            field = self.spec.get("field", "text")
            if field not in table.column_names:
                raise Invalid(f"The table has no {field!r} field for the model's text input.")
            return ["" if t is None else str(t) for t in table[field].to_pylist()]
        raise Invalid("This model's inputs are plain tensors, so they cannot be built from a dataset's records.")

    def _table_features(self, table: pa.Table) -> dict[str, np.ndarray]:
        features: list[str] = self.spec["features"]
        missing = [f for f in features if f not in table.column_names]
        if missing:
            raise Invalid(f"The table lacks feature {missing[0]!r} that the model takes.")
        columns = []
        for name in features:
            try:
                column = table[name].to_numpy(zero_copy_only=False).astype(np.float32)
            except (ValueError, TypeError, pa.ArrowInvalid):
                raise Invalid(f"The table's field {name!r} is not numeric.") from None
            # Missing values become 0, the way `tabular_splits` trained the model.
            columns.append(np.nan_to_num(column))
        return self._arrays({self.spec["input"]: np.column_stack(columns)})

    def _table_images(self, table: pa.Table, blobs: BlobStore | None) -> dict[str, np.ndarray]:
        if blobs is None:
            raise Invalid("Reading a table of images needs the blob store that holds them.")
        if "file_sha256" not in table.column_names:
            raise Invalid("The table has no file_sha256 column; its records carry no images.")
        images = []
        for index, (record_id, sha256) in enumerate(zip(table["record_id"].to_pylist(), table["file_sha256"].to_pylist(), strict=True)):
            if not sha256:
                raise Invalid(f"Record {record_id!r} has no image file.")
            images.append(_decoded_image(index, blobs.read_bytes(sha256)))
        return self._arrays({self.spec["input"]: self._images(images)})


# --- coercion and validation ------------------------------------------------------------------


def _shape_text(shape: Sequence[int | str | None]) -> str:
    return "[" + ", ".join(("batch" if i == 0 else "?") if d is None else str(d) for i, d in enumerate(shape)) + "]"


def _coerced(spec: TensorSpec, value: Any) -> np.ndarray:
    """One input's value as an array of the signature's dtype, or Invalid naming what is wrong."""
    if spec.dtype == "string":
        array = _string_array(spec.name, value)
    else:
        array = _numeric_array(spec, value)
    if spec.shape is not None:
        expected = spec.shape
        fixed_mismatch = any(isinstance(d, int) and d != n for d, n in zip(expected, array.shape, strict=False))
        if array.ndim != len(expected) or fixed_mismatch:
            raise Invalid(f"Input {spec.name!r} expects shape {_shape_text(expected)}; got {list(array.shape)}.")
    return array


def _string_array(name: str, value: Any) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=object)
    except ValueError:
        raise Invalid(f"Input {name!r} is not a rectangular array (its rows differ in length).") from None
    if array.size and not all(isinstance(v, str) for v in array.flat):
        bad = next(v for v in array.flat if not isinstance(v, str))
        raise Invalid(f"Input {name!r} must hold strings; got {_plain(bad)!r}.")
    return array


def _numeric_array(spec: TensorSpec, value: Any) -> np.ndarray:
    try:
        array = np.asarray(value)
    except ValueError:
        raise Invalid(f"Input {spec.name!r} is not a rectangular array (its rows differ in length).") from None
    if array.dtype == object:
        bad = [v for v in array.flat if not _is_number(v)][:1]
        if bad:
            raise Invalid(f"Input {spec.name!r} must hold numbers; got {bad[0]!r}.")
        array = array.astype(np.float64)
    if array.dtype.kind not in _NUMERIC_KINDS:
        bad = next(iter(array.flat), None)
        raise Invalid(f"Input {spec.name!r} must hold numbers; got {_plain(bad)!r}.")
    try:
        target = np.dtype(spec.dtype)
    except TypeError:
        return array  # a non-tensor input (a map or sequence): left for ONNX Runtime to judge
    if target.kind in "iu" and array.dtype.kind == "f":
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise Invalid(f"Input {spec.name!r} takes whole numbers ({spec.dtype}); got fractional or non-finite values.")
    return np.ascontiguousarray(array.astype(target, copy=False))


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value it holds, so messages show 'a', not np.str_('a')."""
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


# --- images -----------------------------------------------------------------------------------


def _decoded_image(index: int, item: Any) -> Any:
    """An instance as a PIL image (from bytes or base64) or a pixel array (from nested lists)."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, str):
        text = item.split(",", 1)[1] if item.startswith("data:") and "," in item else item
        try:
            item = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise Invalid(f"Instance {index} is a string but not base64; send an image's bytes base64-encoded.") from None
    if isinstance(item, (bytes, bytearray, memoryview)):
        try:
            image = Image.open(io.BytesIO(bytes(item)))
            image.load()
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            raise Invalid(f"Instance {index} is not an image Pillow can read.") from None
        return image
    if isinstance(item, (list, tuple, np.ndarray)):
        try:
            pixels = np.asarray(item, dtype=np.float32)
        except (ValueError, TypeError):
            raise Invalid(f"Instance {index} is neither an image nor a rectangular array of pixel values.") from None
        return pixels
    raise Invalid(f"Instance {index} must be an image (bytes or base64) or a list of pixel rows; got {type(item).__name__}.")


def _image_pixels(image: Any, mode: str, height: int, width: int) -> np.ndarray:
    """An image in the spec's colour mode and size, as [h, w, c] pixel values (0-255)."""
    from PIL import Image

    image = image.convert(mode)
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float32)
    return pixels[:, :, None] if pixels.ndim == 2 else pixels


# --- text -------------------------------------------------------------------------------------


def _text(index: int, item: Any) -> str:
    if not isinstance(item, str):
        raise Invalid(f"Instance {index} must be a string of text; got {type(item).__name__}.")
    return item


_jieba_lock = threading.Lock()


def _jieba() -> Any:
    """jieba's default tokenizer with its dictionary loaded (about a second, once per process).
    The default one is shared with any recipe that segments with `jieba.lcut`, so the dictionary
    is held in memory once."""
    import jieba

    with _jieba_lock:
        if not jieba.dt.initialized:
            jieba.setLogLevel(logging.WARNING)
            jieba.dt.initialize()
    return jieba.dt


def segment(text: str) -> str:
    """A sentence as jieba tokens joined by single spaces (whitespace tokens dropped): the
    "segmented-text" input a text classifier takes. Recipes use it too, so training and serving agree."""
    return " ".join(token for token in _jieba().lcut(text) if token.strip())


def _load_tokenizer(spec: dict[str, Any], files: dict[str, bytes]) -> Any:
    from tokenizers import Tokenizer

    name = spec.get("tokenizer", "tokenizer.json")
    if name not in files:
        raise Invalid(f"The model's wordpiece preprocessing needs the file {name!r}, which the version does not carry.")
    try:
        tokenizer = Tokenizer.from_str(files[name].decode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - tokenizers raises plain Exception on a bad file
        raise Invalid(f"The tokenizer file {name!r} cannot be read: {exc}") from None
    tokenizer.enable_truncation(max_length=int(spec.get("max_length", 128)))
    # Padding is done by hand to the batch's longest sequence, whatever the file configures.
    tokenizer.no_padding()
    return tokenizer


# --- outputs ----------------------------------------------------------------------------------


def probabilities_output(outputs: dict[str, np.ndarray]) -> str | None:
    """The name of a classifier's class-probability output: "probabilities", scikit-learn's
    "output_probability", or else the first 2-D float output."""
    for name in ("probabilities", "output_probability"):
        if name in outputs and _is_float_matrix(outputs[name]):
            return name
    return next((name for name, value in outputs.items() if _is_float_matrix(value)), None)


def _is_float_matrix(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.ndim == 2 and value.dtype.kind == "f"


def predictions(outputs: dict[str, np.ndarray], details: dict[str, Any]) -> list[dict[str, Any]]:
    """One dict per row: a class label and its probabilities for classifiers, an embedding for
    encoders, otherwise the raw outputs as lists."""
    if "embedding" in outputs and _is_float_matrix(outputs["embedding"]):
        return [{"embedding": row.tolist()} for row in outputs["embedding"]]
    classes = details.get("classes")
    is_classifier = bool(classes) or any(n in outputs for n in ("probabilities", "output_probability", "label", "output_label"))
    name = probabilities_output(outputs) if is_classifier else None
    if name is not None:
        return _classifications(outputs[name], classes)
    return _raw_rows(outputs)


def _classifications(probabilities: np.ndarray, classes: list[Any] | None) -> list[dict[str, Any]]:
    names: list[Any] = list(classes) if classes and len(classes) == probabilities.shape[1] else list(range(probabilities.shape[1]))
    keys = [str(name) for name in names]
    # Whole-matrix argmax and tolist(): per-row numpy calls cost more than a small model's run.
    return [
        {"label": names[best], "probabilities": dict(zip(keys, row, strict=True))}
        for best, row in zip(np.argmax(probabilities, axis=1).tolist(), np.asarray(probabilities, dtype=np.float64).tolist(), strict=True)
    ]


def _raw_rows(outputs: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    arrays = {name: np.asarray(value) for name, value in outputs.items()}
    batch = next((a.shape[0] for a in arrays.values() if a.ndim >= 1), 1)
    return [
        {name: (a[i].tolist() if a.ndim >= 1 and a.shape[0] == batch else a.tolist()) for name, a in arrays.items()}
        for i in range(batch)
    ]


# --- tables -----------------------------------------------------------------------------------


def test_split(table: pa.Table) -> pa.Table:
    """The records whose `split` is "test"; the whole table when it has no `split` column or no
    test records (then accuracy is measured on everything, training data included)."""
    if "split" not in table.column_names:
        return table
    tested = table.filter(pc.fill_null(pc.equal(table["split"], "test"), False))
    return tested if tested.num_rows else table


def label_indices(table: pa.Table, classes: Sequence[str]) -> np.ndarray:
    """The records' labels as indices into `classes` (a classifier's `details["classes"]`)."""
    if "label" not in table.column_names:
        raise Invalid("The table has no label column to measure accuracy against.")
    index = {str(name): i for i, name in enumerate(classes)}
    labels = table["label"].to_pylist()
    unknown = sorted({str(label) for label in labels if str(label) not in index})
    if unknown:
        raise Invalid(f"The table has labels the model does not know: {unknown[:5]}; its classes are {list(classes)[:20]}.")
    return np.array([index[str(label)] for label in labels], dtype=np.int64)
