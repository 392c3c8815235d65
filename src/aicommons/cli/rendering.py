"""Rich output for the CLI: tables, key/value panels, errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# Piped output (scripts, grep) gets wide lines rather than names wrapped at 80 columns.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left")
    for column in columns:
        if column == "id":  # ids are copied into the next command: keep them whole and on one line
            grid.add_column(column, no_wrap=True, min_width=30)
        else:
            grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    out.print(grid)


def record(model: BaseModel) -> None:
    grid = Table(show_header=False, box=None)
    grid.add_column(style="bold")
    grid.add_column()
    for key, value in model.model_dump(mode="json").items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
        grid.add_row(key, "" if shown is None else str(shown))
    out.print(grid)


def as_json(value: BaseModel | list[BaseModel]) -> None:
    data = [v.model_dump(mode="json") for v in value] if isinstance(value, list) else value.model_dump(mode="json")
    print(json.dumps(data, ensure_ascii=False, indent=2))


def error(message: str) -> None:
    # Messages quote user input and shapes like [batch, 30]: never read them as Rich markup.
    err.print(f"[bold red]Error:[/] {escape(message)}", highlight=False)
