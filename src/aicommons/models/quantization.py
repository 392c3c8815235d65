"""int8 quantization of ONNX models with ONNX Runtime's quantization tools.

Two ways, both keeping the model's inputs and outputs (names, dtypes, shapes) as they were:

- dynamic (`quantize_dynamic_int8`): weights stored as int8 ahead of time, activations quantized at
  run time per batch. No calibration data needed. It rewrites only MatMul-like ops (MatMul, Gemm
  turned into MatMul, Conv, Attention, LSTM) and embedding Gathers, so it suits transformers and
  MLPs; elementwise ops stay float.
- static (`quantize_static_int8`): activation ranges calibrated on sample inputs ahead of time, the
  graph written in QDQ form (QuantizeLinear/DequantizeLinear pairs around int8 ops) that ONNX
  Runtime fuses into integer kernels. It needs representative inputs, and suits conv nets.

`quantized_ops` says what a quantized graph runs in int8, for the version's details and reports.
The ONNX Runtime APIs work on files, so each call works in its own temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from aicommons.core.errors import Invalid
from aicommons.models.artifacts import signature_of

CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
# Ops whose weights each way stores as int8; a graph with none of them has nothing to gain.
DYNAMIC_OPS = ("MatMul", "Gemm", "Conv", "Attention", "LSTM", "Gather", "EmbedLayerNormalization")
STATIC_OPS = ("Conv", "ConvTranspose", "Gemm", "MatMul", "Gather")
# What static quantization touches by default: the weighted ops, and the activations and data
# movement ONNX Runtime runs in int8 without changing values beyond rounding. Add, Mul, Softmax and
# the normalisations stay float: quantizing them wrecks transformers (all-MiniLM-L6-v2's embeddings
# fell to a mean cosine of 0.30 against FP32 with them, 0.88 without).
STATIC_DEFAULT_OPS = STATIC_OPS + (
    "Relu", "Clip", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape", "Transpose",
    "Squeeze", "Unsqueeze", "Concat", "Resize", "Pad", "Split", "Slice",
)

# Ops that compute on int8 data by their nature (ONNX's integer ops and ONNX Runtime's contrib ops).
_INTEGER_OPS = frozenset({
    "ConvInteger", "MatMulInteger", "QGemm", "QAttention", "DynamicQuantizeMatMul", "DynamicQuantizeLSTM",
    "QEmbedLayerNormalization", "MatMulIntegerToFloat", "QOrderedMatMul", "QuantizeBFP",
})
# Conversion ops: they move data between int8 and float but compute nothing of the model.
_CONVERSION_OPS = frozenset({"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "Cast"})


def quantize_dynamic_int8(
    onnx_bytes: bytes,
    *,
    op_types: Sequence[str] | None = None,
    per_channel: bool = True,
    reduce_range: bool = True,
    keep_float: Sequence[str] = (),
) -> bytes:
    """The model with int8 weights for its MatMul/Gemm/Conv/Attention/LSTM ops and embedding Gathers,
    activations quantized at run time. `op_types` narrows which op types are touched, `keep_float`
    names nodes to leave in float (layers whose activations have outliers).

    Defaults favour accuracy: a weight scale per output channel, and weights in 7 bits
    (`reduce_range`), because on x86 CPUs without VNNI the uint8×int8 kernels sum pairs of products
    in 16 bits and saturate with full-range weights (ONNX Runtime's documented caveat).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    _check_quantizable(onnx_bytes, op_types or DYNAMIC_OPS, "Dynamic")
    _check_node_names(onnx_bytes, keep_float)
    with tempfile.TemporaryDirectory(prefix="aicommons-quant-") as folder:
        work = Path(folder)
        source = _prepared(onnx_bytes, work)
        target = work / "dynamic.onnx"
        with _quiet():
            quantize_dynamic(
                source, target, weight_type=QuantType.QInt8, op_types_to_quantize=list(op_types) if op_types else None,
                per_channel=per_channel, reduce_range=reduce_range, nodes_to_exclude=list(keep_float) or None,
                # MatMuls whose both sides are activations (attention scores) gain nothing from int8 weights.
                extra_options={"MatMulConstBOnly": True},
            )
        return target.read_bytes()


def quantize_static_int8(
    onnx_bytes: bytes,
    calibration: dict[str, np.ndarray],
    *,
    method: str = "minmax",
    per_channel: bool = True,
    op_types: Sequence[str] | None = None,
    batch_size: int = 32,
) -> bytes:
    """The model in QDQ int8 form, its activation ranges calibrated on `calibration` (ONNX inputs by
    name, as `Preprocessor.from_table` builds them; a few hundred representative rows are plenty).

    `method` picks how ranges are chosen: "minmax" (observed extremes), "entropy" (KL-divergence
    thresholds) or "percentile" (99.999th percentile); `per_channel` gives each conv/linear output
    channel its own weight scale, which keeps small conv nets accurate. `op_types` replaces the
    default set of ops to quantize (`STATIC_DEFAULT_OPS`).
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise Invalid(f"The calibration method must be one of {', '.join(CALIBRATION_METHODS)}; got {method!r}.")
    batches = _calibration_batches(onnx_bytes, calibration, batch_size)
    _check_quantizable(onnx_bytes, op_types or STATIC_OPS, "Static")
    with tempfile.TemporaryDirectory(prefix="aicommons-quant-") as folder:
        work = Path(folder)
        source = _prepared(onnx_bytes, work)
        target = work / "static.onnx"
        with _quiet():
            quantize_static(
                source, target, _BatchReader(batches), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=methods[method],
                op_types_to_quantize=list(op_types or STATIC_DEFAULT_OPS),
            )
        return target.read_bytes()


def quantized_ops(onnx_bytes: bytes) -> dict[str, int]:
    """How many nodes of each op type run on int8 data.

    Integer ops count under their own names (MatMulInteger, ConvInteger, QLinearConv, ...). In QDQ
    graphs a float op counts when ONNX Runtime will run it in int8: it takes int8 weights through a
    DequantizeLinear (Conv, Gemm, MatMul), or it sits between a DequantizeLinear and a
    QuantizeLinear (MaxPool, Reshape, ...). A Softmax merely fed by a DequantizeLinear does not count.
    """
    import onnx

    graph = onnx.load_model_from_string(onnx_bytes).graph
    int8 = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8}
    int8_initializers = {t.name for t in graph.initializer if t.data_type in int8}
    # Biases of quantized Conv/Gemm are stored as int32 and dequantized like weights.
    quantized_initializers = int8_initializers | {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.INT32}
    dequantizers = [node for node in graph.node if node.op_type == "DequantizeLinear"]
    dequantized = {out for node in dequantizers for out in node.output}
    dequantized_weights = {out for node in dequantizers if node.input[0] in quantized_initializers for out in node.output}
    requantized = {name for node in graph.node if node.op_type == "QuantizeLinear" for name in node.input[:1]}
    counts: Counter[str] = Counter()
    for node in graph.node:
        if node.op_type in _CONVERSION_OPS:
            continue
        inputs, outputs = set(node.input), set(node.output)
        integer = node.op_type in _INTEGER_OPS or node.op_type.startswith("QLinear")
        int8_weights = bool(inputs & (dequantized_weights | int8_initializers))
        between = bool(inputs & dequantized) and bool(outputs & requantized)
        if integer or int8_weights or between:
            counts[node.op_type] += 1
    return dict(sorted(counts.items()))


# --- internals --------------------------------------------------------------------------------


def _check_quantizable(onnx_bytes: bytes, op_types: Sequence[str], way: str) -> None:
    """Refuse a graph with no op int8 can store (tree ensembles, linear classifiers of ai.onnx.ml):
    quantizing it would only copy it."""
    import onnx

    present = Counter(node.op_type for node in onnx.load_model_from_string(onnx_bytes).graph.node)
    # The dynamic quantizer rewrites a Gemm as a MatMul before quantizing it.
    covered = set(op_types) | ({"Gemm"} if way == "Dynamic" and "MatMul" in op_types else set())
    if not set(present) & covered:
        found = ", ".join(op for op, _ in present.most_common(6)) or "no ops"
        raise Invalid(
            f"{way} int8 quantization has nothing to quantize in this model: it stores weights in int8 for "
            f"{', '.join(op_types)} ops, and the model has {found}."
        )


def _check_node_names(onnx_bytes: bytes, names: Sequence[str]) -> None:
    import onnx

    if not names:
        return
    present = {node.name for node in onnx.load_model_from_string(onnx_bytes).graph.node}
    unknown = [name for name in names if name not in present]
    if unknown:
        raise Invalid(f"keep_float names nodes the model does not have: {unknown[:5]}.")


def _prepared(onnx_bytes: bytes, work: Path) -> Path:
    """The model written to `work`, shape-inferred and optimised by `quant_pre_process` (it lets
    the quantizer see shapes and fold BatchNorm into Conv). Symbolic shape inference gives up on
    some graphs (a transformer's mask arithmetic), so ONNX's own shape inference is tried next,
    and the model as given last (e.g. scikit-learn's ai.onnx.ml ops). Symbolic inference runs in
    a scratch working directory: when it gives up, ONNX Runtime saves its partial model (with
    external data files) to the current directory, which must not be a server's or a user's.
    (The directory is process-wide: quantization runs in job worker processes, one job each.)"""
    from onnxruntime.quantization.shape_inference import quant_pre_process

    original = work / "model.onnx"
    original.write_bytes(_single_opset_imports(onnx_bytes))
    prepared = work / "prepared.onnx"
    for options in ({}, {"skip_symbolic_shape": True}):
        try:
            with _quiet(), contextlib.chdir(work):
                quant_pre_process(original, prepared, **options)
        except Exception:  # noqa: BLE001 - shape inference raises many kinds on unfamiliar ops
            continue
        if prepared.exists():
            return prepared
    return original


def _single_opset_imports(onnx_bytes: bytes) -> bytes:
    """The model with one opset import per domain. `onnx.compose.merge_models` lists a domain once
    per merged graph, and ONNX Runtime's quantizer refuses a model whose "ai.onnx" opset it cannot
    tell; where versions differ the newest is kept, as ONNX Runtime itself resolves them."""
    import onnx

    model = onnx.load_model_from_string(onnx_bytes)
    versions: dict[str, int] = {}
    for opset in model.opset_import:
        domain = "" if opset.domain == "ai.onnx" else opset.domain
        versions[domain] = max(versions.get(domain, 0), opset.version)
    if len(versions) == len(model.opset_import):
        return onnx_bytes
    del model.opset_import[:]
    model.opset_import.extend(onnx.helper.make_opsetid(domain, version) for domain, version in versions.items())
    return model.SerializeToString()


def _calibration_batches(onnx_bytes: bytes, calibration: dict[str, np.ndarray], batch_size: int) -> list[dict[str, np.ndarray]]:
    """The calibration inputs checked against the model's signature and cut into batches."""
    signature = signature_of(onnx_bytes)
    strings = [t.name for t in signature.inputs if t.dtype == "string"]
    if strings:
        raise Invalid(
            f"Static int8 quantization needs numeric inputs; this model takes strings ({', '.join(strings)}). "
            "Use dynamic quantization, or quantize the numeric part of the model."
        )
    names = [t.name for t in signature.inputs]
    missing = [n for n in names if n not in calibration]
    if missing:
        raise Invalid(f"The calibration data lacks input {missing[0]!r}; the model takes {', '.join(names)}.")
    arrays = {n: np.asarray(calibration[n]) for n in names}
    rows = {n: a.shape[0] if a.ndim else 0 for n, a in arrays.items()}
    if len(set(rows.values())) != 1:
        raise Invalid(f"The calibration inputs have different numbers of rows: {rows}.")
    total = next(iter(rows.values()), 0)
    if total == 0:
        raise Invalid("The calibration set is empty; static quantization needs sample inputs to measure activation ranges.")
    fixed = {t.shape[0] for t in signature.inputs if t.shape and isinstance(t.shape[0], int)}
    # A graph exported with a fixed batch size takes exactly that many rows per run.
    step = fixed.pop() if len(fixed) == 1 else batch_size
    if fixed and total < step:
        raise Invalid(f"The model takes batches of exactly {step} rows; the calibration set has {total}.")
    starts = range(0, total - total % step if fixed else total, step)
    return [{n: a[start : start + step] for n, a in arrays.items()} for start in starts]


class _BatchReader(CalibrationDataReader):
    """Hands ONNX Runtime's calibrator the prepared batches, one per call."""

    def __init__(self, batches: list[dict[str, np.ndarray]]):
        self._batches = batches
        self._iterator: Iterator[dict[str, np.ndarray]] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iterator, None)

    def rewind(self) -> None:
        self._iterator = iter(self._batches)

    def __len__(self) -> int:
        return len(self._batches)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's calibrators print their progress to stdout, which would land in the middle of
    a CLI table or a job's output."""
    with contextlib.redirect_stdout(io.StringIO()):
        yield
