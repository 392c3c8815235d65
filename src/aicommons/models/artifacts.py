"""What an uploaded model file is: ONNX (checked, signature read) or skops (loaded safely, converted to ONNX).

The format is told by the bytes, never by the file name. Python pickles — plain, joblib-compressed, or
inside a PyTorch ``.pt`` zip — are recognised and refused: loading a pickle can run arbitrary code,
so aicommons never does (DESIGN.md: "Models are never loaded from pickle").
"""

from __future__ import annotations

import bz2
import io
import lzma
import pickletools
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aicommons.core.errors import Invalid, invalid_parameter

OWNER = "inspect_model_file"

PICKLE_ADVICE = (
    "pickles can run arbitrary code when loaded, so aicommons never loads them. Upload ONNX, "
    "or scikit-learn models saved with skops.io.dump, or torch weights as safetensors with a recipe."
)
NOT_A_MODEL = "not a model aicommons can read: expected ONNX or skops (a scikit-learn model saved with skops.io.dump)."

# Types skops does not trust by default but which are plain scikit-learn data holders, rebuilt by skops
# from arrays without running user code. Anything else the file names is refused.
SKOPS_TRUSTED = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
)


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # numpy-style: float32, int64, string, ...; non-tensors e.g. "sequence<map<int64,float32>>"
    shape: list[int | str | None] | None  # int, symbolic name, or None per dimension; None when the rank is unknown

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": None if self.shape is None else list(self.shape)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorSpec:
        shape = data.get("shape")
        return cls(name=data["name"], dtype=data["dtype"], shape=None if shape is None else list(shape))


@dataclass(frozen=True)
class Signature:
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]

    def as_dict(self) -> dict[str, Any]:
        return {"inputs": [t.as_dict() for t in self.inputs], "outputs": [t.as_dict() for t in self.outputs]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        return cls(
            inputs=[TensorSpec.from_dict(t) for t in data.get("inputs", [])],
            outputs=[TensorSpec.from_dict(t) for t in data.get("outputs", [])],
        )


@dataclass(frozen=True)
class Artifact:
    source_format: str  # "onnx" | "skops"
    onnx_bytes: bytes
    signature: Signature
    source_bytes: bytes | None
    framework: str  # "onnx", "scikit-learn"
    details: dict[str, Any] = field(default_factory=dict)  # opset, producer, estimator class, ...


# --- entry point -------------------------------------------------------------------------------


def inspect_model_file(path: Path, *, max_bytes: int = 2 << 30, architecture: dict[str, Any] | None = None) -> Artifact:
    """Read a model file and return its canonical ONNX form; raise `Invalid` saying why when it cannot."""
    path = Path(path)
    if not path.is_file():
        raise invalid_parameter("path", OWNER, "an existing file", str(path))
    size = path.stat().st_size
    if size == 0:
        raise Invalid(f"The model file {path.name!r} is empty.")
    if size > max_bytes:
        raise Invalid(f"The model file {path.name!r} is {size:,} bytes; the limit is {max_bytes:,} bytes.")
    data = path.read_bytes()
    return inspect_model_bytes(data, name=path.name, architecture=architecture)


def inspect_model_bytes(data: bytes, *, name: str = "model", architecture: dict[str, Any] | None = None) -> Artifact:
    if not data:
        raise Invalid(f"The model file {name!r} is empty.")
    kind = _pickle_kind(data)
    if kind:
        raise Invalid(f"The model file {name!r} is a Python pickle ({kind}); {PICKLE_ADVICE}")
    if data[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return _inspect_zip(data, name)
    if data[:8] and _looks_like_safetensors(data):
        if architecture is None:
            raise Invalid(
                f"The model file {name!r} holds safetensors weights only, which cannot be served on their own: "
                'send its architecture with it (e.g. {"name": "digits-cnn", "config": {...}}, as a torch recipe '
                "records it), or upload the model exported to ONNX (torch.onnx.export)."
            )
        return _inspect_torch(data, architecture)
    return _inspect_onnx(data, name)


def _inspect_torch(weights: bytes, architecture: dict[str, Any]) -> Artifact:
    """Safetensors weights of a registered architecture: rebuilt in torch and exported to ONNX."""
    from aicommons.models import torchnets  # torch loads only for torch uploads

    onnx_bytes = torchnets.onnx_from_weights(architecture, weights)
    return Artifact(
        source_format="safetensors", onnx_bytes=onnx_bytes, signature=signature_of(onnx_bytes), source_bytes=weights,
        framework="pytorch", details={"architecture": architecture},
    )


def signature_of(onnx_bytes: bytes) -> Signature:
    import onnx

    return _signature(onnx.load_model_from_string(onnx_bytes))


# --- pickle detection ----------------------------------------------------------------------------

# Opcodes a protocol 0/1 pickle can start with: MARK, EMPTY_DICT/LIST/TUPLE, GLOBAL, scalars.
_PROTO01_FIRST = frozenset(b"(}])cIFLSVNGJKMTUX\x88\x89")


def _pickle_kind(data: bytes) -> str | None:
    """A short description when `data` is a pickle (possibly compressed the way joblib does it)."""
    plain = _plain_pickle_kind(data)
    if plain:
        return plain
    head = _decompressed_head(data)
    if head is not None:
        compression, text = head
        if _plain_pickle_kind(text, whole=False):
            return f"a joblib file compressed with {compression}"
    if data[:4] == b"PK\x03\x04":
        try:
            names = zipfile.ZipFile(io.BytesIO(data)).namelist()
        except zipfile.BadZipFile:
            return None
        pickled = [n for n in names if n.endswith((".pkl", ".pickle")) or n.rsplit("/", 1)[-1] == "data.pkl"]
        if pickled:
            what = "a PyTorch checkpoint" if any(n.rsplit("/", 1)[-1] == "data.pkl" for n in names) else "a zip archive"
            return f"{what} holding {pickled[0]!r}"
    return None


def _plain_pickle_kind(data: bytes, *, whole: bool = True) -> str | None:
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return f"protocol {data[1]}"
    if not data or data[0] not in _PROTO01_FIRST:
        return None
    # Protocol 0/1: walk the opcodes (pickletools only parses, it never executes anything).
    try:
        ops = 0
        for opcode, _arg, _pos in pickletools.genops(io.BytesIO(data)):
            ops += 1
            if opcode.name == "STOP":
                return "protocol 0/1"
    except Exception:  # noqa: BLE001 - any parse failure means "not a pickle we can recognise"
        return "protocol 0/1" if not whole and ops >= 3 else None
    return "protocol 0/1" if not whole and ops >= 3 else None


def _decompressed_head(data: bytes, limit: int = 1 << 16) -> tuple[str, bytes] | None:
    """The first bytes of a zlib/gzip/bz2/xz/lzma stream (joblib's compressors), or None."""
    try:
        if data[:2] == b"\x1f\x8b":
            return "gzip", zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[: limit * 4], limit)
        if len(data) > 1 and data[0] == 0x78 and ((data[0] << 8) | data[1]) % 31 == 0:
            return "zlib", zlib.decompressobj().decompress(data[: limit * 4], limit)
        if data[:3] == b"BZh":
            return "bz2", bz2.BZ2Decompressor().decompress(data[: limit * 4], limit)
        if data[:6] == b"\xfd7zXZ\x00":
            return "xz", lzma.LZMADecompressor().decompress(data[: limit * 4], limit)
        if data[:3] == b"\x5d\x00\x00":
            return "lzma", lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data[: limit * 4], limit)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return None
    return None


def _looks_like_safetensors(data: bytes) -> bool:
    header = int.from_bytes(data[:8], "little")
    return 2 <= header <= len(data) - 8 and data[8:9] == b"{"


# --- ONNX ------------------------------------------------------------------------------------------


def _inspect_onnx(data: bytes, name: str) -> Artifact:
    model = _checked_onnx(data, name)
    details = {
        "ir_version": int(model.ir_version),
        "opset": {(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import},
        "producer_name": model.producer_name,
        "producer_version": model.producer_version,
        "graph_name": model.graph.name,
    }
    return Artifact(source_format="onnx", onnx_bytes=data, signature=_signature(model), source_bytes=None, framework="onnx", details=details)


def _checked_onnx(data: bytes, name: str):
    import onnx
    from google.protobuf.message import DecodeError

    looks_onnx = data[:1] == b"\x08"  # field 1 (ir_version, varint): how every ONNX writer starts the file
    try:
        model = onnx.load_model_from_string(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        if looks_onnx:
            raise Invalid(f"The model file {name!r} looks like ONNX but cannot be parsed (truncated or corrupt): {exc}") from None
        raise Invalid(f"The model file {name!r} is {NOT_A_MODEL}") from None
    if not model.ir_version or not model.HasField("graph") or not model.opset_import:
        raise Invalid(f"The model file {name!r} is {NOT_A_MODEL}")
    external = [t.name for t in _initializers(model) if t.data_location == onnx.TensorProto.EXTERNAL]
    if external:
        raise Invalid(
            f"The ONNX model {name!r} keeps tensors in external data files ({', '.join(external[:3])}); "
            "upload one self-contained ONNX file (onnx.save_model(..., save_as_external_data=False))."
        )
    try:
        onnx.checker.check_model(model, full_check=True)
    except Exception as exc:  # noqa: BLE001 - checker raises ValidationError, InferenceError, ...
        raise Invalid(f"The ONNX model {name!r} fails onnx.checker: {_first_line(exc)}") from None
    try:
        import onnxruntime as ort

        ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise Invalid(f"The ONNX model {name!r} passes onnx.checker but ONNX Runtime cannot load it: {_first_line(exc)}") from None
    return model


def _initializers(model):
    yield from model.graph.initializer
    for node in model.graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                yield attr.t


def _first_line(exc: Exception, limit: int = 600) -> str:
    """The exception's message on one line, shortened: enough to name the problem."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _signature(model) -> Signature:
    initializers = {t.name for t in model.graph.initializer}
    inputs = [_tensor_spec(v) for v in model.graph.input if v.name not in initializers]
    return Signature(inputs=inputs, outputs=[_tensor_spec(v) for v in model.graph.output])


def _tensor_spec(value) -> TensorSpec:
    kind = value.type.WhichOneof("value")
    if kind == "tensor_type":
        tensor = value.type.tensor_type
        shape = None
        if tensor.HasField("shape"):
            shape = [
                int(d.dim_value) if d.HasField("dim_value") else (d.dim_param if d.HasField("dim_param") else None)
                for d in tensor.shape.dim
            ]
        return TensorSpec(name=value.name, dtype=_dtype_name(tensor.elem_type), shape=shape)
    return TensorSpec(name=value.name, dtype=_type_name(value.type), shape=None)


def _dtype_name(elem_type: int) -> str:
    import numpy as np
    import onnx

    if elem_type == onnx.TensorProto.STRING:
        return "string"
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem_type)).name
    except (KeyError, TypeError, ValueError):
        return onnx.TensorProto.DataType.Name(elem_type).lower()


def _type_name(type_proto) -> str:
    kind = type_proto.WhichOneof("value")
    if kind == "tensor_type":
        return _dtype_name(type_proto.tensor_type.elem_type)
    if kind == "sequence_type":
        return f"sequence<{_type_name(type_proto.sequence_type.elem_type)}>"
    if kind == "map_type":
        return f"map<{_dtype_name(type_proto.map_type.key_type)},{_type_name(type_proto.map_type.value_type)}>"
    if kind == "optional_type":
        return f"optional<{_type_name(type_proto.optional_type.elem_type)}>"
    return kind or "unknown"


# --- skops -----------------------------------------------------------------------------------------


def _inspect_zip(data: bytes, name: str) -> Artifact:
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except zipfile.BadZipFile as exc:
        raise Invalid(f"The model file {name!r} is a damaged zip archive ({exc}); {NOT_A_MODEL}") from None
    if "schema.json" not in names:
        raise Invalid(f"The model file {name!r} is a zip archive without a skops schema.json; {NOT_A_MODEL}")
    return _inspect_skops(data, name)


def _inspect_skops(data: bytes, name: str) -> Artifact:
    import numpy as np
    import skops.io as sio

    try:
        untrusted = sio.get_untrusted_types(data=data)
    except Exception as exc:  # noqa: BLE001
        raise Invalid(f"The skops file {name!r} cannot be read: {_first_line(exc)}") from None
    refused = sorted(t for t in untrusted if t not in SKOPS_TRUSTED)
    if refused:
        raise Invalid(
            f"The skops file {name!r} names types aicommons does not trust: {', '.join(refused)}. "
            "Only scikit-learn, NumPy and SciPy objects are loaded; save a plain scikit-learn estimator or pipeline."
        )
    try:
        estimator = sio.loads(data, trusted=[t for t in untrusted if t in SKOPS_TRUSTED])
    except Exception as exc:  # noqa: BLE001
        raise Invalid(f"The skops file {name!r} cannot be loaded: {_first_line(exc)}") from None
    cls = f"{type(estimator).__module__}.{type(estimator).__qualname__}"
    n_features = getattr(estimator, "n_features_in_", None)
    if not isinstance(n_features, (int, np.integer)) or n_features < 1:
        raise Invalid(
            f"The skops file {name!r} holds a {cls}, not a fitted scikit-learn estimator with n_features_in_; "
            "fit the model before saving it."
        )
    onnx_bytes = _to_onnx(estimator, int(n_features), cls, name)
    model = _checked_onnx(onnx_bytes, name)
    import sklearn

    details = {
        "estimator": cls,
        "n_features_in": int(n_features),
        "classes": [c.item() if hasattr(c, "item") else c for c in getattr(estimator, "classes_", [])],
        "sklearn_version": sklearn.__version__,
        "opset": {(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import},
        "converter": "skl2onnx",
    }
    return Artifact(
        source_format="skops", onnx_bytes=onnx_bytes, signature=_signature(model), source_bytes=data,
        framework="scikit-learn", details=details,
    )


def _to_onnx(estimator: Any, n_features: int, cls: str, name: str) -> bytes:
    import numpy as np
    from skl2onnx import to_onnx
    from sklearn.base import is_classifier

    options = {id(est): {"zipmap": False} for est in _estimators(estimator) if is_classifier(est)}
    try:
        model = to_onnx(estimator, np.zeros((1, n_features), dtype=np.float32), options=options or None)
    except Exception as exc:  # noqa: BLE001 - skl2onnx raises many kinds
        raise Invalid(f"The {cls} in {name!r} cannot be converted to ONNX by skl2onnx: {_first_line(exc)}") from None
    return model.SerializeToString()


def _estimators(estimator: Any):
    """The estimator and the steps nested in pipelines, unions and column transformers."""
    yield estimator
    for attr in ("steps", "transformer_list", "transformers_"):
        for item in getattr(estimator, attr, None) or []:
            if isinstance(item, tuple) and len(item) >= 2 and hasattr(item[1], "fit"):
                yield from _estimators(item[1])
