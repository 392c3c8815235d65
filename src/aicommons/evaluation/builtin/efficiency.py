"""The "efficiency" test: how big the model is and how fast it answers.

- `size_bytes`: the ONNX file; `parameters`: the numbers it learned (see `parameter_count`);
- `latency_ms`: per batch size (`batch_sizes`, default 1 and 32), p50 and p95 milliseconds of one
  ONNX Runtime call on test records already turned into model inputs (preprocessing is not
  timed), one intra-op thread so figures do not depend on what else the machine runs. Batches
  cycle through the test records (repeating them when there are fewer than a batch); one warm-up
  call first, then calls until `budget_s` seconds (default 0.5) per batch size are spent, at least
  5 and at most 500;
- `throughput_per_s`: records per second at the largest batch size: records timed over the
  seconds spent on them.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from aicommons.core.errors import Invalid
from aicommons.evaluation.builtin import charts
from aicommons.evaluation.catalogue import TestSpec, register_test
from aicommons.evaluation.outcomes import Chart, TestOutcome
from aicommons.evaluation.subject import Subject

MIN_RUNS = 5
MAX_RUNS = 500
# Distinct batches prepared per batch size: variety without holding the whole test set as inputs.
DISTINCT_BATCHES = 8


def parameter_count(onnx_bytes: bytes) -> int:
    """The numbers a model learned: elements of its initializers, of Constant nodes' tensors, and of
    the float-list attributes of ONNX-ML operators (where skl2onnx keeps a linear model's
    coefficients and intercepts or a tree ensemble's thresholds and leaf weights), subgraphs
    included. Integer attributes (node ids, shapes) are structure, not parameters."""
    import onnx

    model = onnx.load_model_from_string(onnx_bytes)

    def elements(tensor: Any) -> int:
        return int(np.prod(tensor.dims, dtype=np.int64))

    def graph_count(graph: Any) -> int:
        total = sum(elements(t) for t in graph.initializer) + sum(elements(t.values) for t in graph.sparse_initializer)
        for node in graph.node:
            for attribute in node.attribute:
                if attribute.type == onnx.AttributeProto.TENSOR:
                    total += elements(attribute.t)
                elif attribute.type == onnx.AttributeProto.FLOATS and node.domain == "ai.onnx.ml":
                    total += len(attribute.floats)
                elif attribute.type == onnx.AttributeProto.GRAPH:
                    total += graph_count(attribute.g)
                elif attribute.type == onnx.AttributeProto.GRAPHS:
                    total += sum(graph_count(g) for g in attribute.graphs)
        return total

    return graph_count(model.graph)


def fixed_batch_size(subject: Subject) -> int | None:
    """The batch size the graph insists on, when its first input's first dimension is a number."""
    inputs = subject.onnx_session().get_inputs()
    first = inputs[0].shape[0] if inputs and inputs[0].shape else None
    return first if isinstance(first, int) else None


def timed_runs(subject: Subject, batches: list[dict[str, np.ndarray]], budget_s: float) -> list[float]:
    """Milliseconds per call, cycling through `batches`, after one warm-up call."""
    subject.run(batches[0])  # the first call allocates buffers and picks kernels
    timings: list[float] = []
    started = time.perf_counter()
    while len(timings) < MAX_RUNS and (len(timings) < MIN_RUNS or time.perf_counter() - started < budget_s):
        batch = batches[len(timings) % len(batches)]
        tick = time.perf_counter()
        subject.run(batch)
        timings.append((time.perf_counter() - tick) * 1000)
    return timings


def _batches(subject: Subject, size: int) -> list[dict[str, np.ndarray]]:
    raw = subject.evaluation.raw
    starts = range(0, max(len(raw), size), size)[:DISTINCT_BATCHES]
    return [subject.model_inputs([raw[i % len(raw)] for i in range(start, start + size)]) for start in starts]


def _batch_sizes(params: dict[str, Any]) -> list[int]:
    given = params.get("batch_sizes", [1, 32])
    if not isinstance(given, (list, tuple)) or not given or not all(isinstance(b, int) and not isinstance(b, bool) and 1 <= b <= 1024 for b in given):
        raise Invalid(f"The 'batch_sizes' parameter of efficiency must be a list of whole numbers from 1 to 1024; got {given!r} instead.")
    return sorted(set(given))


def run(subject: Subject, params: dict[str, Any]) -> TestOutcome:
    try:
        budget_s = float(params.get("budget_s", 0.5))
    except (TypeError, ValueError):
        budget_s = -1.0
    if not 0 <= budget_s <= 60:
        raise Invalid(f"The 'budget_s' parameter of efficiency must be a number of seconds from 0 to 60; got {params.get('budget_s')!r} instead.")
    sizes = _batch_sizes(params)
    if not len(subject.evaluation):
        raise Invalid("Efficiency needs at least one test record to time the model on.")
    subject.progress(0.0, "measuring size")
    metrics: dict[str, Any] = {"size_bytes": len(subject.onnx_bytes), "parameters": parameter_count(subject.onnx_bytes)}
    notes = ["Latency is one ONNX Runtime call with one intra-op thread, preprocessing excluded."]
    fixed = fixed_batch_size(subject)
    latency: dict[str, dict[str, float] | None] = {}
    throughput = None
    for step, size in enumerate(sizes):
        subject.progress(0.1 + 0.85 * step / len(sizes), f"timing batch size {size}")
        if fixed is not None and fixed != size:
            latency[str(size)] = None
            notes.append(f"The graph takes batches of {fixed} only, so batch size {size} was not timed.")
            continue
        timings = timed_runs(subject, _batches(subject, size), budget_s)
        latency[str(size)] = {
            "p50": round(float(np.percentile(timings, 50)), 4),
            "p95": round(float(np.percentile(timings, 95)), 4),
            "runs": len(timings),
        }
        throughput = size * len(timings) / (sum(timings) / 1000)
    metrics["latency_ms"] = latency
    metrics["throughput_per_s"] = None if throughput is None else round(throughput, 2)
    metrics["threads"] = 1
    timed = [s for s in sizes if latency[str(s)] is not None]
    drawn = []
    if timed:
        drawn.append(Chart("latency", "Latency per batch size", charts.bar_chart(
            [f"batch {s}" for s in timed],
            {"p50": [latency[str(s)]["p50"] for s in timed], "p95": [latency[str(s)]["p95"] for s in timed]},  # type: ignore[index]
            title="Latency per call", ylabel="milliseconds",
        )))
    subject.progress(1.0, "done")
    return TestOutcome(metrics=metrics, charts=drawn, notes=notes)


SPEC = register_test(
    TestSpec(
        name="efficiency",
        title="Efficiency",
        title_zh="运行效率",
        category="efficiency",
        run=run,
        description="Model size and parameters, ONNX Runtime latency p50/p95 at batch 1 and 32, and throughput.",
        params={"budget_s": 0.5, "batch_sizes": [1, 32]},
    )
)
