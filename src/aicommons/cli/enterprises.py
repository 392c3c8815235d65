"""`aicommons observatory enterprises …`: The enterprise registry (培育库)."""

from __future__ import annotations

import typer

app = typer.Typer(help="enterprises", no_args_is_help=True)
