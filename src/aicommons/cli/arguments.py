"""Parsing what users type on the command line, shared by the command groups."""

from __future__ import annotations

from pathlib import Path

from aicommons.core.errors import Invalid


def text_or_file(value: str) -> str:
    """An option's text, or a file's when it is written @PATH (long texts: guidelines, reports)."""
    if value.startswith("@"):
        path = Path(value[1:])
        if not path.is_file():
            raise Invalid(f"No file {str(path)!r} to read the text from.")
        return path.read_text(encoding="utf-8")
    return value
