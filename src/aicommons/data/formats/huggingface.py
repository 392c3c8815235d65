"""Hugging Face datasets folder export ("hf"): the Hub's layout that `datasets.load_dataset(folder)` reads.

    README.md                                   dataset card: YAML header with configs and dataset_info
    data/<split>-00000-of-00001.parquet         one file per split; records without a split → train

Columns: `image` ({"bytes", "path"} structs, the Hub's Image storage) when records have files;
`label` as a ClassLabel (int64 index into the sorted label names, -1 when a record has none)
when any record has a label; `objects` (a list of {"bbox": [x, y, w, h], "category": name}) when
the annotations are labelled boxes, else `annotations` as the manifest's JSON text; then the
records' own fields (width, height, text, tabular columns). Record ids, content hashes and the
boxes' iscrowd/difficult flags are not exported.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.data.exports import exporters
from aicommons.data.formats import is_number
from aicommons.data.manifest import RESERVED

BATCH_ROWS = 256
SPLIT_ORDER = {"train": 0, "validation": 1, "test": 2}
BOX_TYPE = pa.list_(pa.struct([("bbox", pa.list_(pa.float64())), ("category", pa.string())]))
IMAGE_TYPE = pa.struct([("bytes", pa.binary()), ("path", pa.string())])


def _value_dtype(arrow_type: pa.DataType) -> str | None:
    """The `datasets.Value` dtype for an Arrow type, or None when there is no plain one."""
    if pa.types.is_boolean(arrow_type):
        return "bool"
    if pa.types.is_integer(arrow_type):
        return str(arrow_type)  # int8 … uint64
    if pa.types.is_floating(arrow_type):
        return {pa.float16(): "float16", pa.float32(): "float32", pa.float64(): "float64"}[arrow_type]
    if pa.types.is_string(arrow_type):
        return "string"
    if pa.types.is_large_string(arrow_type):
        return "large_string"
    if pa.types.is_binary(arrow_type):
        return "binary"
    if pa.types.is_timestamp(arrow_type):
        return str(arrow_type)  # timestamp[us] or timestamp[us, tz=UTC]
    if pa.types.is_date32(arrow_type):
        return "date32"
    return None


def _box_annotations(table: pa.Table) -> bool | None:
    """True when every annotation is a labelled box, False when some are not, None when there are none."""
    found = False
    for text in table["annotations"].to_pylist():
        if not text:
            continue
        items = json.loads(text)
        for item in items if isinstance(items, list) else [items]:
            bbox = item.get("bbox") if isinstance(item, dict) else None
            if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox) and item.get("label")):
                return False
            found = True
    return True if found else None


@exporters.register("hf")
def export_huggingface(table: pa.Table, blobs: BlobStore, folder: Path) -> None:
    field_names = [n for n in table.column_names if n not in RESERVED]
    has_images = table["file_sha256"].null_count < table.num_rows
    label_names = sorted({v for v in table["label"].to_pylist() if v is not None})
    boxes = _box_annotations(table)

    columns: list[tuple[str, pa.DataType, dict[str, Any]]] = []  # name, storage type, YAML feature
    if has_images:
        columns.append(("image", IMAGE_TYPE, {"dtype": "image"}))
    if label_names:
        names = {str(i): name for i, name in enumerate(label_names)}
        columns.append(("label", pa.int64(), {"dtype": {"class_label": {"names": names}}}))
    if boxes:
        feature = {"list": [{"name": "bbox", "list": "float64"}, {"name": "category", "dtype": "string"}]}
        columns.append(("objects", BOX_TYPE, feature))
    elif boxes is False:
        columns.append(("annotations", pa.string(), {"dtype": "string"}))
    taken = {name for name, _, _ in columns}
    for name in field_names:
        if name in taken:
            raise Invalid(f"The field {name!r} clashes with the Hugging Face column of that name; rename it first.")
        dtype = _value_dtype(table[name].type)
        columns.append((name, table[name].type if dtype else pa.string(), {"dtype": dtype or "string"}))
    schema = pa.schema([(name, arrow_type) for name, arrow_type, _ in columns])

    splits = [s or "train" for s in table["split"].to_pylist()]
    split_names = sorted(set(splits), key=lambda s: (SPLIT_ORDER.get(s, 3), s))
    for name in split_names:
        if not re.fullmatch(r"\w+(\.\w+)*", name):
            raise Invalid(f"The split {name!r} is not a valid Hugging Face split name (letters, digits, '_' and '.').")
    (folder / "data").mkdir()
    counts = {}
    label_index = {name: i for i, name in enumerate(label_names)}
    for split in split_names:
        indices = [i for i, s in enumerate(splits) if s == split]
        counts[split] = len(indices)
        with pq.ParquetWriter(folder / "data" / f"{split}-00000-of-00001.parquet", schema) as writer:
            for start in range(0, len(indices), BATCH_ROWS):
                part = table.take(indices[start : start + BATCH_ROWS])
                writer.write_table(_batch(part, columns, schema, blobs, label_index))

    header = {
        "configs": [{
            "config_name": "default",
            "data_files": [{"split": split, "path": f"data/{split}-*"} for split in split_names],
        }],
        "dataset_info": {
            "features": [{"name": name, **feature} for name, _, feature in columns],
            "splits": [{"name": split, "num_examples": counts[split]} for split in split_names],
        },
    }
    (folder / "README.md").write_text(_card(header, counts, list(label_names)), encoding="utf-8")


def _batch(
    part: pa.Table, columns: list[tuple[str, pa.DataType, dict[str, Any]]], schema: pa.Schema, blobs: BlobStore,
    label_index: dict[str, int],
) -> pa.Table:
    arrays = []
    for name, arrow_type, _ in columns:
        if name == "image":
            values = [
                None if sha is None else {"bytes": blobs.read_bytes(sha), "path": Path(file_name or sha).name}
                for sha, file_name in zip(part["file_sha256"].to_pylist(), part["file_name"].to_pylist(), strict=True)
            ]
            arrays.append(pa.array(values, type=arrow_type))
        elif name == "label":
            arrays.append(pa.array([-1 if v is None else label_index[v] for v in part["label"].to_pylist()], type=arrow_type))
        elif name == "objects":
            values = []
            for text in part["annotations"].to_pylist():
                items = json.loads(text) if text else []
                items = items if isinstance(items, list) else [items]
                values.append([{"bbox": [float(v) for v in i["bbox"]], "category": str(i["label"])} for i in items])
            arrays.append(pa.array(values, type=arrow_type))
        elif name == "annotations":
            arrays.append(part["annotations"].combine_chunks())
        else:
            column = part[name]
            if column.type != arrow_type:
                column = pa.array([None if v is None else str(v) for v in column.to_pylist()], type=arrow_type)
            arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=schema)


def _card(header: dict[str, Any], counts: dict[str, int], label_names: list[str]) -> str:
    front = yaml.safe_dump(header, sort_keys=False, allow_unicode=True)
    lines = [
        "---", front.rstrip("\n"), "---", "", "# Dataset", "",
        "Exported by aicommons in the Hugging Face datasets folder layout; load it with",
        "`datasets.load_dataset(\"path/to/this/folder\")`.", "",
        "| split | records |", "|---|---|",
        *[f"| {split} | {count} |" for split, count in counts.items()],
    ]
    if label_names:
        lines += ["", f"Labels ({len(label_names)}): " + ", ".join(label_names[:50]) + (" …" if len(label_names) > 50 else "")]
    return "\n".join(lines) + "\n"
