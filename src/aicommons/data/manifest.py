"""A version's manifest: one Parquet row per record, stored as a blob.

Reserved columns come first; a record's own fields follow as typed columns (tabular columns,
`text`, image `width`/`height`, ...). Files (images) live in the blob store and are referenced by
digest. `record_id` is stable across versions, so versions can be diffed record by record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid

RESERVED = ("record_id", "split", "label", "file_sha256", "file_name", "annotations", "content_hash")
_RESERVED_TYPES = {name: pa.string() for name in RESERVED}


@dataclass
class Record:
    """One record on its way into a manifest."""

    fields: dict[str, Any]
    label: str | None = None
    split: str | None = None
    file_sha256: str | None = None
    file_name: str | None = None
    annotations: list[dict[str, Any]] | None = None
    record_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def content_hash(self) -> str:
        body = {"fields": self.fields, "label": self.label, "file": self.file_sha256, "annotations": self.annotations}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


def check_field_names(names: Iterable[str]) -> None:
    clash = sorted(set(names) & set(RESERVED))
    if clash:
        raise Invalid(f"Field names {clash} are reserved for the manifest ({', '.join(RESERVED)}); rename them.")


def build_table(records: list[Record]) -> pa.Table:
    """Records to an Arrow table; record ids are assigned in order where missing."""
    field_names: list[str] = []
    for record in records:
        for name in record.fields:
            if name not in field_names:
                field_names.append(name)
    check_field_names(field_names)
    columns: dict[str, list[Any]] = {name: [] for name in RESERVED}
    for name in field_names:
        columns[name] = []
    for index, record in enumerate(records):
        columns["record_id"].append(record.record_id or f"r{index:08d}")
        columns["split"].append(record.split)
        columns["label"].append(None if record.label is None else str(record.label))
        columns["file_sha256"].append(record.file_sha256)
        columns["file_name"].append(record.file_name)
        columns["annotations"].append(None if record.annotations is None else json.dumps(record.annotations, ensure_ascii=False))
        columns["content_hash"].append(record.content_hash())
        for name in field_names:
            columns[name].append(record.fields.get(name))
    arrays = {}
    for name, values in columns.items():
        try:
            arrays[name] = pa.array(values, type=_RESERVED_TYPES.get(name))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            arrays[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    return pa.table(arrays)


def table_records(table: pa.Table) -> list[Record]:
    """The inverse of build_table, for operations that rewrite a version."""
    field_names = [n for n in table.column_names if n not in RESERVED]
    records = []
    for row in table.to_pylist():
        records.append(
            Record(
                fields={name: row[name] for name in field_names},
                label=row["label"],
                split=row["split"],
                file_sha256=row["file_sha256"],
                file_name=row["file_name"],
                annotations=json.loads(row["annotations"]) if row["annotations"] else None,
                record_id=row["record_id"],
            )
        )
    return records


def columns_of(table: pa.Table) -> list[dict[str, str]]:
    return [{"name": f.name, "type": str(f.type)} for f in table.schema if f.name not in RESERVED]


def store_table(blobs: BlobStore, table: pa.Table, workdir: Path) -> str:
    path = workdir / "manifest.parquet"
    pq.write_table(table, path, compression="zstd")
    return blobs.put_file(path).sha256


class ManifestCache:
    """Local Parquet copies of manifests (verified on copy), for DuckDB and pyarrow to read."""

    def __init__(self, blobs: BlobStore, directory: Path):
        self.blobs = blobs
        self.directory = directory

    def path(self, sha256: str) -> Path:
        target = self.directory / f"{sha256}.parquet"
        if not target.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            self.blobs.copy_to(sha256, target)
        return target

    def table(self, sha256: str) -> pa.Table:
        return pq.read_table(self.path(sha256))


def json_safe(row: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
