"""Model cards in the Hugging Face format: Markdown with a YAML header, plus a Chinese name and description.

`render_card` writes a card; `parse_card` reads it back exactly (``parse_card(render_card(c)) == c``)
and also reads cards written elsewhere: known YAML keys become fields, unknown ones are kept in
`extra`, and sections are found by their headings.
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from aicommons.core.errors import Invalid

HEADER_KEYS = ("license", "datasets", "base_model", "tags", "language", "pipeline_tag", "name_zh", "description_zh", "model-index")

# Section headings (lower case) each field is read from; the first is the one `render_card` writes.
SECTIONS = {
    "intended_use": ("intended use", "intended uses", "uses", "direct use", "intended uses & limitations", "用途"),
    "limitations": ("limitations", "bias, risks, and limitations", "risks and limitations", "limitations and bias", "局限性"),
    "training_data": ("training data", "training dataset", "training datasets", "训练数据"),
}
ZH_HEADING = "中文"
ZH_NAME = "**名称：**"


class CardData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    summary: str = ""
    intended_use: str = ""
    limitations: str = ""
    training_data: str = ""
    metrics: dict[str, float] = Field(default_factory=dict)
    license: str | None = None
    datasets: list[str] = Field(default_factory=list)
    base_model: str | None = None
    tags: list[str] = Field(default_factory=list)
    language: list[str] = Field(default_factory=list)
    pipeline_tag: str | None = None
    name_zh: str | None = None
    description_zh: str | None = None
    extra: dict[str, Any] = Field(default_factory=dict)  # YAML header keys aicommons does not know, kept as they were

    @field_validator("title", "summary", "intended_use", "limitations", "training_data")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("name_zh", "description_zh", "license", "base_model", "pipeline_tag")
    @classmethod
    def _strip_optional(cls, value: str | None) -> str | None:
        return (value.strip() or None) if value is not None else None

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value:
            raise ValueError("the title must be one line")
        return value

    @model_validator(mode="after")
    def _extra_keys(self) -> CardData:
        clash = sorted(set(self.extra) & set(HEADER_KEYS))
        if clash:
            raise ValueError(f"extra must not hold keys that are card fields: {', '.join(clash)}")
        return self


# --- render ----------------------------------------------------------------------------------------


def render_card(card: CardData) -> str:
    header: dict[str, Any] = {}
    if card.license:
        header["license"] = card.license
    for key in ("datasets", "base_model", "tags", "language", "pipeline_tag", "name_zh", "description_zh"):
        value = getattr(card, key)
        if value:
            header[key] = list(value) if isinstance(value, list) else value
    if card.metrics:
        result: dict[str, Any] = {"task": {"type": card.pipeline_tag or "other"}}
        if card.datasets:
            result["dataset"] = {"name": card.datasets[0], "type": card.datasets[0]}
        result["metrics"] = [{"type": k, "value": v, "name": k} for k, v in card.metrics.items()]
        header["model-index"] = [{"name": card.title, "results": [result]}]
    header.update(card.extra)
    try:
        yaml_text = yaml.safe_dump(header, sort_keys=False, allow_unicode=True, width=1000) if header else ""
    except yaml.YAMLError as exc:
        raise Invalid(f"The card's extra keys cannot be written as YAML: {exc}.") from None

    parts = [f"# {card.title}"]
    if card.summary:
        parts.append(card.summary)
    if card.name_zh or card.description_zh:
        zh = [f"## {ZH_HEADING}"]
        if card.name_zh:
            zh.append(f"{ZH_NAME} {card.name_zh}")
        if card.description_zh:
            zh.append(card.description_zh)
        parts.append("\n\n".join(zh))
    for key, headings in SECTIONS.items():
        text = getattr(card, key)
        if text:
            parts.append(f"## {headings[0].capitalize()}\n\n{text}")
    if card.metrics:
        rows = "\n".join(f"| {_cell(k)} | {_number(v)} |" for k, v in card.metrics.items())
        parts.append(f"## Metrics\n\n| metric | value |\n|---|---|\n{rows}")
    return f"---\n{yaml_text}---\n\n" + "\n\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _number(value: float) -> str:
    return repr(float(value))


# --- parse -----------------------------------------------------------------------------------------


def parse_card(text: str) -> CardData:
    """Read a Hugging Face style card; `Invalid` names the problem when its YAML header is broken."""
    if not isinstance(text, str):
        raise Invalid(f"A model card must be text; got {type(text).__name__} instead.")
    header, body = _split_header(text.lstrip("\ufeff"))
    fields: dict[str, Any] = {}
    extra = {k: v for k, v in header.items() if k not in HEADER_KEYS}

    if header.get("license") is not None:
        fields["license"] = _scalar(header, "license")
    for key in ("datasets", "tags", "language"):
        if header.get(key) is not None:
            fields[key] = _str_list(header, key)
    base = header.get("base_model")
    if isinstance(base, list):
        base = base[0] if base else None
    if base is not None:
        fields["base_model"] = _scalar({"base_model": base}, "base_model")
    for key in ("pipeline_tag", "name_zh", "description_zh"):
        if header.get(key) is not None:
            fields[key] = _scalar(header, key)
    metrics, index_title = _model_index_metrics(header.get("model-index"))

    sections, title, summary = _sections(body)
    fields["title"] = title or index_title or "Untitled model"
    fields["summary"] = summary
    for key, headings in SECTIONS.items():
        for heading in headings:
            if heading in sections:
                fields[key] = sections[heading]
                break
    if ZH_HEADING in sections and not ("name_zh" in fields or "description_zh" in fields):
        zh = sections[ZH_HEADING]
        if zh.startswith(ZH_NAME):
            first, _, rest = zh.partition("\n")
            fields["name_zh"] = first[len(ZH_NAME):].strip()
            zh = rest.strip()
        if zh:
            fields["description_zh"] = zh
    if not metrics and "metrics" in sections:
        metrics = _table_metrics(sections["metrics"])
    fields["metrics"] = metrics
    fields["extra"] = extra
    try:
        return CardData(**fields)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'card'}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"The model card cannot be read: {problems}.") from None


def _split_header(text: str) -> tuple[dict[str, Any], str]:
    lines = text.split("\n")
    if not lines or lines[0].rstrip() != "---":
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].rstrip() == "---":
            break
    else:
        raise Invalid("The model card's YAML header starts with '---' but no closing '---' line ends it.")
    source = "\n".join(lines[1:i])
    try:
        header = yaml.safe_load(source) if source.strip() else {}
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 2}, column {where.column + 1}" if where is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise Invalid(f"The model card's YAML header is not valid YAML: {problem}{at}.") from None
    if header is None:
        header = {}
    if not isinstance(header, dict):
        raise Invalid(f"The model card's YAML header must be a mapping of keys to values; got a {type(header).__name__} instead.")
    return {str(k): v for k, v in header.items()}, "\n".join(lines[i + 1:])


def _scalar(header: dict[str, Any], key: str) -> str:
    value = header[key]
    if isinstance(value, (dict, list)):
        raise Invalid(f"The {key!r} key of the model card's YAML header must be a single value; got {value!r} instead.")
    return str(value)


def _str_list(header: dict[str, Any], key: str) -> list[str]:
    value = header[key]
    items = value if isinstance(value, list) else [value]
    if any(isinstance(v, (dict, list)) for v in items):
        raise Invalid(f"The {key!r} key of the model card's YAML header must be a list of names; got {value!r} instead.")
    return [str(v) for v in items if v is not None]


def _model_index_metrics(index: Any) -> tuple[dict[str, float], str | None]:
    metrics: dict[str, float] = {}
    title = None
    if not isinstance(index, list):
        return metrics, title
    for entry in index:
        if not isinstance(entry, dict):
            continue
        title = title or (str(entry["name"]) if entry.get("name") else None)
        for result in entry.get("results") or []:
            for metric in (result or {}).get("metrics") or [] if isinstance(result, dict) else []:
                if not isinstance(metric, dict):
                    continue
                key = metric.get("type") or metric.get("name")
                value = _as_float(metric.get("value"))
                if key is not None and value is not None:
                    metrics.setdefault(str(key), value)
    return metrics, title


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")


def _sections(body: str) -> tuple[dict[str, str], str, str]:
    """({lower-case heading: text}, title, summary). A section runs to the next heading of its level or above."""
    lines = body.split("\n")
    headings: list[tuple[int, int, str]] = []  # (line index, level, text)
    fence = False
    for i, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            fence = not fence
        elif not fence and (m := _HEADING.match(line)):
            headings.append((i, len(m.group(1)), m.group(2)))
    title = ""
    summary_start, summary_end = 0, len(lines)
    first_h1 = next((h for h in headings if h[1] == 1), None)
    if first_h1 is not None:
        title = first_h1[2].strip()
        summary_start = first_h1[0] + 1
    later = [h for h in headings if h[0] >= summary_start]
    if later:
        summary_end = later[0][0]
    summary = "\n".join(lines[summary_start:summary_end]).strip()
    summary = re.sub(r"^<!--.*?-->\s*", "", summary, flags=re.DOTALL).strip()

    sections: dict[str, str] = {}
    for n, (index, level, text) in enumerate(headings):
        end = next((h[0] for h in headings[n + 1:] if h[1] <= level), len(lines))
        key = text.strip().rstrip(":").strip().lower()
        if key and key not in sections:
            sections[key] = "\n".join(lines[index + 1:end]).strip()
    return sections, title, summary


def _table_metrics(text: str) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
        if len(cells) >= 2 and (value := _as_float(cells[1])) is not None:
            metrics[cells[0].replace("\\|", "|")] = value
    return metrics
