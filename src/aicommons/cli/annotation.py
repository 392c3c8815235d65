"""`aicommons annotate …`: crowdsourced annotation projects, from creation to a published version.

Workers script their work without a terminal: `next` prints a task as JSON, `answer TASK VALUE`
sends the label back.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import BaseModel

from aicommons import data
from aicommons.cli import rendering
from aicommons.cli.arguments import text_or_file
from aicommons.cli.jobs import finish_or_report
from aicommons.cli.state import CliState, state
from aicommons.core.errors import Invalid
from aicommons.data import annotation

app = typer.Typer(help="Crowdsourced annotation: projects, workers, tasks, quality control, aggregation, review.", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
ProjectArg = Annotated[str, typer.Argument(help="The project's id.")]


def _print_json(value: BaseModel | list[Any]) -> None:
    """JSON as the API sends it (by alias: a project's `schema`)."""
    dumped = [v.model_dump(mode="json", by_alias=True) for v in value] if isinstance(value, list) else value.model_dump(mode="json", by_alias=True)
    print(json.dumps(dumped, ensure_ascii=False, indent=2))


def _dataset_version_id(cli: CliState, ref: str) -> str:
    name, _, number = ref.partition("@")
    if number and not number.isdigit():
        raise Invalid(f"The dataset must look like DATASET or DATASET@N; got {ref!r} instead.")
    with cli.session() as (session, actor):
        found = data.find_dataset(session, actor, name)
        return data.resolve_version(session, actor, found.id, int(number) if number else None).id


def _read_file(path: Path, what: str) -> Any:
    """A JSON or YAML file's content (YAML is a superset of JSON, but JSON errors read better)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise Invalid(f"No {what} file {str(path)!r}.") from None
    try:
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise Invalid(f"The {what} file {str(path)!r} is not valid {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: {exc}.") from None


def parse_value(value: str) -> Any:
    """A label as typed, or JSON when it looks like JSON (a list for multi-label, spans or boxes)."""
    if value[:1] in ("[", "{", '"'):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise Invalid(f"The value {value!r} looks like JSON but is not: {exc}.") from None
    return value


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="The project's name (or `name` in the spec file).")] = None,
    spec_file: Annotated[Path | None, typer.Option("--spec", help="A JSON or YAML file with the project's fields; options override it.")] = None,
    dataset: Annotated[str | None, typer.Option(help="DATASET[@N]: the version whose records are labelled (default: latest).")] = None,
    kind: Annotated[str | None, typer.Option(help="single, multi, spans or boxes.")] = None,
    label: Annotated[list[str] | None, typer.Option("--label", "-l", help="A label of the schema; repeat.")] = None,
    guidelines: Annotated[str | None, typer.Option(help="Guidelines for the workers: text, or @FILE.")] = None,
    overlap: Annotated[int | None, typer.Option(help="Labels per item to start with (default 3).")] = None,
    max_overlap: Annotated[int | None, typer.Option(help="The most labels an item may collect (default 5).")] = None,
    adaptive: Annotated[bool | None, typer.Option("--adaptive/--fixed", help="Stop an item early once its label is confident (default adaptive).")] = None,
    confidence_threshold: Annotated[float | None, typer.Option(help="The posterior at which an item is done (default 0.95).")] = None,
    gold: Annotated[Path | None, typer.Option(help="A JSON file {record_id: value}: known answers mixed in as gold tasks.")] = None,
    gold_rate: Annotated[float | None, typer.Option(help="The share of tasks that are gold (0 to 0.5, default 0.1).")] = None,
    qualification: Annotated[list[str] | None, typer.Option("--qualification", help="A gold record a worker must answer first; repeat.")] = None,
    qualification_pass_rate: Annotated[float | None, typer.Option(help="The share of qualification items to get right (default 0.8).")] = None,
    min_seconds: Annotated[float | None, typer.Option(help="Answers faster than this (median) flag a worker (default 2).")] = None,
    method: Annotated[str | None, typer.Option(help="Aggregation: mv, wawa, ds, glad or mace (default ds).")] = None,
    reward_points: Annotated[float | None, typer.Option(help="Points per task, for the statistics.")] = None,
    deadline: Annotated[datetime | None, typer.Option(help="When the project closes.")] = None,
    visibility: Annotated[str | None, typer.Option(help="public (any org's users may join) or private.")] = None,
    prelabeller: Annotated[str | None, typer.Option(help="A registered pre-labeller whose suggestions workers see.")] = None,
) -> None:
    """Create a project from a spec file (`--spec`), options, or both."""
    cli = state(ctx)
    spec: dict[str, Any] = {}
    if spec_file is not None:
        loaded = _read_file(spec_file, "spec")
        if not isinstance(loaded, dict):
            raise Invalid(f"The spec file {str(spec_file)!r} must hold an object (a mapping of fields), not {type(loaded).__name__}.")
        spec = dict(loaded)
    schema = dict(spec.pop("schema", None) or spec.pop("label_schema", None) or {})
    schema.update({k: v for k, v in {"kind": kind, "labels": label or None}.items() if v is not None})
    options = {
        "name": name, "guidelines": text_or_file(guidelines) if guidelines is not None else None, "overlap": overlap,
        "max_overlap": max_overlap, "adaptive": adaptive, "confidence_threshold": confidence_threshold,
        "gold": _read_file(gold, "gold") if gold is not None else None, "gold_rate": gold_rate,
        "qualification_items": qualification or None, "qualification_pass_rate": qualification_pass_rate,
        "min_seconds": min_seconds, "method": method, "reward_points": reward_points, "deadline": deadline,
        "visibility": visibility, "prelabeller": prelabeller,
    }
    spec.update({k: v for k, v in options.items() if v is not None})
    dataset = dataset or spec.pop("dataset", None)
    if dataset:
        spec["dataset_version_id"] = _dataset_version_id(cli, str(dataset))
    if "dataset_version_id" not in spec:
        raise Invalid("Name the dataset to label: --dataset DATASET[@N] (or `dataset` in the spec file).")
    created = annotation.ProjectCreate.model_validate({**spec, "schema": schema})
    with cli.session() as (session, actor):
        project = annotation.create_project(session, actor, created, cache=data.manifest_cache(cli.runtime()))
    rendering.out.print(f"Created annotation project [bold]{project.id}[/] ({project.name}): {_counts(project)}")


def _counts(project: annotation.ProjectRead) -> str:
    return f"{project.items_done}/{project.items} items done, {project.answers} answers, {project.workers} workers"


@app.command("list")
def list_projects(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="Only open or only closed projects.")] = None,
    limit: int = 50,
    json_out: JsonFlag = False,
) -> None:
    """Projects you can see: public ones of every org, your org's private ones."""
    with state(ctx).session() as (session, actor):
        page = annotation.list_projects(session, actor, status=status, limit=limit)
    if json_out:
        _print_json(page.items)
        return
    rendering.table(
        "Annotation projects", ["id", "name", "kind", "status", "visibility", "items done", "answers", "workers", "method"],
        ((p.id, p.name, p.label_schema.kind, p.status, p.visibility, f"{p.items_done}/{p.items}", p.answers, p.workers, p.method)
         for p in page.items),
    )


@app.command("show")
def show(ctx: typer.Context, project: ProjectArg, json_out: JsonFlag = False) -> None:
    """One project: its schema, settings, progress and agreement."""
    with state(ctx).session() as (session, actor):
        found = annotation.get_project(session, actor, project)
    _print_json(found) if json_out else rendering.record(found)


@app.command("update")
def update(
    ctx: typer.Context,
    project: ProjectArg,
    guidelines: Annotated[str | None, typer.Option(help="New guidelines: text, or @FILE.")] = None,
    deadline: Annotated[datetime | None, typer.Option(help="A new deadline.")] = None,
    clear_deadline: Annotated[bool, typer.Option("--clear-deadline", help="Remove the deadline.")] = False,
    status: Annotated[str | None, typer.Option(help="open or closed (a closed project hands out no tasks).")] = None,
) -> None:
    """Change a project's guidelines or deadline, or close and reopen it (owner org)."""
    change = annotation.ProjectUpdate(
        guidelines=text_or_file(guidelines) if guidelines is not None else None, deadline=deadline, clear_deadline=clear_deadline, status=status
    )
    with state(ctx).session() as (session, actor):
        found = annotation.update_project(session, actor, project, change)
    rendering.out.print(f"Project [bold]{found.id}[/] ({found.name}): {found.status}, {_counts(found)}")


@app.command("join")
def join(ctx: typer.Context, project: ProjectArg) -> None:
    """Become a worker on a project."""
    with state(ctx).session() as (session, actor):
        worker = annotation.join_project(session, actor, project)
    rendering.out.print(f"Joined project {project} as a worker ({worker.email}).")


@app.command("next")
def next_task(ctx: typer.Context, project: ProjectArg) -> None:
    """Print your next task as JSON; or say that nothing is left for you."""
    with state(ctx).session() as (session, actor):
        task = annotation.next_task(session, actor, project)
    if task is None:
        rendering.err.print(f"Nothing is left for you to label in project {project}.")
        return
    _print_json(task)


@app.command("answer")
def answer(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(help="The task's id, from `next`.")],
    value: Annotated[str, typer.Argument(help='A label, or JSON: ["a","b"] (multi), [[0,5,"PER"]] (spans), [[x0,y0,x1,y1,"car"]] (boxes).')],
    seconds: Annotated[float | None, typer.Option(help="How long the answer took, in seconds.")] = None,
    project: Annotated[str | None, typer.Option(help="Check that the task belongs to this project.")] = None,
) -> None:
    """Answer one of your tasks."""
    submitted = annotation.AnswerSubmit(value=parse_value(value), seconds=seconds)
    with state(ctx).session() as (session, actor):
        annotation.submit_answer(session, actor, task_id, submitted, project_id=project)
    rendering.out.print(f"Answered task {task_id}.")


@app.command("workers")
def workers(ctx: typer.Context, project: ProjectArg, json_out: JsonFlag = False) -> None:
    """The project's workers: skill, answers, gold accuracy, flags with their reasons, weight."""
    with state(ctx).session() as (session, actor):
        found = annotation.list_workers(session, actor, project)
    if json_out:
        _print_json(found)
        return
    rendering.table(
        f"Workers of {project}", ["worker", "skill", "answers", "gold accuracy", "weight", "qualification", "flags"],
        ((w.email, f"{w.skill_accuracy:.2f}", w.answers, "" if w.gold_accuracy is None else f"{w.gold_accuracy:.0%} of {w.gold_answers}",
          f"{w.weight:.2f}", w.qualification if w.qualification != "none" else "", "; ".join(f"{f.code}: {f.reason}" for f in w.flags))
         for w in found),
    )


@app.command("aggregate")
def aggregate(
    ctx: typer.Context,
    project: ProjectArg,
    method: Annotated[str | None, typer.Option(help="mv, wawa, ds, glad or mace; default: the project's.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar until it ends.")] = True,
) -> None:
    """Aggregate the answers (a job) into labels with confidences, and agreement metrics."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        job = annotation.start_aggregation(session, actor, project, annotation.AggregateParams(method=method))
    finish_or_report(cli, job, wait)


def _shown(value: Any) -> str:
    return "" if value is None else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


@app.command("results")
def results(
    ctx: typer.Context,
    project: ProjectArg,
    review: Annotated[str | None, typer.Option(help="Only results reviewed so: none, accepted, rejected or corrected.")] = None,
    max_confidence: Annotated[float | None, typer.Option(help="Only results at most this confident (to review the uncertain ones).")] = None,
    limit: int = 50,
    cursor: str | None = None,
    json_out: JsonFlag = False,
) -> None:
    """Aggregated labels: value, confidence, support, review state."""
    with state(ctx).session() as (session, actor):
        page = annotation.list_results(session, actor, project, review=review, max_confidence=max_confidence, limit=limit, cursor=cursor)
    if json_out:
        _print_json(page.items)
        return
    rendering.table(
        f"Results of {project}", ["record", "value", "confidence", "support", "method", "review", "final value"],
        ((r.record_id, _shown(r.value), f"{r.confidence:.3f}", r.support, r.method, r.review or "", _shown(r.final_value)) for r in page.items),
    )
    if page.next_cursor:
        rendering.out.print(f"More: --cursor {page.next_cursor}")


@app.command("review")
def review(
    ctx: typer.Context,
    project: ProjectArg,
    record_id: Annotated[str, typer.Argument(help="The record whose aggregated label you judge.")],
    accept: Annotated[bool, typer.Option("--accept", help="Keep the aggregated label.")] = False,
    reject: Annotated[bool, typer.Option("--reject", help="Leave the record unlabelled when publishing.")] = False,
    correct: Annotated[str | None, typer.Option("--correct", help="Replace the label: a label, or JSON as for `answer`.")] = None,
    comment: str = "",
) -> None:
    """Accept, reject or correct an aggregated label."""
    chosen = [name for name, given in (("accept", accept), ("reject", reject), ("correct", correct is not None)) if given]
    if len(chosen) != 1:
        raise Invalid("Give exactly one of --accept, --reject or --correct VALUE.")
    decision = annotation.ReviewDecision(decision=chosen[0], value=parse_value(correct) if correct is not None else None, comment=comment)
    with state(ctx).session() as (session, actor):
        result = annotation.review_result(session, actor, project, record_id, decision)
    rendering.out.print(f"Record {record_id}: {result.review}")


@app.command("publish")
def publish(ctx: typer.Context, project: ProjectArg) -> None:
    """Write the labels as a new version of the project's dataset, with lineage."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        version = annotation.publish_results(session, cli.runtime().blobs, actor, project, cache=data.manifest_cache(cli.runtime()))
    rendering.out.print(f"Published version [bold]{version.number}[/] ({version.id}) of dataset {version.dataset_id}: {version.record_count} records")
