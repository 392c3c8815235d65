"""`aicommons jobs …`: list, show, logs, cancel, retry, submit (with a live progress bar)."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from aicommons.cli import rendering
from aicommons.cli.state import CliState, state
from aicommons.core import jobs
from aicommons.core.errors import Invalid
from aicommons.core.schemas import JobRead, JobStatus, JobSubmit

app = typer.Typer(help="Jobs: long work run by the executor, with progress and logs.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.command("list")
def list_jobs(
    ctx: typer.Context,
    status: Annotated[JobStatus | None, typer.Option(help="Only jobs in this state.")] = None,
    type: Annotated[str | None, typer.Option(help="Only jobs of this type.")] = None,
    limit: int = 50,
    json_out: JsonFlag = False,
) -> None:
    """List jobs you can see, newest first."""
    with state(ctx).session() as (session, actor):
        page = jobs.list_jobs(session, actor, status=status, type=type, limit=limit)
    if json_out:
        rendering.as_json(page.items)
        return
    rendering.table(
        "Jobs", ["id", "type", "status", "progress", "attempts", "message"],
        ((j.id, j.type, j.status, f"{j.progress:.0%}", f"{j.attempts}/{j.max_attempts}", j.message) for j in page.items),
    )


@app.command("show")
def show_job(ctx: typer.Context, job_id: str, json_out: JsonFlag = False) -> None:
    """Show one job."""
    with state(ctx).session() as (session, actor):
        job = jobs.get_job(session, actor, job_id)
    rendering.as_json(job) if json_out else rendering.record(job)


@app.command("logs")
def job_logs(ctx: typer.Context, job_id: str) -> None:
    """Print a job's log."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        text = jobs.read_logs(session, cli.runtime().blobs, actor, job_id)
    print(text, end="")


@app.command("cancel")
def cancel_job(ctx: typer.Context, job_id: str) -> None:
    """Cancel a queued or running job."""
    with state(ctx).session() as (session, actor):
        job = jobs.cancel_job(session, actor, job_id)
    rendering.out.print(f"Job {job.id}: {job.message}")


@app.command("retry")
def retry_job(ctx: typer.Context, job_id: str) -> None:
    """Queue a failed or cancelled job again (it resumes from its last checkpoint)."""
    with state(ctx).session() as (session, actor):
        job = jobs.retry_job(session, actor, job_id)
    rendering.out.print(f"Job {job.id}: {job.message}")


@app.command("submit")
def submit_job(
    ctx: typer.Context,
    type: str,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE; VALUE is read as JSON when it parses.")] = None,
    max_attempts: Annotated[int, typer.Option(help="Attempts before the job fails.")] = 1,
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar until it ends.")] = False,
) -> None:
    """Submit a job, e.g. `aicommons jobs submit diagnostics.sleep -p steps=5 --wait`."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        job = jobs.submit_job(session, actor, JobSubmit(type=type, params=parse_params(param or []), max_attempts=max_attempts))
        workers = jobs.live_workers(session, lost_after_s=cli.runtime().settings.lost_after_s)
    finish_or_report(cli, job, wait, workers=workers)


def finish_or_report(cli: CliState, job: JobRead, wait: bool, *, workers: int | None = None) -> None:
    """Say what was queued; with `wait`, follow it to the end and exit non-zero unless it succeeded."""
    rendering.out.print(f"Submitted job [bold]{job.id}[/] ({job.type})")
    if workers is None:
        with cli.session() as (session, _):
            workers = jobs.live_workers(session, lost_after_s=cli.runtime().settings.lost_after_s)
    if not workers:
        rendering.err.print("[yellow]No executor is running; start one with `aicommons serve` or `aicommons worker`.[/]")
        if wait:
            rendering.err.print(f"Not waiting; follow it later with `aicommons jobs show {job.id}`.")
            return
    if wait:
        job = follow(cli, job.id)
        if job.status != JobStatus.succeeded:
            rendering.error(f"Job {job.id} {job.status}: {job.error or job.message}")
            raise typer.Exit(1)
        rendering.out.print(f"Job {job.id} succeeded: {json.dumps(job.result, ensure_ascii=False)}")


def parse_params(pairs: list[str]) -> dict[str, object]:
    params: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise Invalid(f"The '--param' option must look like KEY=VALUE; got {pair!r} instead.")
        try:
            params[key] = json.loads(value)
        except json.JSONDecodeError:
            params[key] = value
    return params


def follow(cli: CliState, job_id: str, poll_s: float = 0.5) -> JobRead:
    """Show a Rich progress bar for a job until it finishes."""
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"),
               TimeElapsedColumn(), TextColumn("{task.fields[message]}"))
    with Progress(*columns, console=rendering.out, transient=False) as bar:
        task = bar.add_task(job_id, total=1.0, message="queued")
        while True:
            with cli.session() as (session, actor):
                job = jobs.get_job(session, actor, job_id)
            bar.update(task, completed=job.progress, message=f"{job.status}: {job.message}")
            if job.status in (JobStatus.succeeded, JobStatus.failed, JobStatus.cancelled):
                return job
            time.sleep(poll_s)
