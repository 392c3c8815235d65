"""`aicommons observatory …`: the enterprise registry, policy targets and statistics, subsidies and reports."""

from __future__ import annotations

import typer

from aicommons.cli import enterprises, statistics, subsidies

app = typer.Typer(help="The observatory: enterprise registry, policy targets and statistics, regional evaluation, subsidies.", no_args_is_help=True)
app.add_typer(enterprises.app, name="enterprises")
app.add_typer(statistics.app, name="stats")
app.add_typer(subsidies.app, name="subsidies")
