"""`aicommons models …`: the model hub."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from aicommons import data, models
from aicommons.cli import rendering
from aicommons.cli.jobs import finish_or_report, parse_params
from aicommons.cli.state import CliState, state
from aicommons.core.errors import Invalid
from aicommons.core.schemas import Visibility

app = typer.Typer(help="The model hub: models, versions, cards, aliases.", no_args_is_help=True)


def _json_option(name: str, text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise Invalid(f"The '--{name}' option must be a JSON object: {exc}.") from None
    if not isinstance(value, dict):
        raise Invalid(f"The '--{name}' option must be a JSON object; got {text!r} instead.")
    return value


def _version(cli: CliState, ref: str) -> models.ModelVersionRead:
    """MODEL, MODEL@N or MODEL@alias (name or id); without @, the latest version."""
    name, _, which = ref.partition("@")
    with cli.session() as (session, actor):
        model = models.find_model(session, actor, name)
        return models.resolve_version(session, actor, model.id, which or None)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    task: Annotated[models.Task, typer.Option(help="What the model does.")],
    visibility: Annotated[Visibility, typer.Option(help="Who may see it.")] = Visibility.private,
    licence: Annotated[str, typer.Option(help="Licence, e.g. Apache-2.0.")] = "",
    description: Annotated[str, typer.Option(help="What it is.")] = "",
    name_zh: Annotated[str, typer.Option(help="中文名称.")] = "",
    tag: Annotated[list[str] | None, typer.Option(help="A tag; repeat for more.")] = None,
) -> None:
    """Create an empty model in your organisation."""
    spec = models.ModelCreate(name=name, task=task, visibility=visibility, licence=licence, description=description, name_zh=name_zh, tags=tag or [])
    with state(ctx).session() as (session, actor):
        model = models.create_model(session, actor, spec)
    rendering.out.print(f"Created model [bold]{model.name}[/] ({model.task}) id={model.id}")


@app.command("list")
def list_(
    ctx: typer.Context,
    task: Annotated[models.Task | None, typer.Option(help="Only this task.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only with this tag.")] = None,
    licence: Annotated[str | None, typer.Option(help="Only under this licence.")] = None,
    q: Annotated[str | None, typer.Option(help="Part of the name (or 中文名称).")] = None,
    metric: Annotated[str | None, typer.Option(help="e.g. 'accuracy>=0.9': with a version meeting it.")] = None,
    limit: int = 50,
) -> None:
    """Search the models you can see."""
    with state(ctx).session() as (session, actor):
        page = models.list_models(session, actor, task=task, tag=tag, licence=licence, query=q, metric=metric, limit=limit)
    rendering.table(
        "Models", ["id", "name", "task", "visibility", "versions", "aliases"],
        ((m.id, m.name, m.task, m.visibility, m.latest_version, ", ".join(f"{a}→{n}" for a, n in m.aliases.items())) for m in page.items),
    )


@app.command("upload")
def upload(
    ctx: typer.Context,
    model: str,
    path: Path,
    metrics: Annotated[str, typer.Option(help='JSON, e.g. \'{"accuracy": 0.97}\'.')] = "{}",
    dataset_version: Annotated[list[str] | None, typer.Option(help="A dataset version it was trained on; repeat.")] = None,
    architecture: Annotated[str | None, typer.Option(help='For safetensors: JSON {"name": "digits-cnn", "config": {...}}.')] = None,
    preprocessing: Annotated[str, typer.Option(help="JSON preprocessing spec (see docs/models.md), for raw-input predictions.")] = "{}",
    classes: Annotated[str, typer.Option(help="Class names by output index, comma-separated.")] = "",
) -> None:
    """Upload an ONNX, skops or safetensors (with --architecture) file as the model's next version (pickles are refused)."""
    cli = state(ctx)
    meta = models.VersionMeta(
        metrics=_json_option("metrics", metrics), dataset_version_ids=dataset_version or [],
        architecture=_json_option("architecture", architecture) if architecture else None,
        preprocessing=_json_option("preprocessing", preprocessing), classes=[c for c in classes.split(",") if c],
    )
    with cli.session() as (session, actor):
        target = models.find_model(session, actor, model)
        version = models.upload_path(session, cli.runtime().blobs, actor, target.id, path, meta)
    rendering.out.print(f"Uploaded version {version.number} of {target.name} id={version.id} ({version.framework}, {version.onnx_size:,} bytes ONNX)")


@app.command("train")
def train(
    ctx: typer.Context,
    model: str,
    dataset: Annotated[str, typer.Argument(help="DATASET or DATASET@N to train on.")],
    recipe: Annotated[str, typer.Option(help="A training recipe (see `aicommons models recipes`).")] = "tabular-lightgbm",
    seed: int = 0,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE recipe parameter; repeat.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar.")] = True,
) -> None:
    """Train a model version on a dataset version (a job with per-round progress)."""
    cli = state(ctx)
    params = parse_params(param or [])
    name, _, number = dataset.partition("@")
    with cli.session() as (session, actor):
        target = models.find_model(session, actor, model)
        ds = data.find_dataset(session, actor, name)
        version = data.resolve_version(session, actor, ds.id, int(number) if number.isdigit() else None)
        job = models.start_training(session, actor, target.id, models.TrainParams(dataset_version_id=version.id, recipe=recipe, seed=seed, params=params))
    finish_or_report(cli, job, wait)


@app.command("recipes")
def list_recipes() -> None:
    """The training recipes and what they train."""
    rendering.table("Training recipes", ["recipe", "task", "what it is"], ((r.name, r.task, r.description) for r in models.list_recipes()))


@app.command("import")
def import_(
    ctx: typer.Context,
    model: str,
    source: Annotated[str, typer.Argument(help="What to import, e.g. all-minilm-l6-v2 (weights ship in an installed package).")],
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar.")] = True,
) -> None:
    """Import a packaged pretrained model as the model's next version (exported to ONNX)."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        target = models.find_model(session, actor, model)
        job = models.start_import(session, actor, target.id, models.ImportParams(source=source))
    finish_or_report(cli, job, wait)


@app.command("compress")
def compress(
    ctx: typer.Context,
    version: Annotated[str, typer.Argument(help="MODEL, MODEL@N or MODEL@alias to compress.")],
    method: Annotated[str, typer.Option(help="int8-dynamic, int8-static, prune or distil.")],
    dataset: Annotated[str | None, typer.Option(help="DATASET[@N] for calibration, fine-tuning and the test split; default: the version's training data.")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE, e.g. sparsity=0.6, student=small-cnn; repeat.")] = None,
    wait: Annotated[bool, typer.Option(help="Follow the job with a progress bar.")] = True,
) -> None:
    """Compress a version into the model's next version, with a comparison against it."""
    cli = state(ctx)
    found = _version(cli, version)
    with cli.session() as (session, actor):
        dataset_version_id = None
        if dataset:
            name, _, number = dataset.partition("@")
            ds = data.find_dataset(session, actor, name)
            dataset_version_id = data.resolve_version(session, actor, ds.id, int(number) if number.isdigit() else None).id
        spec = models.CompressParams(method=method, dataset_version_id=dataset_version_id, **parse_params(param or []))
        job = models.start_compression(session, actor, found.id, spec)
    finish_or_report(cli, job, wait)


@app.command("compare")
def compare(ctx: typer.Context, version: str) -> None:
    """Show how a compressed version compares with its parent: size, latency, accuracy."""
    found = _version(state(ctx), version)
    comparison = found.details.get("comparison")
    if not comparison:
        raise Invalid(f"Version {found.number} is not a compressed version; it has no comparison.")
    rows = []
    for side in ("parent", "child"):
        figures = comparison[side]
        latency = figures.get("latency_ms", {})
        rows.append((side, f"{figures['size_bytes']:,}", *(f"{latency.get(b, {}).get(q, float('nan')):.3f}" for b in ("1", "32") for q in ("p50", "p95")), figures.get("accuracy", "")))
    rendering.table(f"{found.operation}: version {found.number} against its parent", ["", "bytes", "b1 p50 ms", "b1 p95 ms", "b32 p50 ms", "b32 p95 ms", "accuracy"], rows)
    rendering.out.print("deltas: " + json.dumps(comparison["deltas"]))


@app.command("versions")
def versions(ctx: typer.Context, model: str) -> None:
    """List a model's versions."""
    with state(ctx).session() as (session, actor):
        target = models.find_model(session, actor, model)
        rows = models.list_versions(session, actor, target.id)
    rendering.table(
        f"Versions of {target.name}", ["id", "number", "operation", "framework", "onnx bytes", "metrics"],
        ((v.id, v.number, v.operation, v.framework, v.onnx_size, json.dumps(v.metrics)) for v in rows),
    )


@app.command("show")
def show(ctx: typer.Context, version: str, json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show a version (MODEL, MODEL@N or MODEL@alias): signature, lineage, metrics."""
    found = _version(state(ctx), version)
    rendering.as_json(found) if json_out else rendering.record(found)


@app.command("card")
def card(ctx: typer.Context, version: str, edit: Annotated[Path | None, typer.Option(help="Replace the card with this Markdown file.")] = None) -> None:
    """Print a version's model card, or replace it with --edit FILE."""
    cli = state(ctx)
    found = _version(cli, version)
    with cli.session() as (session, actor):
        if edit is not None:
            models.update_card(session, actor, found.id, edit.read_text(encoding="utf-8"))
        print(models.get_card(session, actor, found.id), end="")


@app.command("alias")
def alias(ctx: typer.Context, version: str, name: str) -> None:
    """Point an alias (e.g. production) at a version: `aicommons models alias cancer@2 production`."""
    cli = state(ctx)
    found = _version(cli, version)
    with cli.session() as (session, actor):
        model = models.set_alias(session, actor, found.model_id, name, found.id)
    rendering.out.print(f"{model.name}: {name} → version {model.aliases[name]}")


@app.command("download")
def download(
    ctx: typer.Context,
    version: str,
    kind: Annotated[str, typer.Option(help="onnx or source.")] = "onnx",
    output: Annotated[Path, typer.Option(help="File or folder to write to.")] = Path("."),
) -> None:
    """Download a version's ONNX file or source weights."""
    cli = state(ctx)
    found = _version(cli, version)
    with cli.session() as (session, actor):
        sha256, filename = models.artefact(session, actor, found.id, kind)  # type: ignore[arg-type]
    target = output / filename if output.is_dir() else output
    cli.runtime().blobs.copy_to(sha256, target)
    rendering.out.print(f"Wrote {target}")
