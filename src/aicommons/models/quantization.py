"""int8 quantization of ONNX models with ONNX Runtime's quantization tools.

Two ways, both keeping the model's inputs and outputs (names, dtypes, shapes) as they were:

- dynamic (`quantize_dynamic_int8`): weights stored as int8 ahead of time, activations quantized at
  run time per batch. No calibration data needed. It rewrites only MatMul-like ops (MatMul, Gemm
  turned into MatMul, Conv, Attention, LSTM) and embedding Gathers, so it suits transformers and
  MLPs; elementwise ops stay float.
- static (`quantize_static_int8`): activation ranges calibrated on sample inputs ahead of time, the
  graph written in QDQ form (QuantizeLinear/DequantizeLinear pairs around int8 ops) that ONNX
  Runtime fuses into integer kernels. It needs representative inputs, and suits conv nets.

Two refinements apply to both ways, each a keyword option with an accuracy-first default:

- outlier channels (`outlier_threshold`, given sample inputs): transformers carry a few activation
  channels tens of times larger than the rest (all-MiniLM-L6-v2: one LayerNorm channel near 28 where
  the median channel peaks at 1.7, one GELU channel near 24 against 1.0), and a per-tensor int8 scale
  sized for them leaves a handful of levels for every other channel. A MatMul whose input has such
  channels is split as LLM.int8() does (Dettmers et al., 2022): the outlier channels go through a
  small float MatMul, the rest through the int8 one, and the two are added. The channels are found
  on the sample inputs (channel max above `outlier_threshold` times the median channel max).
- embedding tables by row (`row_wise_embeddings`): a Gather's table is stored as int8 with one scale
  per row and dequantized after the lookup, where ONNX Runtime would use one scale for the whole
  table; the scales add 4 bytes a row (1% of a 384-wide table), and the token, position and
  token-type embeddings keep their precision.

`quantized_ops` says what a quantized graph runs in int8, and `outlier_channels` how many input
channels were kept in float, for the version's details and reports. The ONNX Runtime APIs work on
files, so each call works in its own temporary directory.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from aicommons.core.errors import Invalid
from aicommons.models.artifacts import signature_of

if TYPE_CHECKING:
    import onnx

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

# An input channel of a MatMul is an outlier when its largest magnitude on the sample inputs is this
# many times the median channel's. 6 catches all-MiniLM-L6-v2's outlier channels (15-30×) and leaves
# ordinary spread alone; at most 2% of a tensor's channels are kept in float.
OUTLIER_THRESHOLD = 6.0
_OUTLIER_SHARE = 0.02
# Names given to what the outlier split adds: `outlier_channels` finds the index tensors by it.
_OUTLIER_INDEX = "/outlier_channels"
# Suffixes of the tensors the refinements add; compaction keeps them, so the graph still says which is which.
_ROW_INT8, _ROW_SCALE = "/int8", "/row_scale"
_MARKED_SUFFIXES = (_OUTLIER_INDEX, _ROW_INT8, _ROW_SCALE)

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
    calibration: dict[str, np.ndarray] | None = None,
    outlier_threshold: float | None = OUTLIER_THRESHOLD,
    row_wise_embeddings: bool = True,
    batch_size: int = 32,
) -> bytes:
    """The model with int8 weights for its MatMul/Gemm/Conv/Attention/LSTM ops and embedding Gathers,
    activations quantized at run time. `op_types` narrows which op types are touched, `keep_float`
    names nodes to leave in float.

    Defaults favour accuracy: a weight scale per output channel, and weights in 7 bits
    (`reduce_range`), because on x86 CPUs without VNNI the uint8×int8 kernels sum pairs of products
    in 16 bits and saturate with full-range weights (ONNX Runtime's documented caveat).

    `calibration` (ONNX inputs by name, a few dozen representative rows) is optional: with it, the
    input channels of MatMuls whose peak exceeds `outlier_threshold` times the median channel's
    stay in float (None turns that off), which lifts all-MiniLM-L6-v2's embedding cosine to FP32
    from 0.987 to 0.995 for about 6% of the int8 speed-up (bench/compression.py).
    `row_wise_embeddings` stores embedding tables with a scale per row (False: ONNX Runtime's one
    scale per table).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.registry import IntegerOpsRegistry

    _check_quantizable(onnx_bytes, op_types or DYNAMIC_OPS, "Dynamic")
    _check_node_names(onnx_bytes, keep_float)
    _check_threshold(outlier_threshold)
    batches = _calibration_batches(onnx_bytes, calibration, batch_size) if calibration is not None and outlier_threshold else None
    types = list(op_types or IntegerOpsRegistry)
    with tempfile.TemporaryDirectory(prefix="aicommons-quant-") as folder:
        work = Path(folder)
        source, kept_float = _refined(_prepared(onnx_bytes, work), work, types, keep_float, batches, outlier_threshold, row_wise_embeddings)
        target = work / "dynamic.onnx"
        with _quiet():
            quantize_dynamic(
                source, target, weight_type=QuantType.QInt8, op_types_to_quantize=types,
                per_channel=per_channel, reduce_range=reduce_range, nodes_to_exclude=kept_float or None,
                # MatMuls whose both sides are activations (attention scores) gain nothing from int8 weights.
                extra_options={"MatMulConstBOnly": True},
            )
        return _compacted(target.read_bytes())


def quantize_static_int8(
    onnx_bytes: bytes,
    calibration: dict[str, np.ndarray],
    *,
    method: str = "minmax",
    per_channel: bool = True,
    op_types: Sequence[str] | None = None,
    batch_size: int = 32,
    outlier_threshold: float | None = OUTLIER_THRESHOLD,
    row_wise_embeddings: bool = True,
    activation_matmuls: bool = False,
) -> bytes:
    """The model in QDQ int8 form, its activation ranges calibrated on `calibration` (ONNX inputs by
    name, as `Preprocessor.from_table` builds them; a few hundred representative rows are plenty).

    `method` picks how ranges are chosen: "minmax" (observed extremes), "entropy" (KL-divergence
    thresholds) or "percentile" (99.999th percentile); `per_channel` gives each conv/linear output
    channel its own weight scale, which keeps small conv nets accurate. `op_types` replaces the
    default set of ops to quantize (`STATIC_DEFAULT_OPS`).

    `outlier_threshold` and `row_wise_embeddings` work as in `quantize_dynamic_int8`, the outlier
    channels found on `calibration`. A fixed activation range suffers from outlier channels even
    more than a per-batch one: with the split (and the attention MatMuls in float, below) a MiniLM
    sentiment classifier's labels agree with FP32 on 96% of test reviews instead of 89%, and
    all-MiniLM-L6-v2's embeddings keep a cosine of 0.98 instead of 0.91.
    `activation_matmuls` also quantizes MatMuls whose both inputs are activations (a transformer's
    attention scores and weighted values); off by default, as in dynamic quantization: a fixed int8
    range for softmax probabilities rounds the small ones to zero. None / False / True give ONNX
    Runtime's plain static quantization.
    """
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise Invalid(f"The calibration method must be one of {', '.join(CALIBRATION_METHODS)}; got {method!r}.")
    _check_threshold(outlier_threshold)
    batches = _calibration_batches(onnx_bytes, calibration, batch_size)
    _check_quantizable(onnx_bytes, op_types or STATIC_OPS, "Static")
    types = list(op_types or STATIC_DEFAULT_OPS)
    with tempfile.TemporaryDirectory(prefix="aicommons-quant-") as folder:
        work = Path(folder)
        split = batches if outlier_threshold else None
        source, kept_float = _refined(
            _prepared(onnx_bytes, work), work, types, (), split, outlier_threshold, row_wise_embeddings,
            float_activation_matmuls=not activation_matmuls,
        )
        target = work / "static.onnx"
        with _quiet():
            quantize_static(
                source, target, _BatchReader(batches), quant_format=QuantFormat.QDQ, per_channel=per_channel,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=methods[method],
                op_types_to_quantize=types, nodes_to_exclude=kept_float or None,
                # ONNX Runtime quantizes a float bias itself when it fuses a Conv into QLinearConv, with
                # the same scale (input scale × weight scale); stored float it takes 4 bytes a channel
                # instead of an int32 and a float scale.
                extra_options={"QuantizeBias": False},
            )
        return _compacted(target.read_bytes())


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


def outlier_channels(onnx_bytes: bytes) -> int:
    """How many MatMul input channels a quantized graph keeps in float (0 without the outlier split)."""
    import onnx

    graph = onnx.load_model_from_string(onnx_bytes).graph
    return sum(int(np.prod(t.dims)) for t in graph.initializer if t.name.endswith(_OUTLIER_INDEX))


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


def _check_threshold(threshold: float | None) -> None:
    if threshold is not None and not threshold > 1:
        raise Invalid(f"The outlier threshold is a ratio to the median channel and must be above 1 (or None); got {threshold}.")


def _refined(
    source: Path, work: Path, op_types: Sequence[str], keep_float: Sequence[str], batches: list[dict[str, np.ndarray]] | None,
    threshold: float | None, row_wise_embeddings: bool, *, float_activation_matmuls: bool = False,
) -> tuple[Path, list[str]]:
    """The prepared model with outlier channels split off and embedding tables stored by row, as
    asked, and the nodes ONNX Runtime's quantizer must then leave alone: `keep_float`, what was
    added, and with `float_activation_matmuls` the MatMuls whose inputs are both activations."""
    import onnx

    kept = list(keep_float)
    split = bool(batches and threshold and "MatMul" in op_types)
    by_row = row_wise_embeddings and "Gather" in op_types
    if not (split or by_row or (float_activation_matmuls and "MatMul" in op_types)):
        return source, kept
    model = onnx.load(str(source))
    added: list[str] = []
    if split:
        assert batches is not None and threshold is not None
        added += _split_outlier_channels(model, batches, threshold, set(keep_float))
    if by_row:
        added += _row_wise_embeddings(model, set(keep_float))
    if float_activation_matmuls and "MatMul" in op_types:
        constants = {t.name for t in model.graph.initializer}
        kept += [n.name for n in model.graph.node if n.op_type == "MatMul" and n.input[1] not in constants and n.name not in added]
    kept += added
    if not added:
        return source, kept
    refined = work / "refined.onnx"
    onnx.save(model, str(refined))
    return refined, kept


def _float_initializers(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    import onnx

    return {t.name: t for t in graph.initializer if t.data_type == onnx.TensorProto.FLOAT}


def _unique(name: str, taken: set[str]) -> str:
    candidate, count = name, 1
    while candidate in taken:
        count += 1
        candidate = f"{name}_{count}"
    taken.add(candidate)
    return candidate


def _split_outlier_channels(model: onnx.ModelProto, batches: list[dict[str, np.ndarray]], threshold: float, skip: set[str]) -> list[str]:
    """Rewrite each MatMul with a constant [K, N] weight whose input has outlier channels (peak
    magnitude on `batches` above `threshold` × the median channel's, at most 2% of K) as

        MatMul(X * keep, W with the outlier rows zeroed)   -- quantized
      + MatMul(Gather(X, outliers, axis=-1), W[outliers])  -- float

    MatMuls reading the same X share the mask and the gather. Returns the names of the added nodes,
    which the quantizer must leave in float."""
    from onnx import helper, numpy_helper

    graph = model.graph
    weights = _float_initializers(graph)
    groups: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        weight = weights.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if weight is None or len(weight.dims) != 2 or weight.dims[0] < 16 or node.name in skip or node.input[0] in weights:
            continue
        groups.setdefault(node.input[0], []).append(node)
    if not groups:
        return []
    widths = {x: int(weights[nodes[0].input[1]].dims[0]) for x, nodes in groups.items()}
    peaks = _channel_peaks(model, widths, batches)
    taken = {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output} | {i.name for i in graph.input}
    node_names = {n.name for n in graph.node}
    added: list[str] = []
    before: dict[str, list[onnx.NodeProto]] = {}  # new nodes to place before an existing node
    after: dict[str, list[onnx.NodeProto]] = {}  # ... and after one
    replaced: dict[str, list[onnx.NodeProto]] = {}
    bias_adds = _bias_adds(graph, weights)
    for x, nodes in groups.items():
        peak = peaks[x]
        outliers = np.flatnonzero(peak > threshold * max(float(np.median(peak)), 1e-12))
        if outliers.size == 0:
            continue
        limit = max(1, int(_OUTLIER_SHARE * peak.size))
        if outliers.size > limit:
            outliers = np.sort(np.argsort(peak)[::-1][:limit])
        keep = np.ones(peak.size, dtype=np.float32)
        keep[outliers] = 0
        mask, index = _unique(f"{x}/outlier_mask", taken), _unique(f"{x}{_OUTLIER_INDEX}", taken)
        rest, values = _unique(f"{x}/without_outliers", taken), _unique(f"{x}/outlier_values", taken)
        graph.initializer.extend([numpy_helper.from_array(keep, mask), numpy_helper.from_array(outliers.astype(np.int64), index)])
        shared = [
            helper.make_node("Mul", [x, mask], [rest], name=_unique(f"{rest}/Mul", node_names)),
            helper.make_node("Gather", [x, index], [values], name=_unique(f"{values}/Gather", node_names), axis=-1),
        ]
        added += [n.name for n in shared]
        before[nodes[0].name] = shared
        for node in nodes:
            weight = numpy_helper.to_array(weights[node.input[1]])
            inliers = weight.copy()
            inliers[outliers] = 0  # so that the outlier rows do not widen the int8 weight scales
            inlier_name, outlier_name = _unique(f"{node.input[1]}/inlier_rows", taken), _unique(f"{node.input[1]}/outlier_rows", taken)
            graph.initializer.extend([numpy_helper.from_array(inliers, inlier_name), numpy_helper.from_array(weight[outliers], outlier_name)])
            output = node.output[0]
            int8_part, float_part = _unique(f"{output}/int8_part", taken), _unique(f"{output}/float_part", taken)
            in_float = helper.make_node("MatMul", [values, outlier_name], [float_part], name=_unique(f"{node.name}/outliers", node_names))
            bias_add = bias_adds.get(output)
            if bias_add is None:
                quantized = helper.make_node("MatMul", [rest, inlier_name], [int8_part], name=node.name)
                joined = helper.make_node("Add", [int8_part, float_part], [output], name=_unique(f"{node.name}/outliers_Add", node_names))
                replaced[node.name] = [quantized, in_float, joined]
            else:
                # The float part joins after the bias Add, so ONNX Runtime still fuses MatMul and bias
                # into one int8 kernel (DynamicQuantizeMatMul); joined before, it costs a second Add.
                quantized = helper.make_node("MatMul", [rest, inlier_name], [output], name=node.name)
                biased = bias_add.output[0]
                bias_add.output[0] = _unique(f"{biased}/int8_part", taken)
                joined = helper.make_node("Add", [bias_add.output[0], float_part], [biased], name=_unique(f"{node.name}/outliers_Add", node_names))
                replaced[node.name] = [quantized, in_float]
                after[bias_add.name] = [joined]
            added += [in_float.name, joined.name]
    if not replaced:
        return []
    rebuilt = []
    for node in graph.node:
        rebuilt += before.get(node.name, [])
        rebuilt += replaced.get(node.name, [node])
        rebuilt += after.get(node.name, [])
    del graph.node[:]
    graph.node.extend(rebuilt)
    _drop_unused_initializers(graph)
    return added


def _bias_adds(graph: onnx.GraphProto, weights: dict[str, onnx.TensorProto]) -> dict[str, onnx.NodeProto]:
    """The Adds of a constant 1-D bias that are the only reader of a tensor, by that tensor: the
    `MatMul + bias` pairs ONNX Runtime fuses."""
    readers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    found = {}
    for name, nodes in readers.items():
        node = nodes[0]
        if len(nodes) != 1 or node.op_type != "Add" or not node.name or name not in node.input:
            continue
        other = node.input[1] if node.input[0] == name else node.input[0]
        if other in weights and len(weights[other].dims) == 1:
            found[name] = node
    return found


def _channel_peaks(model: onnx.ModelProto, widths: dict[str, int], batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """The largest magnitude of each last-axis channel of the named tensors over the batches,
    reduced inside the graph so that only [K] vectors leave it."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    graph = probe.graph
    opset = next((o.version for o in probe.opset_import if o.domain in ("", "ai.onnx")), 17)
    outputs = []
    graph.initializer.append(numpy_helper.from_array(np.array([0], dtype=np.int64), "channel_peaks/axis0"))
    for number, (name, width) in enumerate(widths.items()):
        shape, flat, absolute, peak = (f"channel_peaks/{number}/{part}" for part in ("shape", "flat", "abs", "peak"))
        graph.initializer.append(numpy_helper.from_array(np.array([-1, width], dtype=np.int64), shape))
        reduce = (
            helper.make_node("ReduceMax", [absolute, "channel_peaks/axis0"], [peak], keepdims=0) if opset >= 18
            else helper.make_node("ReduceMax", [absolute], [peak], axes=[0], keepdims=0)
        )
        graph.node.extend([helper.make_node("Reshape", [name, shape], [flat]), helper.make_node("Abs", [flat], [absolute]), reduce])
        outputs.append(peak)
    del graph.output[:]
    graph.output.extend(helper.make_tensor_value_info(peak, TensorProto.FLOAT, [width]) for peak, width in zip(outputs, widths.values(), strict=True))
    session = _session(probe.SerializeToString())
    result = {name: np.zeros(width, dtype=np.float32) for name, width in widths.items()}
    for batch in batches:
        for name, value in zip(widths, session.run(outputs, batch), strict=True):
            result[name] = np.maximum(result[name], value)
    return result


def _row_wise_embeddings(model: onnx.ModelProto, skip: set[str]) -> list[str]:
    """Each Gather of rows (axis 0) from a constant float [V, D] table becomes a Gather from an int8
    table and one from a [V, 1] scale table, multiplied: symmetric int8 with a scale per row, where
    ONNX Runtime's quantizer gives the whole table one scale. Returns the nodes the quantizer must
    leave alone (the scale Gathers)."""
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    tables = _float_initializers(graph)
    taken = {t.name for t in graph.initializer} | {o for n in graph.node for o in n.output} | {i.name for i in graph.input}
    node_names = {n.name for n in graph.node}
    stored: dict[str, tuple[str, str]] = {}  # table → its int8 and scale initializers (a table may be gathered twice)
    added: list[str] = []
    rebuilt = []
    for node in graph.node:
        table = tables.get(node.input[0]) if node.op_type == "Gather" else None
        axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
        if table is None or len(table.dims) != 2 or axis != 0 or node.name in skip:
            rebuilt.append(node)
            continue
        if table.name not in stored:
            values = numpy_helper.to_array(table)
            scale = (np.abs(values).max(axis=1, keepdims=True) / 127).astype(np.float32)
            scale[scale == 0] = 1
            int8 = np.clip(np.rint(values / scale), -127, 127).astype(np.int8)
            names = (_unique(f"{table.name}{_ROW_INT8}", taken), _unique(f"{table.name}{_ROW_SCALE}", taken))
            graph.initializer.extend([numpy_helper.from_array(int8, names[0]), numpy_helper.from_array(scale, names[1])])
            stored[table.name] = names
        int8_name, scale_name = stored[table.name]
        output = node.output[0]
        rows, scales, floats = (_unique(f"{output}/{part}", taken) for part in ("int8_rows", "row_scales", "float_rows"))
        scale_gather = helper.make_node("Gather", [scale_name, node.input[1]], [scales], name=_unique(f"{node.name}/row_scales", node_names), axis=0)
        rebuilt += [
            helper.make_node("Gather", [int8_name, node.input[1]], [rows], name=node.name, axis=0),
            scale_gather,
            helper.make_node("Cast", [rows], [floats], name=_unique(f"{node.name}/Cast", node_names), to=TensorProto.FLOAT),
            helper.make_node("Mul", [floats, scales], [output], name=_unique(f"{node.name}/dequantize", node_names)),
        ]
        added.append(scale_gather.name)
    if not stored:
        return []
    del graph.node[:]
    graph.node.extend(rebuilt)
    _drop_unused_initializers(graph)
    return added


def _compacted(onnx_bytes: bytes) -> bytes:
    """The quantized model without what only the quantizer needed, computing exactly the same.

    In a small model the graph's own bookkeeping outweighs its int8 weights: the recipe's
    10k-parameter digits CNN has 10 KB of int8 weights in a 19 KB QDQ file, the rest being long
    tensor and node names, shape annotations, zero points that are all zero, and opset imports of
    domains no node uses. Tensor names other than the model's inputs and outputs become short
    ones (the refinements' suffixes kept); the parent version keeps the readable names.
    """
    import onnx

    model = onnx.load_model_from_string(onnx_bytes)
    graph = model.graph
    _drop_zero_weight_zero_points(graph)
    _share_equal_initializers(graph)
    if not _has_subgraphs(graph):  # subgraphs read outer names; leave such graphs' names alone
        _shorten_names(graph)
    _drop_unused_initializers(graph)
    del graph.value_info[:]
    graph.doc_string = model.doc_string = ""
    for node in graph.node:
        node.name = node.doc_string = ""
    del model.metadata_props[:]
    used = {node.domain for node in graph.node}
    kept = [opset for opset in model.opset_import if opset.domain in used or opset.domain in ("", "ai.onnx")]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    return model.SerializeToString()


def _drop_zero_weight_zero_points(graph: onnx.GraphProto) -> None:
    """Symmetric int8 weights have zero points of 0, which DequantizeLinear assumes when none is given.
    Only weights: a QuantizeLinear's zero point sets its output type, and ONNX Runtime pairs an
    activation's QuantizeLinear and DequantizeLinear by their shared scale and zero point."""
    from onnx import numpy_helper

    initializers = {t.name: t for t in graph.initializer}
    for node in graph.node:
        if node.op_type != "DequantizeLinear" or len(node.input) != 3 or node.input[0] not in initializers:
            continue
        zero_point = initializers.get(node.input[2])
        if zero_point is not None and not numpy_helper.to_array(zero_point).any():
            del node.input[2]


def _share_equal_initializers(graph: onnx.GraphProto) -> None:
    """Initializers with the same type, shape and values stored once (the quantizer writes a scalar
    zero point per activation, nearly all of them 0)."""
    from onnx import numpy_helper

    first: dict[tuple[int, tuple[int, ...], bytes], str] = {}
    same_as: dict[str, str] = {}
    overridable = {t.name for t in graph.input}  # an initializer listed as an input is a default a caller may replace
    for tensor in graph.initializer:
        if tensor.name in overridable:
            continue
        key = (tensor.data_type, tuple(tensor.dims), numpy_helper.to_array(tensor).tobytes())
        if key in first:
            same_as[tensor.name] = first[key]
        else:
            first[key] = tensor.name
    if same_as:
        for node in graph.node:
            for index, name in enumerate(node.input):
                node.input[index] = same_as.get(name, name)


def _has_subgraphs(graph: onnx.GraphProto) -> bool:
    import onnx

    return any(a.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for node in graph.node for a in node.attribute)


def _shorten_names(graph: onnx.GraphProto) -> None:
    """Every tensor but the model's inputs and outputs renamed to a short base-36 counter."""
    kept = {t.name for t in graph.input} | {t.name for t in graph.output}
    short: dict[str, str] = {}

    def shortened(name: str) -> str:
        if not name or name in kept:
            return name
        if name not in short:
            suffix = next((s for s in _MARKED_SUFFIXES if name.endswith(s)), "")
            short[name] = np.base_repr(len(short), 36).lower() + suffix
        return short[name]

    for node in graph.node:
        for index, name in enumerate(node.input):
            node.input[index] = shortened(name)
        for index, name in enumerate(node.output):
            node.output[index] = shortened(name)
    for tensor in graph.initializer:
        tensor.name = shortened(tensor.name)


def _drop_unused_initializers(graph: onnx.GraphProto) -> None:
    """Remove the initializers no node reads any more (the float weights that were replaced),
    counting the nodes of subgraphs (If, Loop), which may read the outer graph's initializers."""
    used = _names_read(graph) | {o.name for o in graph.output}
    kept = [t for t in graph.initializer if t.name in used]
    if len(kept) != len(graph.initializer):
        del graph.initializer[:]
        graph.initializer.extend(kept)


def _names_read(graph: onnx.GraphProto) -> set[str]:
    import onnx

    names = set()
    for node in graph.node:
        names.update(node.input)
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                names |= _names_read(attribute.g)
            elif attribute.type == onnx.AttributeProto.GRAPHS:
                for subgraph in attribute.graphs:
                    names |= _names_read(subgraph)
    return names


def _session(onnx_bytes: bytes) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


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
