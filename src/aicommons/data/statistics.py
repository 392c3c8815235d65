"""Per-version statistics, computed once when a version is written."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from aicommons.data.manifest import RESERVED

BINS = 10


def histogram(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"edges": [], "counts": [], "min": None, "max": None, "mean": None}
    counts, edges = np.histogram(np.asarray(values, dtype=float), bins=BINS)
    return {
        "edges": [round(float(e), 3) for e in edges],
        "counts": [int(c) for c in counts],
        "min": float(np.min(values)),
        "max": float(np.max(values)),
        "mean": round(float(np.mean(values)), 3),
    }


def _counts(column: pa.ChunkedArray) -> dict[str, int]:
    counts = Counter("(none)" if v is None else str(v) for v in column.to_pylist())
    return dict(sorted(counts.items()))


def _column_summary(column: pa.ChunkedArray) -> dict[str, Any]:
    summary: dict[str, Any] = {"type": str(column.type), "nulls": column.null_count}
    if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
        valid = column.drop_null()
        if len(valid):
            summary.update(min=float(pc.min(valid).as_py()), max=float(pc.max(valid).as_py()), mean=round(float(pc.mean(valid).as_py()), 4))
    elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        top = Counter(v for v in column.to_pylist() if v is not None).most_common(5)
        summary["distinct"] = len(set(column.drop_null().to_pylist()))
        summary["top"] = [[value[:100], count] for value, count in top]
    return summary


def compute(table: pa.Table) -> dict[str, Any]:
    stats: dict[str, Any] = {
        "record_count": table.num_rows,
        "by_label": _counts(table["label"]),
        "by_split": _counts(table["split"]),
        "columns": {name: _column_summary(table[name]) for name in table.column_names if name not in RESERVED},
    }
    if "text" in table.column_names:
        lengths = [len(t) for t in table["text"].to_pylist() if isinstance(t, str)]
        stats["text_length"] = histogram(lengths)
    if "width" in table.column_names and "height" in table.column_names:
        stats["image_width"] = histogram([w for w in table["width"].to_pylist() if w is not None])
        stats["image_height"] = histogram([h for h in table["height"].to_pylist() if h is not None])
    return stats
