"""`aicommons data …`: datasets, imports, versions, records, diffs and splits."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from aicommons import data
from aicommons.cli import rendering
from aicommons.cli.jobs import finish_or_report
from aicommons.cli.state import CliState, state
from aicommons.core.errors import Invalid
from aicommons.core.schemas import Visibility

app = typer.Typer(help="Datasets: import, browse, version, split.", no_args_is_help=True)

WaitFlag = Annotated[bool, typer.Option(help="Follow the job with a progress bar until it ends.")]


def _version(cli: CliState, ref: str) -> data.VersionRead:
    """DATASET or DATASET@N (name or id); without @N, the latest version."""
    name, _, number = ref.partition("@")
    if number and not number.isdigit():
        raise Invalid(f"A version is written DATASET@N with N a number; got {ref!r} instead.")
    with cli.session() as (session, actor):
        dataset = data.find_dataset(session, actor, name)
        return data.resolve_version(session, actor, dataset.id, int(number) if number else None)


@app.command("create")
def create(
    ctx: typer.Context,
    name: str,
    modality: Annotated[data.Modality, typer.Option(help="What a record is.")],
    visibility: Annotated[Visibility, typer.Option(help="Who may see it.")] = Visibility.private,
    licence: Annotated[str, typer.Option(help="Licence, e.g. CC-BY-4.0.")] = "",
    description: Annotated[str, typer.Option(help="What it is, where it comes from.")] = "",
    tag: Annotated[list[str] | None, typer.Option(help="A tag; repeat for more.")] = None,
) -> None:
    """Create an empty dataset in your organisation."""
    spec = data.DatasetCreate(name=name, modality=modality, visibility=visibility, licence=licence, description=description, tags=tag or [])
    with state(ctx).session() as (session, actor):
        dataset = data.create_dataset(session, actor, spec)
    rendering.out.print(f"Created dataset [bold]{dataset.name}[/] ({dataset.modality}) id={dataset.id}")


@app.command("list")
def list_(
    ctx: typer.Context,
    modality: Annotated[data.Modality | None, typer.Option(help="Only this modality.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only with this tag.")] = None,
    limit: int = 50,
) -> None:
    """List the datasets you can see."""
    with state(ctx).session() as (session, actor):
        page = data.list_datasets(session, actor, modality=modality, tag=tag, limit=limit)
    rendering.table(
        "Datasets", ["id", "name", "modality", "visibility", "versions", "tags"],
        ((d.id, d.name, d.modality, d.visibility, d.latest_version, ", ".join(d.tags)) for d in page.items),
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    dataset: str,
    path: Path,
    format: Annotated[str, typer.Option(help="auto, csv, jsonl, parquet, imagefolder, coco, yolo, voc.")] = "auto",
    label_field: Annotated[str, typer.Option(help="Column holding labels.")] = "label",
    split_field: Annotated[str, typer.Option(help="Column holding splits.")] = "split",
    text_field: Annotated[str | None, typer.Option(help="Column holding the text (stored as `text`).")] = None,
    wait: WaitFlag = True,
) -> None:
    """Import a file, archive or folder as the dataset's next version."""
    cli = state(ctx)
    options = data.ImportOptions(format=format, label_field=label_field, split_field=split_field, text_field=text_field)
    with cli.session() as (session, actor):
        target = data.find_dataset(session, actor, dataset)
        job = data.import_path(session, cli.runtime().blobs, actor, target.id, path, options)
    finish_or_report(cli, job, wait)


@app.command("versions")
def versions(ctx: typer.Context, dataset: str) -> None:
    """List a dataset's versions with their lineage."""
    with state(ctx).session() as (session, actor):
        target = data.find_dataset(session, actor, dataset)
        rows = data.list_versions(session, actor, target.id)
    rendering.table(
        f"Versions of {target.name}", ["id", "number", "records", "operation", "parent", "created"],
        ((v.id, v.number, v.record_count, v.operation, v.parent_version_id, v.created_at.isoformat(timespec="seconds")) for v in rows),
    )


@app.command("show")
def show(ctx: typer.Context, version: str, json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show a version (DATASET or DATASET@N): lineage, columns and statistics."""
    found = _version(state(ctx), version)
    if json_out:
        rendering.as_json(found)
        return
    rendering.record(found)


@app.command("records")
def records(
    ctx: typer.Context,
    version: str,
    split: Annotated[str | None, typer.Option(help="Only this split.")] = None,
    label: Annotated[str | None, typer.Option(help="Only this label.")] = None,
    where: Annotated[list[str] | None, typer.Option(help="COLUMN=VALUE or COLUMN~TEXT (contains); repeatable.")] = None,
    limit: int = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
) -> None:
    """Browse a version's records."""
    cli = state(ctx)
    filters = [_parse_where(w) for w in where or []]
    found = _version(cli, version)
    with cli.session() as (session, actor):
        page = data.list_records(
            session, data.manifest_cache(cli.runtime()), actor, found.id,
            filters=filters, split=split, label=label, limit=limit,
        )
    if json_out:
        for item in page.items:
            print(json.dumps(item, ensure_ascii=False))
        return
    columns = [c for c in (page.items[0] if page.items else {}) if c not in ("content_hash", "file_sha256", "annotations")]
    rendering.table(f"{page.total} records (showing {len(page.items)})", columns, (["" if i[c] is None else str(i[c])[:80] for c in columns] for i in page.items))


def _parse_where(text: str) -> data.RecordFilter:
    for op, sign in (("contains", "~"), ("!=", "!="), (">=", ">="), ("<=", "<="), ("=", "="), (">", ">"), ("<", "<")):
        column, found, value = text.partition(sign)
        if found and column:
            parsed: str | int | float = value
            for cast in (int, float):
                try:
                    parsed = cast(value)
                    break
                except ValueError:
                    continue
            return data.RecordFilter(column=column, op=op, value=value if op == "contains" else parsed)
    raise Invalid(f"The '--where' option must look like COLUMN=VALUE or COLUMN~TEXT; got {text!r} instead.")


@app.command("diff")
def diff(ctx: typer.Context, base: str, other: str) -> None:
    """Compare two versions (DATASET@N DATASET@M) record by record."""
    cli = state(ctx)
    a, b = _version(cli, base), _version(cli, other)
    with cli.session() as (session, actor):
        result = data.diff_versions(session, data.manifest_cache(cli.runtime()), actor, a.id, b.id)
    rendering.record(result)


@app.command("clean")
def clean(
    ctx: typer.Context,
    version: str,
    operation: Annotated[str, typer.Argument(help="dedup, text_quality, image_checks or label_issues.")],
    threshold: Annotated[float, typer.Option(help="dedup: Jaccard similarity for near-duplicate texts.")] = 0.8,
    exact_only: Annotated[bool, typer.Option(help="dedup: exact duplicates only.")] = False,
    wait: WaitFlag = True,
) -> None:
    """Clean a version; writes a new version and a report (`aicommons data report`)."""
    cli = state(ctx)
    params = data.CleanParams(operation=operation, threshold=threshold, near=not exact_only)
    found = _version(cli, version)
    with cli.session() as (session, actor):
        job = data.start_clean(session, actor, found.id, params)
    finish_or_report(cli, job, wait)


@app.command("deid")
def deid(
    ctx: typer.Context,
    version: str,
    policy: Annotated[Path | None, typer.Option(help="A YAML policy file (default: the built-in policy).")] = None,
    field: Annotated[list[str] | None, typer.Option(help="A text field to scan; repeat (default: all text).")] = None,
    faces: Annotated[str, typer.Option(help="blur, box or off.")] = "blur",
    quasi_identifier: Annotated[list[str] | None, typer.Option(help="A column for k-anonymity; repeat.")] = None,
    k: Annotated[int, typer.Option(help="k for k-anonymity over the quasi-identifiers.")] = 5,
    wait: WaitFlag = True,
) -> None:
    """De-identify a version (脱敏); writes a new version and an owner-only report."""
    cli = state(ctx)
    if policy is not None and not policy.is_file():
        raise Invalid(f"The policy file {str(policy)!r} does not exist.")
    params = data.DeidParams(
        policy=policy.read_text(encoding="utf-8") if policy else None,
        fields=field or None,
        faces=faces,
        k_anonymity=data.KAnonymity(quasi_identifiers=quasi_identifier, k=k) if quasi_identifier else None,
    )
    found = _version(cli, version)
    with cli.session() as (session, actor):
        job = data.start_deid(session, actor, found.id, params)
    finish_or_report(cli, job, wait)


@app.command("report")
def report(ctx: typer.Context, version: str) -> None:
    """Print the report of the operation that wrote a version (JSON)."""
    cli = state(ctx)
    found = _version(cli, version)
    with cli.session() as (session, actor):
        print(json.dumps(data.get_report(session, cli.runtime().blobs, actor, found.id), ensure_ascii=False, indent=2))


@app.command("export")
def export(
    ctx: typer.Context,
    version: str,
    format: Annotated[str, typer.Option(help="csv, jsonl, parquet, imagefolder, coco, yolo, voc, hf.")],
    output: Annotated[Path, typer.Option(help="Where to write the zip (default: its own name, here).")] = Path("."),
) -> None:
    """Export a version as a zip of the chosen format (waits for the job)."""
    cli = state(ctx)
    found = _version(cli, version)
    with cli.session() as (session, actor):
        job = data.start_export(session, actor, found.id, format)
    finish_or_report(cli, job, True)
    with cli.session() as (session, actor):
        sha256, filename = data.export_download(session, actor, job.id)
    target = output / filename if output.is_dir() else output
    cli.runtime().blobs.copy_to(sha256, target)
    rendering.out.print(f"Wrote {target}")


@app.command("split")
def split(
    ctx: typer.Context,
    version: str,
    train: float = 0.8,
    validation: float = 0.1,
    test: float = 0.1,
    seed: int = 0,
    stratify: Annotated[bool, typer.Option(help="Keep label proportions in each split.")] = True,
    wait: WaitFlag = True,
) -> None:
    """Assign train/validation/test splits deterministically; writes a new version."""
    cli = state(ctx)
    params = data.SplitParams(train=train, validation=validation, test=test, seed=seed, stratify=stratify)
    found = _version(cli, version)
    with cli.session() as (session, actor):
        job = data.start_split(session, actor, found.id, params)
    finish_or_report(cli, job, wait)
