"""Evaluation reports: a self-contained HTML page and a PDF, each opening with a one-page summary.

Both are rendered from one `ReportInput` (the evaluation, its model and version, the chart PNGs,
and optionally the risk grade and the filing), so a report depends on nothing but stored data:
rendering the same input twice gives the same bytes, and `report_digest` lets a filing record
what it was shown and later detect a tampered copy.

What a public report (`public=True`, the registry's copy) shows, and what it leaves out:

- shown: the summary page (model name and version, model sha256, dataset version, suite, date,
  pass/fail counts, risk level with its reasons, filing number), and for each test its status,
  threshold checks and headline metrics (the top-level numbers: accuracy, worst relative drop,
  demographic-parity difference, membership-inference AUC, latency…), plus the note saying why
  a test was skipped or failed to run;
- left out: per-class, per-group, per-perturbation and per-batch tables, confusion matrices,
  charts, the tests' other notes, the model's description, the test parameters, and the
  reproducibility record except its digests (library versions, seeds and cache statistics are
  internals).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import math
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from aicommons import models
from aicommons.core.errors import NotFound
from aicommons.core.permissions import Actor
from aicommons.evaluation.runs import get_evaluation
from aicommons.evaluation.schemas import EvaluationRead, TestResultRead
from aicommons.models.schemas import ModelRead, ModelVersionRead

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from aicommons.core.blobs import BlobStore

LEVELS_EN = {"低": "low", "中": "medium", "高": "high"}
STATUS_ZH = {"passed": "通过", "failed": "未通过", "skipped": "跳过", "error": "出错"}
HEADLINE_LIMIT = 5  # metrics per test in the summary table: the summary must stay one page
DESCRIPTION_LIMIT = 600  # characters of the model's description on the summary page


@dataclass
class ReportInput:
    """Everything a report shows; `charts` maps a chart's blob sha256 to its PNG bytes."""

    evaluation: EvaluationRead
    model: ModelRead
    version: ModelVersionRead
    charts: dict[str, bytes] = field(default_factory=dict)
    grade: dict[str, Any] | None = None  # filing's Grade.as_dict()
    filing: dict[str, Any] | None = None
    public: bool = False


def report_digest(data: bytes) -> str:
    """The sha256 (hex) of a rendered report, which a filing records to detect tampering."""
    return hashlib.sha256(data).hexdigest()


# --- gathering --------------------------------------------------------------------------------


def build_report_input(
    session: Session,
    blobs: BlobStore,
    actor: Actor,
    evaluation_id: str,
    *,
    grade: dict[str, Any] | None = None,
    filing: dict[str, Any] | None = None,
    public: bool = False,
) -> ReportInput:
    """Read the evaluation (as `actor`), its model, version and chart PNGs into a ReportInput."""
    evaluation = get_evaluation(session, actor, evaluation_id)
    model, version = _model_and_version(session, actor, evaluation)
    charts: dict[str, bytes] = {}
    if not public:  # a public report shows no charts
        for result in evaluation.results:
            for sha256 in result.charts.values():
                try:
                    charts[sha256] = blobs.read_bytes(sha256)
                except NotFound:
                    pass  # the report says "chart unavailable" rather than refusing to render
    return ReportInput(evaluation, model, version, charts, grade, filing, public)


def _model_and_version(session: Session, actor: Actor, evaluation: EvaluationRead) -> tuple[ModelRead, ModelVersionRead]:
    # Whoever may read the run may read the model it reports on: its org ran it, and platform
    # reviewers may read every model (core.permissions).
    return models.get_model(session, actor, evaluation.model_id), models.get_version(session, actor, evaluation.version_id)


# --- what both formats show -------------------------------------------------------------------


@dataclass
class Table:
    """A titled table of display strings, from a metric subtree or a checks list."""

    title: str
    columns: list[str]
    rows: list[list[str]]


def format_value(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == int(value) and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(format_value(v) for v in value)
    return str(value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """`{"accuracy": {"1": 0.9}}` → `{"accuracy 1": 0.9}`: nested keys joined for column names."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix} {key}" if prefix else str(key)
        if isinstance(value, dict):
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def headline_metrics(result: TestResultRead) -> dict[str, Any]:
    """The test's top-level numbers and labels: what the summary and a public report show."""
    return {k: v for k, v in result.metrics.items() if _is_scalar(v) or _is_scalar_list(v)}


def _is_scalar_list(value: Any) -> bool:
    return isinstance(value, list) and len(value) <= 10 and all(_is_scalar(v) for v in value)


def headline_text(result: TestResultRead, limit: int = HEADLINE_LIMIT, separator: str = " · ") -> str:
    metrics = [(k, v) for k, v in headline_metrics(result).items() if not isinstance(v, list)]
    return separator.join(f"{k} {format_value(v)}" for k, v in metrics[:limit])


def checks_table(result: TestResultRead) -> Table:
    rows = [
        [str(c.get("metric", "")), str(c.get("op", "")), format_value(c.get("threshold")), format_value(c.get("value")),
         "pass" if c.get("passed") else "fail"]
        for c in result.checks
    ]
    return Table("Checks", ["metric", "op", "threshold", "value", "pass"], rows)


def detail_tables(result: TestResultRead) -> list[Table]:
    """The test's nested metrics as readable tables: a dict of dicts (per class, per group, per
    perturbation, per batch size) becomes rows × flattened columns; a matrix stays a grid."""
    tables: list[Table] = []
    metrics = result.metrics
    for key, value in metrics.items():
        if isinstance(value, dict) and value:
            tables.extend(_dict_tables(key, value))
        elif _is_matrix(value):
            labels = _matrix_labels(metrics, len(value))
            tables.append(Table(key, ["", *labels], [[label, *(format_value(v) for v in row)] for label, row in zip(labels, value)]))
    return tables


def _dict_tables(title: str, tree: dict[str, Any]) -> list[Table]:
    nested = {k: v for k, v in tree.items() if isinstance(v, dict)}
    scalars = {k: v for k, v in tree.items() if not isinstance(v, dict)}
    tables = []
    if nested:
        flattened = {row: _flatten(values) for row, values in nested.items()}
        columns = list(dict.fromkeys(column for values in flattened.values() for column in values))
        rows = [[str(row), *(format_value(values.get(c)) for c in columns)] for row, values in flattened.items()]
        tables.append(Table(title, ["", *columns], rows))
    if scalars:
        tables.append(Table(title if not nested else f"{title} (other)", ["", "value"], [[str(k), format_value(v)] for k, v in scalars.items()]))
    return tables


def _is_matrix(value: Any) -> bool:
    """A square list of rows of numbers: a confusion matrix."""
    return (
        isinstance(value, list) and len(value) > 0
        and all(isinstance(row, list) and len(row) == len(value) and all(_is_scalar(v) for v in row) for row in value)
    )


def _matrix_labels(metrics: dict[str, Any], size: int) -> list[str]:
    """Class names for a confusion matrix: per_class keys when they match its size (in order)."""
    per_class = metrics.get("per_class")
    if isinstance(per_class, dict) and len(per_class) == size:
        return [str(k) for k in per_class]
    return [str(i) for i in range(size)]


def reproducibility_rows(r: ReportInput) -> list[list[str]]:
    """All of the run's reproducibility record, or only its digests for a public report."""
    evaluation, version = r.evaluation, r.version
    record = {
        "model_sha256": version.onnx_sha256,
        "dataset_version_id": evaluation.dataset_version_id,
        "seed": evaluation.seed,
        **_flatten(evaluation.reproducibility),  # the run's own record wins where both say
    }
    if r.public:
        record = {k: v for k, v in record.items() if "sha256" in k or "digest" in k}
    return [[k, format_value(v)] for k, v in record.items()]


def level_en(grade: dict[str, Any]) -> str:
    return str(grade.get("level_en") or LEVELS_EN.get(str(grade.get("level")), grade.get("level", "")))


def filing_number(filing: dict[str, Any] | None) -> str | None:
    if not filing:
        return None
    number = filing.get("filing_number") or filing.get("number")
    return str(number) if number else None


def report_date(evaluation: EvaluationRead) -> datetime:
    moment = evaluation.finished_at or evaluation.created_at
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _date_text(evaluation: EvaluationRead) -> str:
    return report_date(evaluation).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _title_zh(result: TestResultRead) -> str:
    return result.title_zh if result.title_zh and result.title_zh != result.title else ""


def _chart_title(name: str) -> str:
    return name.replace("-", " ").replace("_", " ").capitalize()


# --- HTML -------------------------------------------------------------------------------------


@functools.cache
def _environment() -> Any:
    import jinja2

    # autoescape=True: the template's name ends in .j2, which select_autoescape would not match.
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("aicommons.evaluation", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )
    env.filters["value"] = format_value
    return env


def render_html(r: ReportInput) -> str:
    """A self-contained HTML5 page (charts inlined as data: URIs): the summary, one section per
    test, then reproducibility; printing puts the summary on a page of its own."""
    evaluation = r.evaluation
    tests = []
    for result in evaluation.results:
        charts = []
        if not r.public:
            for name, sha256 in result.charts.items():
                png = r.charts.get(sha256)
                uri = f"data:image/png;base64,{base64.b64encode(png).decode('ascii')}" if png else None
                charts.append({"name": name, "title": _chart_title(name), "sha256": sha256, "uri": uri})
        tests.append({
            "result": result,
            "anchor": f"test-{result.name}",
            "title_zh": _title_zh(result),
            "status_zh": STATUS_ZH.get(result.status, ""),
            "headline": headline_metrics(result),
            "headline_text": headline_text(result),
            "checks": checks_table(result),
            "details": [] if r.public else detail_tables(result),
            "notes": _visible_notes(r, result),
            "params": {} if r.public else result.params,
            "charts": charts,
        })
    return _environment().get_template("report.html.j2").render(
        evaluation=evaluation, model=r.model, version=r.version, public=r.public,
        date=_date_text(evaluation), summary=evaluation.summary, tests=tests,
        grade=_grade_view(r.grade), level_en=level_en(r.grade) if r.grade else "", reasons=reason_rows(r.grade),
        filing_number=filing_number(r.filing), filing_status=str((r.filing or {}).get("status") or ""),
        description=_shorten(r.model.description, DESCRIPTION_LIMIT) if not r.public else "",
        reproducibility=reproducibility_rows(r),
    )


def _grade_view(grade: dict[str, Any] | None) -> dict[str, str] | None:
    if not grade:
        return None
    return {"level": str(grade.get("level", "")), "policy": str(grade.get("policy") or ""), "policy_version": str(grade.get("policy_version") or "")}


def reason_rows(grade: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The grade's reasons with every field present, each traced to a test, metric and rule."""
    keys = ("test", "metric", "value", "rule", "level", "message", "message_zh")
    return [{k: reason.get(k) if k == "value" else str(reason.get(k) or "") for k in keys} for reason in (grade or {}).get("reasons") or []]


def _visible_notes(r: ReportInput, result: TestResultRead) -> list[str]:
    # A public report keeps only the note that explains a skipped or crashed test.
    if r.public and result.status not in ("skipped", "error"):
        return []
    return result.notes


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- PDF --------------------------------------------------------------------------------------

A4 = (8.27, 11.69)
TOP = 0.95
BOTTOM = 0.04
LEFT = 0.07
ROW_HEIGHT = 14 / 72 / A4[1]  # a table row or a line of facts: 14 pt, as a fraction of the page


def render_pdf(r: ReportInput) -> bytes:
    """A PDF (matplotlib's PdfPages): page 1 the summary, then per test its checks and metrics
    and one page per chart. English only: no CJK font is installed for matplotlib to draw with.
    The creation date is the evaluation's, so the same input always gives the same bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.backends.backend_pdf import PdfPages

    evaluation, model, version = r.evaluation, r.model, r.version
    metadata = {
        "Title": _ascii(f"Evaluation report: {model.name} v{version.number}" + (" (public)" if r.public else "")),
        "Subject": evaluation.id,
        "Keywords": version.onnx_sha256,
        "Creator": "aicommons",
        "CreationDate": report_date(evaluation),
    }
    out = io.BytesIO()
    with PdfPages(out, metadata=metadata) as pdf:
        _pdf_summary(pdf, r)
        for result in evaluation.results:
            _pdf_test(pdf, r, result)
            if not r.public:
                for name, sha256 in result.charts.items():
                    _pdf_chart(pdf, result, name, r.charts.get(sha256))
    return out.getvalue()


def _ascii(text: Any) -> str:
    """Text matplotlib can draw with its Latin fonts: other characters become '?', and '$' is
    escaped so user text never switches on mathtext."""
    return str(text).replace("—", "-").encode("ascii", "replace").decode("ascii").replace("$", r"\$")


def _page() -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=A4)


def _write(fig: Any, y: float, text: str, *, size: float = 9, weight: str = "normal", family: str = "sans-serif") -> float:
    fig.text(LEFT, y, _ascii(text), fontsize=size, weight=weight, family=family, va="top")
    return y - (size + 5) / 72 / A4[1]


def _table(fig: Any, y: float, table: Table, *, widths: list[float] | None = None, max_chars: int = 60) -> float:
    """Draw `table` below height `y` (figure fraction); returns the height below it."""
    y = _write(fig, y, table.title, size=10, weight="bold")
    if not table.rows:
        return _write(fig, y, "(none)")
    # Rows past the page's foot are cut, saying how many: the HTML report has them all.
    fitting = max(int((y - BOTTOM) / ROW_HEIGHT) - 1, 1)
    rows = table.rows
    if len(rows) > fitting:
        cut = len(rows) - fitting + 1
        rows = [*rows[: fitting - 1], [f"... {cut} more (see HTML)", *[""] * (len(table.columns) - 1)]]
    height = ROW_HEIGHT * (len(rows) + 1)
    ax = fig.add_axes((LEFT, y - height, 1 - 2 * LEFT, height))
    ax.axis("off")
    cells = [[_ascii(c)[:max_chars] for c in row] for row in rows]
    drawn = ax.table(
        cellText=cells, colLabels=[_ascii(c) for c in table.columns], colWidths=widths, loc="upper left",
        cellLoc="left", colLoc="left", bbox=(0, 0, 1, 1),
    )
    drawn.auto_set_font_size(False)
    drawn.set_fontsize(7.5)
    for (row, _), cell in drawn.get_celld().items():
        cell.set_linewidth(0.3)
        if row == 0:
            cell.set_text_props(weight="bold")
            cell.set_facecolor("#eeeeee")
    return y - height - 0.02


def _pdf_summary(pdf: Any, r: ReportInput) -> None:
    evaluation, model, version = r.evaluation, r.model, r.version
    fig = _page()
    y = _write(fig, TOP, "Evaluation report" + (" (public part)" if r.public else ""), size=18, weight="bold")
    y = _write(fig, y, "Summary", size=13, weight="bold") - 0.005
    counts = evaluation.summary
    facts = [
        ("Model", f"{model.name} v{version.number} ({model.task})"),
        ("Model sha256", version.onnx_sha256),
        ("Dataset version", evaluation.dataset_version_id or "the version's training data"),
        ("Suite", evaluation.suite or "(custom tests)"),
        ("Date", _date_text(evaluation)),
        ("Evaluation", f"{evaluation.id} (status {evaluation.status}, seed {evaluation.seed})"),
        ("Results", ", ".join(f"{n} {status}" for status, n in counts.items())),
    ]
    if r.grade:
        facts.append(("Risk level", f"{level_en(r.grade)} (policy {r.grade.get('policy', '')} {r.grade.get('policy_version', '')})".strip()))
    if number := filing_number(r.filing):
        facts.append(("Filing number", number))
    for label, value in facts:
        fig.text(LEFT, y, _ascii(label), fontsize=9, weight="bold", va="top")
        fig.text(LEFT + 0.2, y, _ascii(value), fontsize=9, va="top", family="monospace" if "sha256" in label else "sans-serif")
        y -= ROW_HEIGHT
    y -= 0.01
    if r.grade:
        rows = [[x["test"], x["metric"], format_value(x["value"]), x["rule"], level_en({"level": x["level"]}), x["message"]]
                for x in reason_rows(r.grade)]
        y = _table(fig, y, Table("Reasons for the risk level", ["test", "metric", "value", "rule", "level", "message"], rows),
                   widths=[0.12, 0.2, 0.08, 0.14, 0.08, 0.38], max_chars=55)
    rows = [[f"{result.title} ({result.name})", result.status, headline_text(result, 3, "; ")] for result in evaluation.results]
    _table(fig, y, Table("Tests", ["test", "status", "key metrics"], rows), widths=[0.25, 0.1, 0.65], max_chars=95)
    pdf.savefig(fig)


class _Pages:
    """Pages that text and tables flow down, a new page (headed "continued") when one is full."""

    def __init__(self, pdf: Any, heading: str):
        self.pdf, self.heading = pdf, heading
        self.fig = _page()
        self.y = _write(self.fig, TOP, heading, size=14, weight="bold")
        self.fresh = True  # nothing below the heading yet: a new page would not give more room

    def room(self, height: float) -> None:
        if self.y - height < BOTTOM and not self.fresh:
            self.pdf.savefig(self.fig)
            self.fig = _page()
            self.y = _write(self.fig, TOP, f"{self.heading} (continued)", size=12, weight="bold")
        self.fresh = False

    def line(self, text: str, **style: Any) -> None:
        self.room(ROW_HEIGHT)
        self.y = _write(self.fig, self.y, text, **style)

    def table(self, table: Table, **options: Any) -> None:
        self.room((len(table.rows) + 3) * ROW_HEIGHT)
        self.y = _table(self.fig, self.y, table, **options)

    def close(self) -> None:
        self.pdf.savefig(self.fig)


def _pdf_test(pdf: Any, r: ReportInput, result: TestResultRead) -> None:
    pages = _Pages(pdf, f"{result.title} ({result.name})")
    pages.line(f"Status: {result.status}; category {result.category}; {result.seconds:.1f} s")
    pages.y -= 0.01
    pages.table(checks_table(result), widths=[0.4, 0.08, 0.16, 0.2, 0.16])
    headline = [[k, format_value(v)] for k, v in headline_metrics(result).items()]
    pages.table(Table("Key metrics", ["metric", "value"], headline), widths=[0.5, 0.5])
    if not r.public:
        for table in detail_tables(result):
            if len(table.columns) > 12:
                pages.line(f"{table.title}: {len(table.columns) - 1} columns, too wide for a page; see the HTML report.")
            else:
                pages.table(table, max_chars=20)
    notes = _visible_notes(r, result)
    if notes:
        pages.line("Notes", size=10, weight="bold")
        for note in notes:
            for text in textwrap.wrap(f"- {note}", 110, subsequent_indent="  ")[:20]:
                pages.line(text)
    pages.close()


def _pdf_chart(pdf: Any, result: TestResultRead, name: str, png: bytes | None) -> None:
    from matplotlib import image

    fig = _page()
    _write(fig, TOP, f"{result.title}: {_chart_title(name)}", size=14, weight="bold")
    if png is None:
        _write(fig, TOP - 0.05, "Chart unavailable: its blob is missing from the store.")
    else:
        ax = fig.add_axes((LEFT, 0.08, 1 - 2 * LEFT, 0.8))
        ax.imshow(image.imread(io.BytesIO(png), format="png"))
        ax.axis("off")
    pdf.savefig(fig)
