"""`aicommons observatory statistics …`: Policy targets, quarterly observations, progress and the regional evaluation."""

from __future__ import annotations

import typer

app = typer.Typer(help="statistics", no_args_is_help=True)
