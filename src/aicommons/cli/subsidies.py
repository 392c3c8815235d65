"""`aicommons observatory subsidies …`: Subsidy rules of 002 三 and applications under them."""

from __future__ import annotations

import typer

app = typer.Typer(help="subsidies", no_args_is_help=True)
