"""`aicommons observatory enterprises …`: The enterprise registry (培育库)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aicommons.cli import rendering
from aicommons.cli.state import state
from aicommons.core.errors import Invalid
from aicommons.observatory import enterprises

app = typer.Typer(help="The enterprise registry (培育库).", no_args_is_help=True)

_FILTER_HELP = {
    "city": "Only this city (杭州市, 杭州, Hangzhou or 330100).",
    "district": "Only this district or county (滨江区, 滨江 or 330108).",
    "tier": "Only enterprises with this tier (little-giant or 专精特新小巨人 …).",
    "field": "Only enterprises in this AI field (computer-vision or 视觉智能 …).",
    "name": "Only names containing this text.",
}


def parse_revenue(items: list[str]) -> dict[int, str]:
    """`2024=1200000` items into {2024: "1200000"} (the record checks the amounts)."""
    revenue: dict[int, str] = {}
    for item in items:
        year, _, yuan = item.partition("=")
        if not year.strip().isdigit() or not yuan.strip():
            raise Invalid(f"The '--revenue' option must be YEAR=YUAN like 2024=1200000; got {item!r}.")
        revenue[int(year)] = yuan.strip()
    return revenue


@app.command("add")
def add(
    ctx: typer.Context,
    credit_code: Annotated[str, typer.Argument(help="The unified social credit code (统一社会信用代码).")],
    name: Annotated[str, typer.Option(help="The registered name.")],
    city: Annotated[str, typer.Option(help="A city of Zhejiang: 杭州市, 杭州, Hangzhou or 330100.")],
    district: Annotated[str | None, typer.Option(help="A district or county of that city.")] = None,
    tier: Annotated[list[str] | None, typer.Option("--tier", help="A tier (slug or Chinese label); repeat.")] = None,
    field: Annotated[list[str] | None, typer.Option("--field", help="An AI field (slug or Chinese label); repeat.")] = None,
    revenue: Annotated[list[str] | None, typer.Option("--revenue", help="YEAR=YUAN operating revenue; repeat.")] = None,
    patents: Annotated[int, typer.Option(help="Granted invention patents.")] = 0,
    standards: Annotated[int, typer.Option(help="Standards led or joined.")] = 0,
    product: Annotated[list[str] | None, typer.Option("--product", help="An AI product; repeat.")] = None,
    scenario: Annotated[list[str] | None, typer.Option("--scenario", help="An application scenario; repeat.")] = None,
    org: Annotated[str | None, typer.Option(help="The enterprise's own org id on the platform.")] = None,
    sample: Annotated[bool, typer.Option(help="Mark the record as sample (demo) data.")] = False,
) -> None:
    """Register an enterprise."""
    spec = enterprises.parse_enterprise({
        "credit_code": credit_code, "name": name, "city": city, "district": district, "tiers": tier or [], "ai_fields": field or [],
        "revenue": parse_revenue(revenue or []), "invention_patents": patents, "standards": standards, "products": product or [],
        "scenarios": scenario or [], "org_id": org, "sample": sample,
    })  # fmt: skip
    with state(ctx).session() as (session, actor):
        created = enterprises.create_enterprise(session, actor, spec)
    rendering.record(created)


@app.command("show")
def show(ctx: typer.Context, credit_code: str, json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show one enterprise's record."""
    with state(ctx).session() as (session, actor):
        found = enterprises.get_enterprise(session, actor, credit_code)
    if json_out:
        rendering.as_json(found)
    else:
        rendering.record(found)


@app.command("list")
def list_enterprises(
    ctx: typer.Context,
    city: Annotated[str | None, typer.Option(help=_FILTER_HELP["city"])] = None,
    district: Annotated[str | None, typer.Option(help=_FILTER_HELP["district"])] = None,
    tier: Annotated[str | None, typer.Option(help=_FILTER_HELP["tier"])] = None,
    field: Annotated[str | None, typer.Option("--field", help=_FILTER_HELP["field"])] = None,
    name: Annotated[str | None, typer.Option(help=_FILTER_HELP["name"])] = None,
    sample: Annotated[bool | None, typer.Option("--sample/--real", help="Only sample records, or only real ones.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1 to 200).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of the previous page.")] = None,
) -> None:
    """Search the registry."""
    with state(ctx).session() as (session, actor):
        page = enterprises.list_enterprises(
            session, actor, city=city, district=district, tier=tier, ai_field=field, name=name, sample=sample, limit=limit, cursor=cursor
        )
    rendering.table(
        "Enterprises", ["credit code", "name", "city", "district", "tiers", "AI fields", "latest revenue (yuan)", "sample"],
        (
            (e.credit_code, e.name, e.city, e.district, ", ".join(e.tiers), ", ".join(e.ai_fields),
             f"{e.revenue[max(e.revenue)]:,} ({max(e.revenue)})" if e.revenue else "", "yes" if e.sample else "")
            for e in page.items
        ),
    )  # fmt: skip
    if page.next_cursor:
        rendering.out.print(f"More: --cursor {page.next_cursor}")


@app.command("import")
def import_file(ctx: typer.Context, file: Annotated[Path, typer.Argument(help="A CSV or XLSX file; row 1 names the columns.")]) -> None:
    """Import enterprises; prints the report and exits non-zero when any row was refused."""
    if not file.is_file():
        raise Invalid(f"The file {str(file)!r} does not exist.")
    with state(ctx).session() as (session, actor), file.open("rb") as stream:
        report = enterprises.import_enterprises(session, actor, stream, file.name)
    rendering.out.print(
        f"{file.name} ({report.format}): {report.rows} rows; {report.created} created, {report.updated} updated, "
        f"{report.unchanged} unchanged, {report.failed} refused"
    )
    if report.errors:
        rendering.table("Refused rows (nothing of these rows was written)", ["row", "column", "problem"], ((e.row, e.column, e.message) for e in report.errors))
        if report.errors_omitted:
            rendering.out.print(f"… and {report.errors_omitted} more problems.")
    if report.failed:
        raise typer.Exit(Invalid.exit_code)


@app.command("export")
def export_file(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Where to write: .csv or .xlsx (the suffix picks the format).")],
    city: Annotated[str | None, typer.Option(help=_FILTER_HELP["city"])] = None,
    district: Annotated[str | None, typer.Option(help=_FILTER_HELP["district"])] = None,
    tier: Annotated[str | None, typer.Option(help=_FILTER_HELP["tier"])] = None,
    field: Annotated[str | None, typer.Option("--field", help=_FILTER_HELP["field"])] = None,
    name: Annotated[str | None, typer.Option(help=_FILTER_HELP["name"])] = None,
    sample: Annotated[bool | None, typer.Option("--sample/--real", help="Only sample records, or only real ones.", show_default=False)] = None,
) -> None:
    """Write the matching records to a CSV or XLSX file that `import` reads back."""
    fmt = file.suffix.lower().lstrip(".")
    if fmt not in ("csv", "xlsx"):
        raise Invalid(f"The export file must end in .csv or .xlsx; got {file.name!r}.")
    with state(ctx).session() as (session, actor):
        data = enterprises.export_enterprises(session, actor, fmt, city=city, district=district, tier=tier, ai_field=field, name=name, sample=sample)
    file.write_bytes(data)
    rendering.out.print(f"Wrote {file} ({len(data):,} bytes)")


@app.command("sample")
def sample(
    ctx: typer.Context,
    count: Annotated[int, typer.Option(help="How many sample enterprises.")] = enterprises.DEFAULT_SAMPLE_COUNT,
    seed: Annotated[int, typer.Option(help="The same seed makes the same enterprises.")] = 0,
) -> None:
    """Add seeded sample enterprises across Zhejiang, marked as sample data (for demos and reports)."""
    with state(ctx).session() as (session, actor):
        report = enterprises.add_sample_enterprises(session, actor, count, seed)
    rendering.out.print(f"Sample enterprises: {report.created} created, {report.updated} updated, {report.unchanged} unchanged")
