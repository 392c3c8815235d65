"""What a compression did: the parent and its compressed child measured side by side.

Every compression (int8 quantization, pruning, distillation) stores this comparison with the child
version, so that a reviewer sees what was traded: file size, latency at batch 1 and 32, accuracy on
the test split, and how closely the child follows its parent (cosine similarity of their main float
outputs, share of rows given the same label).

Latency is measured fairly and cheaply: both models in sessions with the same thread settings
(one intra-op thread by default, so figures do not depend on what else the machine is doing), a
warm-up run first, then parent and child runs interleaved on the same input slices, cycling through
the test inputs, until a small time budget or the repeat count is spent.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from aicommons.core.errors import Invalid

# Rows per run when computing outputs over the whole input set: bounds memory for big encoders.
_CHUNK_ROWS = 256
# Distinct input slices timed per batch size: enough variety, bounded memory.
_TIMED_BATCHES = 64


def compare(
    parent_onnx: bytes,
    child_onnx: bytes,
    inputs: dict[str, np.ndarray],
    labels: np.ndarray | None = None,
    *,
    batch_sizes: Sequence[int] = (1, 32),
    repeats: int | None = None,
    budget_s: float = 0.25,
    threads: int = 1,
) -> dict[str, Any]:
    """Size, latency (p50/p95 ms per batch size), accuracy and agreement of `child_onnx` against
    `parent_onnx` on the same `inputs` (ONNX inputs by name, one row per test record).

    `repeats` fixes the timed runs per model and batch size; by default runs continue until
    `budget_s` seconds (at least 5 runs, at most 200), which keeps a small model's comparison
    near a second.
    """
    rows = _row_count(inputs)
    parent, child = _session(parent_onnx, threads), _session(child_onnx, threads)
    parent_outputs, child_outputs = _outputs(parent, inputs, rows), _outputs(child, inputs, rows)
    report: dict[str, Any] = {"samples": rows, "threads": threads}
    latencies = _latencies(parent, child, inputs, rows, batch_sizes, repeats, budget_s)
    for side, data, outputs in (("parent", parent_onnx, parent_outputs), ("child", child_onnx, child_outputs)):
        report[side] = {"size_bytes": len(data), "latency_ms": latencies[side]}
        if labels is not None:
            report[side]["accuracy"] = _accuracy(outputs, labels)
    report["child"].update(_agreement(parent_outputs, child_outputs))
    report["deltas"] = _deltas(report, batch_sizes)
    return report


def _row_count(inputs: dict[str, np.ndarray]) -> int:
    if not inputs:
        raise Invalid("A comparison needs the models' inputs; none were given.")
    counts = {name: (np.shape(array) or (0,))[0] for name, array in inputs.items()}
    if len(set(counts.values())) != 1 or not next(iter(counts.values())):
        raise Invalid(f"The comparison inputs must have the same, non-zero number of rows; got {counts}.")
    return next(iter(counts.values()))


def _session(onnx_bytes: bytes, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(onnx_bytes, options, providers=["CPUExecutionProvider"])


def _fixed_batch(session: Any) -> int | None:
    """The batch size a graph was exported with, when it is fixed (then it takes nothing else)."""
    first = {i.shape[0] for i in session.get_inputs() if i.shape and isinstance(i.shape[0], int)}
    return first.pop() if len(first) == 1 else None


def _outputs(session: Any, inputs: dict[str, np.ndarray], rows: int) -> dict[str, np.ndarray]:
    """Every output over all rows, computed in chunks (wrapping around for a fixed-batch graph)."""
    fixed = _fixed_batch(session)
    step = fixed or _CHUNK_ROWS
    names = [o.name for o in session.get_outputs()]
    chunks: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for start in range(0, rows, step):
        index = np.arange(start, start + step) % rows if fixed else slice(start, start + step)
        for name, value in zip(names, session.run(names, _batch(inputs, index)), strict=True):
            chunks[name].append(np.asarray(value))
    joined = {name: _concatenated(parts) for name, parts in chunks.items()}
    return {name: value[:rows] if value.ndim else value for name, value in joined.items()}


def _batch(inputs: dict[str, np.ndarray], index: Any) -> dict[str, np.ndarray]:
    """The rows at `index`; for BERT-style inputs also without the padding columns no row of the
    batch uses, as a server padding to the batch's longest sentence would send them."""
    batch = {name: array[index] for name, array in inputs.items()}
    mask = batch.get("attention_mask")
    if mask is None or mask.ndim != 2 or not mask.size:
        return batch
    used = np.flatnonzero(mask.any(axis=0))
    length = int(used[-1]) + 1 if used.size else 1
    return {name: a[:, :length] if a.ndim == 2 and a.shape[1] == mask.shape[1] else a for name, a in batch.items()}


def _concatenated(parts: list[np.ndarray]) -> np.ndarray:
    """Chunks joined along rows; per-token outputs of chunks trimmed to different lengths are
    zero-padded to the longest, which leaves cosine similarities unchanged."""
    if parts[0].ndim == 0:
        return parts[0]
    if parts[0].ndim >= 3:
        longest = max(p.shape[1] for p in parts)
        parts = [np.pad(p, [(0, 0), (0, longest - p.shape[1])] + [(0, 0)] * (p.ndim - 2)) for p in parts]
    return np.concatenate(parts)


# --- latency ----------------------------------------------------------------------------------


def _latencies(
    parent: Any, child: Any, inputs: dict[str, np.ndarray], rows: int, batch_sizes: Sequence[int],
    repeats: int | None, budget_s: float,
) -> dict[str, dict[str, dict[str, float] | None]]:
    """Per side and batch size, p50/p95 milliseconds; None where a graph's fixed batch size excludes it."""
    result: dict[str, dict[str, dict[str, float] | None]] = {"parent": {}, "child": {}}
    for size in batch_sizes:
        fixed = {_fixed_batch(parent), _fixed_batch(child)} - {None}
        if fixed and fixed != {size}:
            result["parent"][str(size)] = result["child"][str(size)] = None
            continue
        # Slices cycle through the test inputs so that both models see the same varied batches.
        starts = range(0, max(rows, size), size)[:_TIMED_BATCHES]
        batches = [_batch(inputs, np.arange(start, start + size) % rows) for start in starts]
        timings = _interleaved(parent, child, batches, repeats, budget_s)
        for side, values in timings.items():
            result[side][str(size)] = {
                "p50": round(float(np.percentile(values, 50)), 4),
                "p95": round(float(np.percentile(values, 95)), 4),
                "runs": len(values),
            }
    return result


def _interleaved(parent: Any, child: Any, batches: list[dict[str, np.ndarray]], repeats: int | None, budget_s: float) -> dict[str, list[float]]:
    """Runs parent and child alternately so that a slow spell of the machine hits both alike."""
    sessions = {"parent": parent, "child": child}
    for session in sessions.values():
        session.run(None, batches[0])  # warm-up: first runs allocate buffers and pick kernels
    timings: dict[str, list[float]] = {"parent": [], "child": []}
    limit = repeats if repeats is not None else 200
    least = repeats if repeats is not None else 5
    started = time.perf_counter()
    for run in range(limit):
        if run >= least and time.perf_counter() - started > budget_s:
            break
        batch = batches[run % len(batches)]
        for side, session in sessions.items():
            tick = time.perf_counter()
            session.run(None, batch)
            timings[side].append((time.perf_counter() - tick) * 1000)
    return timings


# --- quality ----------------------------------------------------------------------------------


def main_output(outputs: dict[str, np.ndarray]) -> str | None:
    """The output that says what a model answers: "embedding", class "probabilities" (or
    scikit-learn's "output_probability"), else the first float output."""
    for name in ("embedding", "probabilities", "output_probability"):
        if name in outputs and np.asarray(outputs[name]).dtype.kind == "f":
            return name
    return next((name for name, value in outputs.items() if np.asarray(value).dtype.kind == "f"), None)


def predicted_labels(outputs: dict[str, np.ndarray]) -> np.ndarray | None:
    """Class indices: the argmax of the probabilities, or an integer "label" output."""
    for name in ("probabilities", "output_probability"):
        if name in outputs and np.asarray(outputs[name]).ndim == 2:
            return np.argmax(outputs[name], axis=1)
    for name in ("label", "output_label"):
        if name in outputs and np.asarray(outputs[name]).dtype.kind in "iu":
            return np.asarray(outputs[name]).reshape(-1)
    return None


def _accuracy(outputs: dict[str, np.ndarray], labels: np.ndarray) -> float | None:
    predicted = predicted_labels(outputs)
    if predicted is None:
        return None
    if len(predicted) != len(labels):
        raise Invalid(f"The comparison got {len(labels)} labels for {len(predicted)} input rows.")
    return round(float(np.mean(predicted == np.asarray(labels))), 6)


def _agreement(parent: dict[str, np.ndarray], child: dict[str, np.ndarray]) -> dict[str, float | None]:
    """How closely the child follows the parent: mean cosine of their main float outputs (per row,
    flattened), and the share of rows given the same label (classifiers only)."""
    name = main_output(parent)
    cosine = None
    if name is not None and name in child:
        a = np.asarray(parent[name], dtype=np.float64).reshape(len(parent[name]), -1)
        b = np.asarray(child[name], dtype=np.float64).reshape(len(child[name]), -1)
        norm_a, norm_b = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
        cosines = np.sum(a * b, axis=1) / np.maximum(norm_a * norm_b, 1e-30)
        # Two all-zero rows (a ReLU output, say) say the same thing; one alone says something else.
        cosines[(norm_a == 0) & (norm_b == 0)] = 1.0
        cosine = round(float(np.mean(cosines)), 6)
    parent_labels, child_labels = predicted_labels(parent), predicted_labels(child)
    agreement = None
    if parent_labels is not None and child_labels is not None:
        agreement = round(float(np.mean(parent_labels == child_labels)), 6)
    return {"cosine_to_parent": cosine, "label_agreement": agreement}


def _deltas(report: dict[str, Any], batch_sizes: Sequence[int]) -> dict[str, float | None]:
    parent, child = report["parent"], report["child"]
    deltas: dict[str, float | None] = {"size_ratio": round(parent["size_bytes"] / child["size_bytes"], 4)}
    for size in batch_sizes:
        p, c = parent["latency_ms"].get(str(size)), child["latency_ms"].get(str(size))
        deltas[f"speedup_b{size}"] = round(p["p50"] / c["p50"], 4) if p and c and c["p50"] > 0 else None
    if parent.get("accuracy") is not None and child.get("accuracy") is not None:
        deltas["accuracy_points"] = round((child["accuracy"] - parent["accuracy"]) * 100, 4)
    else:
        deltas["accuracy_points"] = None
    return deltas
