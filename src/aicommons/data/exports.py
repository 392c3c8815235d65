"""Writers that turn a version's manifest back into files, one per format, in a registry.

An exporter writes into an empty folder; the export job packs the folder as a zip blob.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from aicommons.core.blobs import BlobStore
from aicommons.core.registry import Registry
from aicommons.data.manifest import RESERVED

Exporter = Callable[[pa.Table, BlobStore, Path], None]
exporters: Registry[Exporter] = Registry("export format")


def user_view(table: pa.Table) -> pa.Table:
    """The record's own fields with its label and split: what a user expects in a flat file."""
    keep = [n for n in table.column_names if n not in RESERVED] + ["label", "split"]
    for optional in ("file_name", "annotations"):  # only when some record has one
        if table[optional].null_count < table.num_rows:
            keep.append(optional)
    return table.select(keep)


@exporters.register("parquet")
def export_parquet(table: pa.Table, blobs: BlobStore, folder: Path) -> None:
    pq.write_table(user_view(table), folder / "data.parquet")


@exporters.register("csv")
def export_csv(table: pa.Table, blobs: BlobStore, folder: Path) -> None:
    pacsv.write_csv(user_view(table), folder / "data.csv")


@exporters.register("jsonl")
def export_jsonl(table: pa.Table, blobs: BlobStore, folder: Path) -> None:
    with open(folder / "data.jsonl", "w", encoding="utf-8") as out:
        for row in user_view(table).to_pylist():
            out.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")


@exporters.register("imagefolder")
def export_imagefolder(table: pa.Table, blobs: BlobStore, folder: Path) -> None:
    """`<split>/<label>/<file>` (or `<label>/<file>` without splits), files verified as copied."""
    for row in table.select(["record_id", "split", "label", "file_sha256", "file_name"]).to_pylist():
        if row["file_sha256"] is None:
            continue
        name = Path(row["file_name"] or row["record_id"]).name
        parts = [p for p in (row["split"], row["label"] or "unlabelled") if p]
        target = folder.joinpath(*parts, f"{row['record_id']}-{name}")
        target.parent.mkdir(parents=True, exist_ok=True)
        blobs.copy_to(row["file_sha256"], target)
