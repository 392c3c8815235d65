"""The "efficiency" test: size, parameters, latency at batch 1 and 32, throughput."""

from __future__ import annotations

import onnx
import pytest
from evaluation.subjects import (
    ProgressLog,
    digits_model,
    digits_subject,
    split,
    tabular_subject,
)

from aicommons.core.errors import Invalid
from aicommons.evaluation.builtin import efficiency, fairness
from aicommons.evaluation.catalogue import evaluation_tests

pytestmark = pytest.mark.no_database


def test_registered_with_its_budget():
    assert evaluation_tests.get("efficiency") is efficiency.SPEC
    assert efficiency.SPEC.params == {"budget_s": 0.5, "batch_sizes": [1, 32]}


@pytest.mark.parametrize("kind", ["image", "tabular"])
def test_size_parameters_latency_and_throughput(kind):
    progress = ProgressLog()
    subject = digits_subject(kind, progress=progress)
    model, _ = digits_model()

    outcome = efficiency.run(subject, {"budget_s": 0.05})
    metrics = outcome.metrics

    assert metrics["size_bytes"] == len(subject.onnx_bytes)
    # The coefficients and intercepts skl2onnx keeps in its LinearClassifier, plus, for the image
    # model, the two numbers of the Reshape in front of it.
    assert metrics["parameters"] == model.coef_.size + model.intercept_.size + (2 if kind == "image" else 0)
    assert set(metrics["latency_ms"]) == {"1", "32"}
    for timing in metrics["latency_ms"].values():
        assert 0 < timing["p50"] <= timing["p95"]
        assert timing["runs"] >= efficiency.MIN_RUNS
    assert metrics["throughput_per_s"] > 0
    # A batch of 32 costs less per record than 32 single calls.
    assert metrics["latency_ms"]["32"]["p50"] < 32 * metrics["latency_ms"]["1"]["p50"]
    assert [c.name for c in outcome.charts] == ["latency"] and outcome.charts[0].png.startswith(b"\x89PNG")
    progress.check()


def test_a_zero_budget_still_times_five_calls_and_fewer_records_than_a_batch_repeat():
    subject = digits_subject("image", limit=3)
    metrics = efficiency.run(subject, {"budget_s": 0}).metrics
    assert metrics["latency_ms"]["1"]["runs"] == metrics["latency_ms"]["32"]["runs"] == efficiency.MIN_RUNS


def test_a_graph_with_a_fixed_batch_is_timed_at_that_batch_only():
    model = onnx.load_model_from_string(fairness.threshold_scores_model("score", threshold=5, maximum=10))
    for value in (model.graph.input[0], model.graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_value = 1
    fixed = model.SerializeToString()
    subject = tabular_subject(fixed, ["score"], ["low", "high"], split([[float(s)] for s in range(1, 11)], [0] * 4 + [1] * 6))

    outcome = efficiency.run(subject, {"budget_s": 0})

    assert outcome.metrics["latency_ms"]["32"] is None and outcome.metrics["latency_ms"]["1"]["runs"] == 5
    assert outcome.metrics["parameters"] == 5  # the graph's five scalar initializers
    assert any("batches of 1 only" in note for note in outcome.notes)


def test_bad_parameters_are_refused():
    subject = digits_subject("image", limit=3)
    with pytest.raises(Invalid, match="'budget_s' parameter of efficiency"):
        efficiency.run(subject, {"budget_s": "soon"})
    with pytest.raises(Invalid, match="'batch_sizes' parameter of efficiency"):
        efficiency.run(subject, {"batch_sizes": [0]})
