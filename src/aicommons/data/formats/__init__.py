"""Detection dataset formats (COCO, YOLO, Pascal VOC) and the Hugging Face folder export.

Each format registers with the same registries as the built-in table formats: a reader in
`imports.readers`, a detector in `imports.format_detectors` (consulted by `detect_format`) and an
exporter in `exports.exporters`. Importing this package registers them all.

Every detection format imports to one record shape: one record per image, with the image in the
blob store, fields `width` and `height` (of the stored image), `label` empty, and `annotations` a
list of boxes ``{"label": category name, "bbox": [x, y, w, h]}`` in pixels, (x, y) the top-left
corner. A COCO crowd box also carries ``"iscrowd": 1`` and a VOC difficult object ``"difficult": 1``.
Coordinates are stored as given by COCO; YOLO and VOC coordinates, which need arithmetic, are
rounded to 0.01 px. Integral values are stored as integers, so 10.0 and 10 hash alike.

A box may overshoot the image by at most `EDGE_TOLERANCE` pixels (float rounding in real datasets);
it is then clipped to the edge. Anything further out is refused, as are unknown categories,
missing images and malformed files, with an `Invalid` that names the file and the line or element.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from PIL import Image, UnidentifiedImageError

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.data.imports import IMAGE_SUFFIXES, SPLIT_ALIASES

EDGE_TOLERANCE = 1.0  # pixels a box may overshoot the image before it is refused
DECIMALS = 2  # YOLO and VOC coordinates are rounded to 0.01 px

# Folder and file names exporters use for a manifest split (the YOLO and VOC habit is `val`).
EXPORT_SPLIT_NAMES = {"validation": "val"}


# --- files ------------------------------------------------------------------------------------


def visible_files(root: Path) -> list[Path]:
    """Files under root, without hidden files and macOS `__MACOSX` resource forks, sorted."""
    files = []
    for path in root.rglob("*"):
        parts = path.relative_to(root).parts
        if any(p.startswith(".") or p == "__MACOSX" for p in parts) or not path.is_file():
            continue
        files.append(path)
    return sorted(files)


def rel(path: Path, root: Path) -> str:
    """The path as the user knows it: relative to the upload, with forward slashes."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.name


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def split_from_parts(parts: Iterable[str]) -> str | None:
    """The first folder (or name token) that names a split, normalised to train/validation/test."""
    for part in parts:
        split = SPLIT_ALIASES.get(part.lower())
        if split:
            return split
    return None


def split_from_stem(stem: str) -> str | None:
    """`instances_val2017` → validation: the split named among a file name's letter runs."""
    return split_from_parts(re.findall(r"[a-z]+", stem.lower()))


class ImageFinder:
    """Finds the image an annotation names, among the images of an upload."""

    def __init__(self, root: Path, files: list[Path]):
        self.root = root
        self.by_rel: dict[str, Path] = {}
        self.by_name: dict[str, list[Path]] = {}
        self.by_stem: dict[str, list[Path]] = {}
        for path in files:
            if is_image(path):
                self.by_rel[rel(path, root)] = path
                self.by_name.setdefault(path.name, []).append(path)
                self.by_stem.setdefault(path.stem, []).append(path)

    def find(self, name: str, bases: Iterable[Path], where: str) -> Path | None:
        """`name` under one of `bases` (or their images/ or JPEGImages/), else the one file its path ends like."""
        clean = name.replace("\\", "/").strip().lstrip("/")
        if not clean:
            return None
        for base in bases:
            try:
                base_rel = base.relative_to(self.root).as_posix()
            except ValueError:
                continue  # a folder above the upload
            for sub in ("", "images", "JPEGImages"):
                candidate = os.path.normpath(os.path.join(base_rel, sub, clean))
                found = self.by_rel.get(Path(candidate).as_posix())
                if found is not None:
                    return found
        # The longest tail of the path that matches exactly one file (absolute or foreign paths included).
        parts = [p for p in clean.split("/") if p not in ("", ".")]
        candidates = self.by_name.get(parts[-1], []) if parts else []
        for start in range(len(parts)):
            tail = "/" + "/".join(parts[start:])
            matches = [p for p in candidates if ("/" + rel(p, self.root)).endswith(tail)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                shown = ", ".join(rel(p, self.root) for p in matches[:3])
                raise Invalid(f"{where} names the image {name!r}, which matches several files ({shown}); make the path unique.")
        return None

    def find_stem(self, stem: str, preferred: Iterable[Path]) -> Path | None:
        """An image with this stem: in a preferred folder first, else the only one anywhere."""
        matches = self.by_stem.get(stem, [])
        for folder in preferred:
            for path in matches:
                if path.parent == folder:
                    return path
        return matches[0] if len(matches) == 1 else None


# --- boxes ------------------------------------------------------------------------------------


def number(value: float, decimals: int | None = None) -> int | float:
    """A coordinate as stored: rounded if asked, and an int when it is integral."""
    value = float(value)
    if decimals is not None:
        value = round(value, decimals)
        if value == 0:
            value = 0.0  # no -0.0
    return int(value) if value.is_integer() else value


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_box(
    x: float, y: float, w: float, h: float, width: int, height: int, where: str, decimals: int | None = None
) -> list[int | float]:
    """A pixel box [x, y, w, h] inside a width×height image, clipped within the tolerance; else Invalid."""
    if w < 0 or h < 0:
        raise Invalid(f"{where} has a box with a negative width or height ({_show(w)} × {_show(h)}).")
    tol = EDGE_TOLERANCE
    if x < -tol or y < -tol or x + w > width + tol or y + h > height + tol:
        raise Invalid(
            f"{where} has the box [x={_show(x)}, y={_show(y)}, w={_show(w)}, h={_show(h)}], which lies outside "
            f"the {width}×{height} image."
        )
    if x < 0:
        w, x = w + x, 0.0
    if y < 0:
        h, y = h + y, 0.0
    w = max(0.0, min(w, width - x))
    h = max(0.0, min(h, height - y))
    return [number(x, decimals), number(y, decimals), number(w, decimals), number(h, decimals)]


def _show(value: float) -> str:
    return f"{value:g}"


def format_number(value: float) -> str:
    """A coordinate for a text format: an integer, or up to 6 decimals without trailing zeros."""
    value = round(float(value), 6)
    if value.is_integer():
        return str(int(value))
    return f"{value:.6f}".rstrip("0").rstrip(".")


# --- exporting --------------------------------------------------------------------------------


@dataclass
class ImageRow:
    """A manifest row as the detection exporters need it."""

    record_id: str
    split: str | None
    file_sha256: str
    file_name: str | None
    boxes: list[dict[str, Any]]


def image_rows(table: pa.Table, fmt: str) -> list[ImageRow]:
    """The rows with an image, their annotations checked to be boxes; Invalid when there are none."""
    rows = []
    for row in table.select(["record_id", "split", "file_sha256", "file_name", "annotations"]).to_pylist():
        if row["file_sha256"] is None:
            continue
        boxes = json.loads(row["annotations"]) if row["annotations"] else []
        if not isinstance(boxes, list):
            boxes = [boxes]
        for box in boxes:
            bbox = box.get("bbox") if isinstance(box, dict) else None
            if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox)) or not box.get("label"):
                raise Invalid(
                    f"Record {row['record_id']} has an annotation that is not a labelled box ({str(box)[:80]}); "
                    f"a {fmt} export needs {{'label': ..., 'bbox': [x, y, w, h]}} annotations."
                )
        rows.append(
            ImageRow(
                record_id=row["record_id"], split=row["split"] or None, file_sha256=row["file_sha256"],
                file_name=row["file_name"], boxes=boxes,
            )
        )
    if not rows:
        raise Invalid(f"A {fmt} export needs an image dataset; this version holds no images.")
    return rows


def categories_of(rows: list[ImageRow]) -> list[str]:
    return sorted({str(box["label"]) for row in rows for box in row.boxes})


def split_groups(rows: list[ImageRow]) -> Iterator[tuple[str | None, list[ImageRow]]]:
    """Rows by split: no split first, then train, validation, test, then any other split by name."""
    order = {None: 0, "train": 1, "validation": 2, "test": 3}
    groups: dict[str | None, list[ImageRow]] = {}
    for row in rows:
        groups.setdefault(row.split, []).append(row)
    for split in sorted(groups, key=lambda s: (order.get(s, 4), s or "")):
        yield split, groups[split]


def export_split_name(split: str) -> str:
    name = EXPORT_SPLIT_NAMES.get(split, split)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name) or name in {".", ".."}:
        raise Invalid(f"The split {split!r} cannot name a folder; use letters, digits, '_', '-' or '.'.")
    return name


class Names:
    """File names unique in one folder (by stem, ignoring case): a clash gets the record id in front."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def take(self, file_name: str | None, record_id: str) -> str:
        name = Path((file_name or "").replace("\\", "/")).name
        if not name or name.startswith(".") or not is_image(Path(name)):
            name = f"{record_id}{Path(name).suffix if is_image(Path(name)) else '.png'}"
        if Path(name).stem.lower() in self.taken:
            name = f"{record_id}-{name}"
        self.taken.add(Path(name).stem.lower())
        return name


def copy_image(blobs: BlobStore, row: ImageRow, target: Path) -> tuple[int, int, int]:
    """Copy the verified image; return its width, height and number of bands."""
    target.parent.mkdir(parents=True, exist_ok=True)
    blobs.copy_to(row.file_sha256, target)
    try:
        with Image.open(target) as image:
            width, height = image.size
            bands = len(image.getbands())
    except (UnidentifiedImageError, OSError) as exc:
        raise Invalid(f"Record {row.record_id}'s file is not a readable image: {exc}.") from None
    return width, height, bands


from aicommons.data.formats import coco, huggingface, voc, yolo  # noqa: E402  (registers the formats)

__all__ = ["EDGE_TOLERANCE", "coco", "huggingface", "voc", "yolo"]
