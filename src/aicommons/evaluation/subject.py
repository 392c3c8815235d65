"""What an evaluation test examines: one model version, and the records it is tested on.

Tests work on *raw instances*, the way a user would send them, so that perturbations act on what
the world would change (pixels, characters, feature values) and the model's own preprocessing
then runs as it would in serving:

- image models: float32 pixel arrays of shape (height, width, channels), values 0–255, already at
  the model's size and colour mode;
- text models (`segmented-text`, `wordpiece`): strings;
- tabular models: float64 arrays of the model's features, in `Subject.features` order.

`Subject.probabilities()` runs the ONNX model on raw instances and caches the result per
(model digest, input digest), so a repeated or resumed run recomputes nothing it already has.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from aicommons.core.errors import Invalid
from aicommons.models.artifacts import Signature
from aicommons.models.preprocessing import Preprocessor, probabilities_output

# Raw instances per model call: bounds memory and keeps progress reports frequent.
CHUNK = 256
RAW_KINDS = ("image", "tabular", "segmented-text", "wordpiece")


@dataclass
class Split:
    """Records of one split, in the same order three ways."""

    raw: list[Any]  # raw instances (see the module docstring)
    labels: np.ndarray | None  # class indices into Subject.classes; None when the records carry no known labels
    records: pa.Table  # the records with every field (sensitive attributes, ids, text)

    def __post_init__(self) -> None:
        if len(self.raw) != self.records.num_rows or (self.labels is not None and len(self.labels) != len(self.raw)):
            raise ValueError("A split's raw instances, labels and records must have the same length.")

    def __len__(self) -> int:
        return len(self.raw)


class PredictionCache(Protocol):
    def get(self, key: str) -> np.ndarray | None: ...

    def put(self, key: str, probabilities: np.ndarray) -> None: ...


class MemoryPredictionCache:
    def __init__(self) -> None:
        self._items: dict[str, np.ndarray] = {}
        self.hits = 0

    def get(self, key: str) -> np.ndarray | None:
        found = self._items.get(key)
        self.hits += found is not None
        return found

    def put(self, key: str, probabilities: np.ndarray) -> None:
        self._items[key] = probabilities


def input_digest(inputs: dict[str, np.ndarray]) -> str:
    """A digest of ONNX inputs: names, dtypes, shapes and bytes (strings by their UTF-8 text)."""
    digest = hashlib.sha256()
    for name in sorted(inputs):
        array = np.asarray(inputs[name])
        digest.update(f"{name}|{array.dtype}|{array.shape}|".encode())
        if array.dtype == object:
            for value in array.ravel():
                digest.update(str(value).encode() + b"\x00")
        else:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


class Subject:
    """A classifier (its ONNX and preprocessing) and the records it is tested on."""

    description = "classifiers on records"  # what tests of this subject type examine, for skip reasons

    def __init__(
        self,
        *,
        onnx_bytes: bytes,
        preprocessing: dict[str, Any],
        signature: dict[str, Any],
        classes: Sequence[str],
        evaluation: Split,
        training: Split | None = None,
        task: str = "",
        files: dict[str, bytes] | None = None,
        seed: int = 0,
        cache: PredictionCache | None = None,
        progress: Callable[[float, str], None] | None = None,
        pii_scan: Callable[[list[str]], dict[str, int]] | None = None,
    ):
        self.onnx_bytes = onnx_bytes
        self.model_sha256 = hashlib.sha256(onnx_bytes).hexdigest()
        self.preprocessing = preprocessing
        self.kind = preprocessing.get("kind", "tensor")
        self.features: list[str] = list(preprocessing.get("features", []))
        self.classes = [str(c) for c in classes]
        self.task = task
        self.evaluation = evaluation
        self.training = training
        self.seed = seed
        self.cache = cache if cache is not None else MemoryPredictionCache()
        self._progress = progress or (lambda fraction, message: None)
        # The data service's PII detectors over texts ({type: count}); given by the run, so tests
        # need not reach into the data service themselves.
        self.pii_scan = pii_scan
        self._preprocessor = Preprocessor(preprocessing, Signature.from_dict(signature), files or {})
        self._session: Any = None
        self._lock = threading.Lock()

    def inputs_summary(self) -> dict[str, Any]:
        """What the run was tested on, for its reproducibility record."""
        records = self.evaluation.records
        record_ids = records["record_id"].to_pylist() if "record_id" in records.column_names else []
        return {
            "evaluation_records": len(self.evaluation),
            "evaluation_records_sha256": hashlib.sha256("\n".join(map(str, record_ids)).encode()).hexdigest(),
            "training_records": len(self.training) if self.training is not None else 0,
        }

    # --- running the model ----------------------------------------------------------------

    def progress(self, fraction: float, message: str = "") -> None:
        """Progress within the current test, in [0, 1]; also where cancellation is noticed."""
        self._progress(fraction, message)

    def model_inputs(self, raw: Sequence[Any]) -> dict[str, np.ndarray]:
        """Raw instances as the model's ONNX inputs, through its own preprocessing."""
        if self.kind not in RAW_KINDS:
            raise Invalid(f"This model takes plain tensors (preprocessing {self.kind!r}), so it cannot be tested on records.")
        if self.kind == "tabular":
            rows = np.asarray(np.stack([np.asarray(r, dtype=np.float64) for r in raw]), dtype=np.float32)
            return self._preprocessor.from_arrays({self.preprocessing["input"]: rows})
        return self._preprocessor.from_instances(list(raw))

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The model's outputs on ONNX inputs, uncached (for timing)."""
        session = self.onnx_session()
        names = [o.name for o in session.get_outputs()]
        return dict(zip(names, session.run(names, inputs), strict=True))

    def onnx_session(self) -> Any:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort

                options = ort.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                # LightGBM's ONNX declares its label output as one row; ORT warns on every batch.
                options.log_severity_level = 3
                self._session = ort.InferenceSession(self.onnx_bytes, options, providers=["CPUExecutionProvider"])
            return self._session

    def probabilities(self, raw: Sequence[Any]) -> np.ndarray:
        """Class probabilities [N, classes] for raw instances, cached per (model, input) digest."""
        if not len(raw):
            return np.zeros((0, len(self.classes)), dtype=np.float64)
        parts = []
        for start in range(0, len(raw), CHUNK):
            inputs = self.model_inputs(raw[start : start + CHUNK])
            key = f"{self.model_sha256}:{input_digest(inputs)}"
            found = self.cache.get(key)
            if found is None:
                found = self._probabilities(self.run(inputs))
                self.cache.put(key, found)
            parts.append(found)
        return np.concatenate(parts)

    def predict(self, raw: Sequence[Any]) -> np.ndarray:
        """Predicted class indices."""
        return np.argmax(self.probabilities(raw), axis=1)

    def _probabilities(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        name = probabilities_output(outputs)
        if name is None:
            raise Invalid("The model has no class-probability output, so classification tests cannot run on it.")
        return np.asarray(outputs[name], dtype=np.float64)
