"""Evaluation reports (src/aicommons/evaluation/reports.py): HTML and PDF from a hand-built input."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import warnings
from datetime import datetime, timezone

import pytest

from aicommons.evaluation.reports import (
    ReportInput,
    detail_tables,
    render_html,
    render_pdf,
    report_digest,
)
from aicommons.evaluation import schemas
from aicommons.evaluation.schemas import EvaluationRead
from aicommons.models.schemas import ModelRead, ModelVersionRead

pytestmark = pytest.mark.no_database

MODEL_SHA = "ab" * 32


def _chart_png() -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(3, 2), dpi=50)
    ax = fig.add_subplot()
    ax.imshow([[50, 2], [3, 45]], cmap="Blues")
    ax.set_title("Confusion matrix")
    out = io.BytesIO()
    fig.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


CHART = _chart_png()
CHART_SHA = hashlib.sha256(CHART).hexdigest()

GRADE = {
    "level": "高",
    "level_en": "high",
    "reasons": [{
        "test": "robustness", "metric": "worst_relative_drop", "value": 0.41, "rule": "worst_relative_drop > 0.3",
        "level": "高", "message": "Accuracy falls by 41% under perturbation.", "message_zh": "扰动下准确率下降 41%。",
    }],
    "policy": "default", "policy_version": "1", "policy_sha256": "cd" * 32,
}


def _input(*, public: bool = False, grade: dict | None = GRADE, filing: dict | None = None) -> ReportInput:
    created = datetime(2025, 3, 1, 8, 30, tzinfo=timezone.utc)
    results = [
        schemas.TestResultRead(
            name="accuracy", title="Accuracy", title_zh="准确性", category="accuracy", status="passed",
            metrics={
                "accuracy": 0.953, "macro_f1": 0.951, "samples": 360,
                "per_class": {"cat": {"precision": 0.94, "recall": 0.96, "f1": 0.95, "support": 180},
                              "dog": {"precision": 0.96, "recall": 0.94, "f1": 0.95, "support": 180}},
                "confusion_matrix": [[173, 7], [10, 170]],
            },
            checks=[{"metric": "accuracy", "op": ">=", "threshold": 0.9, "value": 0.953, "passed": True}],
            charts={"confusion-matrix": CHART_SHA},
            notes=["Tested on <script>alert('note')</script> records."],
        ),
        schemas.TestResultRead(
            name="robustness", title="Robustness", title_zh="鲁棒性", category="robustness", status="failed",
            metrics={
                "clean_accuracy": 0.953, "worst_relative_drop": 0.41, "mean_relative_drop": 0.2,
                "perturbations": {"gaussian-noise": {"accuracy": {"1": 0.9, "2": 0.7, "3": 0.56},
                                                     "relative_drop": {"1": 0.05, "2": 0.26, "3": 0.41}}},
            },
            checks=[{"metric": "worst_relative_drop", "op": "<=", "threshold": 0.3, "value": 0.41, "passed": False}],
        ),
        schemas.TestResultRead(
            name="fairness", title="Fairness", title_zh="公平性", category="fairness", status="skipped",
            notes=["Skipped: no sensitive_attribute parameter."],
        ),
    ]
    evaluation = EvaluationRead(
        id="evl_1", org_id="org_a", model_id="mdl_1", version_id="mv_1", version_number=2, dataset_version_id="dsv_1",
        suite="default", status="succeeded", job_id="job_1", seed=7, results=results,
        reproducibility={"model_sha256": MODEL_SHA, "data_digest": "ef" * 32, "seed": 7,
                         "libraries": {"numpy": "2.1.0", "onnxruntime": "1.20.0"}, "cache_hits": 12},
        created_at=created, finished_at=created,
    )
    model = ModelRead(
        id="mdl_1", org_id="org_a", name="pets", task="image-classification", visibility="private", licence="MIT",
        description="Classifies pets. <script>alert('x')</script>", name_zh="宠物", description_zh="", tags=[],
        created_at=created, latest_version=2,
    )
    version = ModelVersionRead(
        id="mv_1", model_id="mdl_1", number=2, onnx_sha256=MODEL_SHA, onnx_size=1234, source_format="onnx",
        source_sha256=None, framework="onnx", signature={}, preprocessing={}, metrics={}, details={},
        dataset_version_ids=["dsv_1"], parent_version_id=None, operation="upload", parameters={}, job_id=None,
        created_at=created,
    )
    return ReportInput(evaluation, model, version, {CHART_SHA: CHART}, grade, filing, public)


def test_html_opens_with_the_summary_and_shows_the_risk_level_and_its_reasons():
    html = render_html(_input(filing={"filing_number": "ZJAI-2025-000042", "status": "approved"}))
    assert html.startswith("<!DOCTYPE html>")
    summary = html.index('id="summary"')
    assert summary < html.index('id="test-accuracy"') < html.index('id="test-robustness"') < html.index('id="reproducibility"')
    head = html[summary:html.index('id="test-accuracy"')]
    for fact in ("Summary 摘要", "pets", "v2", MODEL_SHA, "dsv_1", "default", "2025-03-01 08:30 UTC", "ZJAI-2025-000042"):
        assert fact in head, fact
    assert "高 (high)" in head
    assert "worst_relative_drop" in head and "扰动下准确率下降 41%" in head and "0.41" in head
    assert re.search(r"1 passed 通过</span>\s*·\s*<span class=\"fail\">1 failed", head)
    assert "page-break-after: always" in html


def test_html_escapes_user_text_and_inlines_charts():
    html = render_html(_input())
    assert "<script>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html  # the model's description
    assert "&lt;script&gt;alert(&#39;note&#39;)" in html  # a test's note
    uri = "data:image/png;base64," + base64.b64encode(CHART).decode()
    assert uri in html
    assert "http://" not in html and "https://" not in html  # self-contained: nothing to fetch


def test_html_shows_nested_metrics_as_tables():
    html = render_html(_input())
    section = html[html.index('id="test-accuracy"'):html.index('id="test-robustness"')]
    assert "<code>per_class</code>" in section and "<th>cat</th>" in section and "<th>recall</th>" in section
    assert "<code>confusion_matrix</code>" in section and "<td class=\"num\">173</td>" in section
    robustness = html[html.index('id="test-robustness"'):html.index('id="test-fairness"')]
    assert "<th>gaussian-noise</th>" in robustness and "<th>relative_drop 3</th>" in robustness
    assert "numpy" in html and "cache_hits" in html


def test_detail_tables_flatten_dicts_of_dicts():
    result = _input().evaluation.results[0]
    per_class, matrix = detail_tables(result)
    assert per_class.columns == ["", "precision", "recall", "f1", "support"]
    assert per_class.rows[0] == ["cat", "0.94", "0.96", "0.95", "180"]
    assert matrix.columns == ["", "cat", "dog"] and matrix.rows[1] == ["dog", "10", "170"]


def test_public_html_leaves_out_details_charts_and_internals():
    html = render_html(_input(public=True))
    assert "per_class" not in html and "<th>cat</th>" not in html and "confusion_matrix" not in html
    assert "gaussian-noise" not in html
    assert "data:image/png" not in html
    assert "numpy" not in html and "cache_hits" not in html and "Classifies pets" not in html
    assert "alert(&#39;note&#39;)" not in html  # ordinary notes are private
    assert "Skipped: no sensitive_attribute parameter." in html  # why a test was skipped is public
    # What stays: the summary, statuses, checks, headline metrics and digests.
    assert "高 (high)" in html and MODEL_SHA in html and "ef" * 32 in html
    assert "0.953" in html and "worst_relative_drop" in html


def test_html_without_grade_or_filing():
    html = render_html(_input(grade=None))
    assert "Risk level" not in html and "Filing number" not in html


def test_pdf_has_a_summary_page_then_tests_and_charts_and_is_deterministic():
    report = _input()
    pdf = render_pdf(report)
    assert pdf.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b", pdf))
    assert pages == 1 + 3 + 1  # summary, one page per test, one chart
    assert b"evl_1" in pdf and MODEL_SHA.encode() in pdf  # Subject and Keywords
    assert render_pdf(report) == pdf
    assert report_digest(pdf) == hashlib.sha256(pdf).hexdigest()


def test_public_pdf_has_no_chart_pages():
    pdf = render_pdf(_input(public=True))
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1 + 3


def test_report_digest_detects_a_change():
    html = render_html(_input()).encode()
    assert report_digest(html) == report_digest(render_html(_input()).encode())
    assert report_digest(html) != report_digest(html.replace(b"0.953", b"0.999"))


def test_pdf_draws_only_ascii_keeps_the_summary_to_one_page_and_flows_long_tables():
    report = _input()
    accuracy = report.evaluation.results[0]
    accuracy.notes.append("准确率 costs $5 and $x^2$ is not maths.")  # CJK has no glyph; '$' must not start mathtext
    skipped = report.evaluation.results[2]
    report.evaluation.results.extend(skipped.model_copy(update={"name": f"test-{i}"}) for i in range(60))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a missing glyph or a mathtext error would warn or raise
        pdf = render_pdf(report)
    assert len(re.findall(rb"/Type\s*/Page\b", pdf)) == 1 + 63 + 1  # 63 tests did not push the summary past a page

    accuracy.metrics["per_class"] = {f"class-{i}": {"precision": 0.9, "recall": 0.9} for i in range(100)}
    del report.evaluation.results[3:]
    pages = len(re.findall(rb"/Type\s*/Page\b", render_pdf(report)))
    assert pages > 1 + 3 + 1  # the accuracy test's per-class table went on to a second page
