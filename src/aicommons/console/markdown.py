"""Model cards as HTML: CommonMark with tables, raw HTML disabled (a card is written by its
uploader, so it must not inject markup into the page), the YAML header shown as a key list."""

from __future__ import annotations

from typing import Any

import yaml
from markdown_it import MarkdownIt
from markupsafe import Markup

_renderer = MarkdownIt("commonmark", {"html": False}).enable("table")


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The YAML header of a card (or {} when it has none or it is not a mapping) and its body."""
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() == "---":
            try:
                header = yaml.safe_load("\n".join(lines[1:index]))
            except yaml.YAMLError:
                header = None
            return (header if isinstance(header, dict) else {}), "\n".join(lines[index + 1:])
    return {}, text


def card_html(text: str) -> Markup:
    _, body = split_front_matter(text)
    return Markup(_renderer.render(body))
