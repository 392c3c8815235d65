"""Readers that turn files into manifest records, one per format, in a registry.

Formats register like plugins; `detect_format` picks one for a file or an extracted folder.
Every reader refuses bad input with an error that names the file and, where it can, the line.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.core.registry import Registry
from aicommons.data.manifest import Record

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
# Folder names that name a split, and the manifest's name for it.
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "val": "validation",
    "valid": "validation",
    "validation": "validation",
    "test": "test",
    "testing": "test",
}

Progress = Callable[[float, str], None]


class ImportOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: str = Field("auto", max_length=20, description="auto, csv, jsonl, parquet, imagefolder, coco, yolo, voc.")
    label_field: str | None = Field("label", max_length=100, description="Column holding the label, if any.")
    split_field: str | None = Field("split", max_length=100, description="Column holding the split, if any.")
    text_field: str | None = Field(None, max_length=100, description="Column holding the text (stored as `text`).")

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str) -> str:
        if value != "auto":
            readers.get(value)  # raises Invalid naming the known formats
        return value


Reader = Callable[[Path, ImportOptions, BlobStore, Progress], list[Record]]
readers: Registry[Reader] = Registry("import format")
# A detector says whether an extracted folder is in its format (COCO, YOLO, VOC, …).
format_detectors: Registry[Callable[[Path, list[Path]], bool]] = Registry("format detector")


def detect_format(path: Path) -> str:
    if path.is_file():
        suffix = path.suffix.lower()
        by_suffix = {".csv": "csv", ".tsv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}
        if suffix in by_suffix:
            return by_suffix[suffix]
        raise Invalid(f"Cannot tell the format of {path.name!r}; name it .csv, .jsonl or .parquet, or pass a format.")
    files = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]
    for candidate in format_detectors.names():
        if format_detectors.get(candidate)(path, files):
            return candidate
    tables = [p for p in files if p.suffix.lower() in {".csv", ".jsonl", ".parquet", ".ndjson", ".tsv"}]
    if len(tables) == 1 and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in files):
        return detect_format(tables[0])
    if any(p.suffix.lower() in IMAGE_SUFFIXES for p in files):
        return "imagefolder"
    raise Invalid("The upload holds no file aicommons can import (CSV, JSONL, Parquet, images, COCO, YOLO or VOC).")


def read(path: Path, options: ImportOptions, blobs: BlobStore, progress: Progress) -> list[Record]:
    fmt = detect_format(path) if options.format == "auto" else options.format
    if path.is_dir() and fmt in {"csv", "jsonl", "parquet"}:
        tables = [p for p in path.rglob("*") if p.is_file() and detect_format_quietly(p) == fmt]
        if len(tables) != 1:
            raise Invalid(f"Expected exactly one {fmt} file in the upload; found {len(tables)}.")
        path = tables[0]
    records = readers.get(fmt)(path, options, blobs, progress)
    if not records:
        raise Invalid("The upload holds no records.")
    return records


def detect_format_quietly(path: Path) -> str | None:
    try:
        return detect_format(path)
    except Invalid:
        return None


# --- tables -----------------------------------------------------------------------------------


def _rows_to_records(rows: list[dict[str, Any]], options: ImportOptions) -> list[Record]:
    records = []
    for row in rows:
        label = row.pop(options.label_field, None) if options.label_field else None
        split = row.pop(options.split_field, None) if options.split_field else None
        if options.text_field:
            if options.text_field not in row:
                raise Invalid(f"The text field {options.text_field!r} is not among the columns {sorted(row)}.")
            row["text"] = row.pop(options.text_field)
        records.append(
            Record(
                fields=row,
                label=None if label is None else str(label),
                split=split,
                # Written by our own flat exports: taken back, so an export re-imports as it was.
                file_name=row.pop("file_name", None),
                annotations=_annotations(row.pop("annotations", None)),
            )
        )
    return records


def _annotations(value: Any) -> list[dict[str, Any]] | None:
    if value is None or isinstance(value, list):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, json.JSONDecodeError):
        raise Invalid(f"The 'annotations' column must hold JSON lists of objects; got {str(value)[:80]!r}.") from None
    if not isinstance(parsed, list):
        raise Invalid(f"The 'annotations' column must hold JSON lists of objects; got {str(value)[:80]!r}.")
    return parsed


def _table_rows(table: pa.Table, options: ImportOptions) -> list[Record]:
    return _rows_to_records(table.to_pylist(), options)


@readers.register("csv")
def read_csv(path: Path, options: ImportOptions, blobs: BlobStore, progress: Progress) -> list[Record]:
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        table = pacsv.read_csv(path, parse_options=pacsv.ParseOptions(delimiter=delimiter))
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise Invalid(f"{path.name!r} is not a readable CSV file: {exc}") from None
    progress(0.5, f"read {table.num_rows} rows")
    return _table_rows(table, options)


@readers.register("jsonl")
def read_jsonl(path: Path, options: ImportOptions, blobs: BlobStore, progress: Progress) -> list[Record]:
    rows = []
    with open(path, encoding="utf-8", errors="strict") as lines:
        try:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise Invalid(f"{path.name!r} line {number} is not valid JSON: {exc.msg}.") from None
                if not isinstance(row, dict):
                    raise Invalid(f"{path.name!r} line {number} is not a JSON object.")
                rows.append(row)
        except UnicodeDecodeError:
            raise Invalid(f"{path.name!r} is not UTF-8 text.") from None
    return _rows_to_records(rows, options)


@readers.register("parquet")
def read_parquet(path: Path, options: ImportOptions, blobs: BlobStore, progress: Progress) -> list[Record]:
    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise Invalid(f"{path.name!r} is not a readable Parquet file: {exc}") from None
    return _table_rows(table, options)


# --- images -----------------------------------------------------------------------------------


def image_record(path: Path, blobs: BlobStore, *, root: Path, label: str | None, split: str | None) -> Record:
    data = path.read_bytes()
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise Invalid(f"{path.relative_to(root)} is not a readable image: {exc}.") from None
    ref = blobs.put_bytes(data)
    return Record(
        fields={"width": width, "height": height},
        label=label,
        split=split,
        file_sha256=ref.sha256,
        file_name=str(path.relative_to(root)),
    )


@readers.register("imagefolder")
def read_imagefolder(root: Path, options: ImportOptions, blobs: BlobStore, progress: Progress) -> list[Record]:
    """`root/<class>/<image>`, or `root/<split>/<class>/<image>` when the top folders are splits."""
    if root.is_file():
        raise Invalid("An ImageFolder import needs a folder or an archive of one, not a single file.")
    images = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise Invalid("The ImageFolder holds no images.")
    records = []
    for index, path in enumerate(images):
        parts = path.relative_to(root).parts
        split = SPLIT_ALIASES.get(parts[0].lower()) if len(parts) >= 3 else None
        class_parts = parts[1:-1] if split else parts[:-1]
        label = class_parts[-1] if class_parts else None
        records.append(image_record(path, blobs, root=root, label=label, split=split))
        if index % 200 == 0:
            progress(index / len(images), f"{index}/{len(images)} images")
    return records
