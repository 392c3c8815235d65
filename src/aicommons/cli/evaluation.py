"""`aicommons evaluation …`: run test suites on model versions, read results, reports and comparisons."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from aicommons import data, evaluation, models
from aicommons.cli import rendering
from aicommons.cli.jobs import finish_or_report, follow
from aicommons.cli.state import CliState, state
from aicommons.core.errors import Invalid

app = typer.Typer(help="Evaluation: accuracy, robustness, fairness, privacy and efficiency tests; reports.", no_args_is_help=True)


def _version(cli: CliState, ref: str) -> models.ModelVersionRead:
    name, _, which = ref.partition("@")
    with cli.session() as (session, actor):
        model = models.find_model(session, actor, name)
        return models.resolve_version(session, actor, model.id, which or None)


def _dataset_version(cli: CliState, ref: str | None) -> str | None:
    if not ref:
        return None
    name, _, number = ref.partition("@")
    with cli.session() as (session, actor):
        found = data.find_dataset(session, actor, name)
        return data.resolve_version(session, actor, found.id, int(number) if number.isdigit() else None).id


def _test_requests(params: list[str], thresholds: list[str]) -> list[evaluation.TestRequest]:
    """`--param fairness.sensitive_attribute=sex` and `--threshold accuracy.accuracy>=0.9` into requests."""
    requests: dict[str, dict[str, Any]] = {}
    for pair in params:
        key, sep, value = pair.partition("=")
        test, dot, name = key.partition(".")
        if not sep or not dot or not name:
            raise Invalid(f"The '--param' option must look like TEST.KEY=VALUE; got {pair!r} instead.")
        try:
            parsed: Any = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        requests.setdefault(test, {"params": {}, "thresholds": {}})["params"][name] = parsed
    for rule in thresholds:
        op = ">=" if ">=" in rule else "<=" if "<=" in rule else None
        key, _, value = rule.partition(op or "\0")
        test, dot, metric = key.strip().partition(".")
        if op is None or not dot or not metric:
            raise Invalid(f"The '--threshold' option must look like TEST.METRIC>=NUMBER or TEST.METRIC<=NUMBER; got {rule!r} instead.")
        requests.setdefault(test, {"params": {}, "thresholds": {}})["thresholds"][metric] = [op, value.strip()]
    return [evaluation.TestRequest(name=name, **spec) for name, spec in requests.items()]


@app.command("run")
def run(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="MODEL, MODEL@N or MODEL@alias to test.")],
    dataset: Annotated[str | None, typer.Option(help="DATASET[@N] to test on; default: the version's training data (its test split).")] = None,
    suite: Annotated[str, typer.Option(help="A suite (default, filing, quick) or 'none' to run only --test.")] = "default",
    test: Annotated[list[str] | None, typer.Option("--test", "-t", help="Add a test by name; repeat.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="TEST.KEY=VALUE, e.g. fairness.sensitive_attribute=sex; repeat.")] = None,
    threshold: Annotated[list[str] | None, typer.Option(help="TEST.METRIC>=N or <=N, e.g. accuracy.accuracy>=0.9; repeat.")] = None,
    seed: int = 0,
    wait: Annotated[bool, typer.Option(help="Follow the run with a progress bar, then print its results.")] = True,
) -> None:
    """Run a suite of tests on a model version as a job."""
    cli = state(ctx)
    found = _version(cli, version)
    requests = _test_requests(param or [], threshold or [])
    named = {r.name for r in requests}
    requests += [evaluation.TestRequest(name=name) for name in (test or []) if name not in named]
    spec = evaluation.EvaluationCreate(
        version_id=found.id, dataset_version_id=_dataset_version(cli, dataset), suite=None if suite == "none" else suite, tests=requests, seed=seed
    )
    with cli.session() as (session, actor):
        run = evaluation.start_evaluation(session, actor, spec)
    rendering.out.print(f"Evaluation [bold]{run.id}[/] of {version}: {len(spec.tests)} added test(s), suite {spec.suite}")
    if not wait:
        finish_or_report(cli, _job(cli, run.job_id), wait=False)
        return
    finish_or_report(cli, _job(cli, run.job_id), wait=True)
    _show(cli, run.id)


def _job(cli: CliState, job_id: str) -> Any:
    from aicommons.core import jobs

    with cli.session() as (session, actor):
        return jobs.get_job(session, actor, job_id)


def _show(cli: CliState, evaluation_id: str) -> evaluation.EvaluationRead:
    with cli.session() as (session, actor):
        run = evaluation.get_evaluation(session, actor, evaluation_id)
    rows = []
    for result in run.results:
        headline = ", ".join(f"{k}={v:.4g}" for k, v in result.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
        failed = [f"{c['metric']} {c['op']} {c['threshold']} (got {c['value']})" for c in result.checks if not c["passed"]]
        rows.append((result.name, result.status, f"{result.seconds:.2f}", headline[:120], "; ".join(failed + result.notes)[:160]))
    rendering.table(f"Evaluation {run.id}: version {run.version_number}, {run.status}", ["test", "status", "s", "metrics", "failed checks / notes"], rows)
    return run


@app.command("show")
def show(ctx: typer.Context, evaluation_id: str, json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show a run's results."""
    cli = state(ctx)
    if json_out:
        with cli.session() as (session, actor):
            rendering.as_json(evaluation.get_evaluation(session, actor, evaluation_id))
        return
    _show(cli, evaluation_id)


@app.command("list")
def list_runs(ctx: typer.Context, model: Annotated[str | None, typer.Option(help="Only runs on this model.")] = None, limit: int = 50) -> None:
    """List evaluation runs."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        model_id = models.find_model(session, actor, model).id if model else None
        page = evaluation.list_evaluations(session, actor, model_id=model_id, limit=limit)
    rendering.table(
        "Evaluations", ["id", "model", "version", "suite", "status", "passed", "failed", "skipped", "error"],
        ((r.id, r.model_id, r.version_number, r.suite or "", r.status, *r.summary.values()) for r in page.items),
    )


@app.command("wait")
def wait_for(ctx: typer.Context, evaluation_id: str) -> None:
    """Follow a queued or running evaluation to its end."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        run = evaluation.get_evaluation(session, actor, evaluation_id)
    follow(cli, run.job_id)
    _show(cli, evaluation_id)


@app.command("report")
def report(
    ctx: typer.Context,
    evaluation_id: str,
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write; .html or .pdf.")],
) -> None:
    """Write a run's report as HTML or PDF (charts included, one-page summary first)."""
    if output.suffix.lower() not in (".html", ".pdf"):
        raise Invalid(f"The report file must end in .html or .pdf; got {output.name!r}.")
    cli = state(ctx)
    with cli.session() as (session, actor):
        built = evaluation.build_report_input(session, cli.runtime().blobs, actor, evaluation_id)
    content = evaluation.render_pdf(built) if output.suffix.lower() == ".pdf" else evaluation.render_html(built).encode()
    output.write_bytes(content)
    rendering.out.print(f"Wrote {output} ({len(content):,} bytes, sha256 {evaluation.report_digest(content)})")


@app.command("compare")
def compare(ctx: typer.Context, evaluation_ids: Annotated[list[str], typer.Argument(help="Two to ten evaluation ids.")]) -> None:
    """Compare runs' headline metrics side by side (e.g. a model and its int8 version)."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        compared = evaluation.compare_evaluations(session, actor, evaluation_ids)
    heads = [f"v{r['version_number']} {r['id'][-6:]}" for r in compared["runs"]]
    rows = ((row["test"], row["metric"], *("" if v is None else f"{v:.4g}" for v in row["values"])) for row in compared["rows"])
    rendering.table("Evaluations compared", ["test", "metric", *heads], rows)


@app.command("tests")
def tests(ctx: typer.Context) -> None:
    """List the registered tests and suites."""
    described = evaluation.describe_catalogue()
    rendering.table("Tests", ["name", "category", "title", "标题", "parameters"], ((t["name"], t["category"], t["title"], t["title_zh"], json.dumps(t["params"], ensure_ascii=False)) for t in described["tests"]))
    rendering.table("Suites", ["name", "title", "tests"], ((s["name"], s["title"], ", ".join(e["name"] for e in s["tests"])) for s in described["suites"]))
