"""`aicommons observatory …`: the enterprise registry, policy targets and statistics, subsidies and reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aicommons.cli import enterprises, rendering, statistics, subsidies
from aicommons.cli.state import state
from aicommons.core.errors import Invalid
from aicommons.observatory import reports

app = typer.Typer(help="The observatory: enterprise registry, policy targets and statistics, regional evaluation, subsidies.", no_args_is_help=True)
app.add_typer(enterprises.app, name="enterprises")
app.add_typer(statistics.app, name="stats")
app.add_typer(subsidies.app, name="subsidies")


@app.command("report")
def report(
    ctx: typer.Context,
    quarter: Annotated[str | None, typer.Option("--quarter", help="Write the statistics bulletin of this quarter, like 2026Q3.")] = None,
    annual: Annotated[int | None, typer.Option("--annual", help="Write the industry development report of this year, like 2026.")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the .html and .pdf files (created if missing).")] = Path("."),
) -> None:
    """Write the quarterly bulletin and/or the annual report, each as HTML and PDF, and print their paths."""
    if quarter is None and annual is None:
        raise Invalid("Give --quarter (like 2026Q3), --annual (like 2026) or both: there is nothing to report otherwise.")
    cli = state(ctx)
    publications = []
    with cli.session() as (session, actor):
        if quarter is not None:
            publications += reports.publish_bulletin(session, actor, quarter, reports.FORMATS)
        if annual is not None:
            publications += reports.publish_annual(session, actor, annual, reports.FORMATS)
    out.mkdir(parents=True, exist_ok=True)
    for publication in sorted(publications, key=lambda p: p.filename):
        path = out / publication.filename
        path.write_bytes(publication.content)
        rendering.out.print(f"{path} ({len(publication.content):,} bytes)", highlight=False)
