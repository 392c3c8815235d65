"""YOLO detection (Ultralytics / Darknet layout): import a folder, export data.yaml + images/ + labels/.

Import: every image under an `images` folder is one record; its boxes are in the .txt file at the
same place under the matching `labels` folder (`images/train/a.jpg` → `labels/train/a.txt`,
`train/images/a.jpg` → `train/labels/a.txt`), one `class cx cy w h` line a box, normalised to the
image size. An image without a label file has no boxes; a label file without an image is refused.
The split is the first folder named train/val/valid/validation/test. Class names come from
`data.yaml` (or another YAML file with `names`, a list or an {id: name} mapping) or, failing
that, `classes.txt` / `obj.names` with one name a line. Pixel boxes are rounded to 0.01 px.

Export: `data.yaml` (train/val/test, nc, names), `images/<split>/` and `labels/<split>/` (`val` for
validation; records without a split go straight into `images/` and `labels/`). Every image gets a
label file, empty when it has no boxes. Class ids follow the sorted category names.
"""

from __future__ import annotations

import math
from pathlib import Path, PurePosixPath
from typing import Any

import pyarrow as pa
import yaml

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.data.exports import exporters
from aicommons.data.formats import (
    DECIMALS,
    Names,
    categories_of,
    check_box,
    copy_image,
    export_split_name,
    image_rows,
    is_image,
    rel,
    split_from_parts,
    split_groups,
    visible_files,
)
from aicommons.data.imports import ImportOptions, Progress, format_detectors, image_record, readers
from aicommons.data.manifest import Record

NAME_FILES = ("classes.txt", "obj.names", "classes.names")
MAX_META_BYTES = 1 << 20


def _dirs(path: Path, root: Path) -> list[str]:
    return [p.lower() for p in path.relative_to(root).parts[:-1]]


@format_detectors.register("yolo")
def looks_like_yolo(root: Path, files: list[Path]) -> bool:
    """Images under an `images` folder and .txt files under a `labels` folder."""
    has_images = any(is_image(p) and "images" in _dirs(p, root) for p in files)
    has_labels = any(p.suffix.lower() == ".txt" and "labels" in _dirs(p, root) for p in files)
    return has_images and has_labels


def _swap_last(parts: tuple[str, ...], old: str, new: str) -> tuple[str, ...] | None:
    """`parts` with its last folder named `old` (any case) renamed `new`; None without one."""
    folders = [p.lower() for p in parts[:-1]]
    if old not in folders:
        return None
    index = len(folders) - 1 - folders[::-1].index(old)
    return parts[:index] + (new,) + parts[index + 1 :]


@readers.register("yolo")
def read_yolo(root: Path, options: ImportOptions, blobs: BlobStore, progress: Progress) -> list[Record]:
    if root.is_file():
        raise Invalid("A YOLO import needs a folder (or an archive) with images/ and labels/ folders.")
    files = visible_files(root)
    names, names_file = _class_names(root, files)
    labels = {
        rel(p, root).lower(): p
        for p in files
        if p.suffix.lower() == ".txt" and "labels" in _dirs(p, root) and p.name.lower() not in NAME_FILES
    }
    images = [p for p in files if is_image(p) and "images" in _dirs(p, root)]
    if not images:
        raise Invalid("The YOLO upload holds no images under an images/ folder.")
    used: set[str] = set()
    records = []
    for index, path in enumerate(images):
        parts = _swap_last(path.relative_to(root).parts, "images", "labels")
        assert parts is not None
        label_rel = str(PurePosixPath(*parts).with_suffix(".txt")).lower()
        folders = [p for p in path.relative_to(root).parts[:-1] if p.lower() != "images"]
        record = image_record(path, blobs, root=root, label=None, split=split_from_parts(folders))
        label_path = labels.get(label_rel)
        boxes: list[dict[str, Any]] = []
        if label_path is not None:
            used.add(label_rel)
            boxes = _read_labels(label_path, root, names, names_file, record.fields["width"], record.fields["height"])
        record.annotations = boxes
        records.append(record)
        if index % 200 == 0:
            progress(index / len(images), f"{index}/{len(images)} images")
    orphans = sorted(set(labels) - used)
    if orphans:
        path = labels[orphans[0]]
        image_parts = _swap_last(path.relative_to(root).parts, "labels", "images")
        expected = str(PurePosixPath(*image_parts).with_suffix(".*")) if image_parts else "an image"
        more = f" (and {len(orphans) - 1} more)" if len(orphans) > 1 else ""
        raise Invalid(f"{rel(path, root)}{more} has no image: the image file {expected} is missing.")
    return records


def _read_text(path: Path, root: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid(f"{rel(path, root)} is not UTF-8 text.") from None


def _read_labels(
    path: Path, root: Path, names: dict[int, str], names_file: str, width: int, height: int
) -> list[dict[str, Any]]:
    where = rel(path, root)
    boxes = []
    for number, line in enumerate(_read_text(path, root).splitlines(), start=1):
        values = line.split()
        if not values:
            continue
        if len(values) != 5:
            raise Invalid(
                f"{where} line {number} has {len(values)} values; a YOLO box line is "
                "'class x_center y_center width height' (5 values)."
            )
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            raise Invalid(f"{where} line {number} holds a value that is not a number: {line.strip()[:80]!r}.") from None
        if not all(math.isfinite(v) for v in numbers) or not numbers[0].is_integer():
            raise Invalid(f"{where} line {number}: the class must be a whole number and the box finite numbers.")
        cls = int(numbers[0])
        if cls not in names:
            raise Invalid(
                f"{where} line {number} has the class id {cls}, which is not in the class names of {names_file} "
                f"({len(names)} classes)."
            )
        cx, cy, w, h = numbers[1:]
        x, y = cx * width - w * width / 2, cy * height - h * height / 2
        bbox = check_box(x, y, w * width, h * height, width, height, f"{where} line {number}", decimals=DECIMALS)
        boxes.append({"label": names[cls], "bbox": bbox})
    return boxes


def _class_names(root: Path, files: list[Path]) -> tuple[dict[int, str], str]:
    """Class id → name, and the file they came from."""
    yamls = [p for p in files if p.suffix.lower() in {".yaml", ".yml"}]
    yamls.sort(key=lambda p: (p.name.lower() not in {"data.yaml", "dataset.yaml", "data.yml"}, len(p.parts), str(p)))
    for path in yamls:
        where = rel(path, root)
        if path.stat().st_size > MAX_META_BYTES:
            continue
        try:
            document = yaml.safe_load(_read_text(path, root))
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark is not None else ""
            raise Invalid(f"{where} is not valid YAML{at}: {getattr(exc, 'problem', None) or exc}.") from None
        if isinstance(document, dict) and "names" in document:
            names = _parse_names(document["names"], where)
            count = document.get("nc")
            if count is not None and count != len(names):
                raise Invalid(f"{where} says nc: {count!r}, but names holds {len(names)} classes.")
            return names, where
    texts = sorted((p for p in files if p.name.lower() in NAME_FILES), key=lambda p: (len(p.parts), str(p)))
    for path in texts:
        lines = [line.strip() for line in _read_text(path, root).splitlines() if line.strip()]
        if lines:
            return dict(enumerate(lines)), rel(path, root)
    raise Invalid(
        "A YOLO upload needs its class names: a data.yaml with `names` (a list, or a mapping of class id to name) "
        "or a classes.txt with one name a line."
    )


def _parse_names(raw: Any, where: str) -> dict[int, str]:
    if isinstance(raw, list):
        items = list(enumerate(raw))
    elif isinstance(raw, dict):
        items = []
        for key, value in raw.items():
            try:
                items.append((int(key), value))
            except (TypeError, ValueError):
                raise Invalid(f"{where}: the names mapping needs whole-number class ids; got {key!r}.") from None
    else:
        raise Invalid(f"{where}: names must be a list or a mapping of class id to name; got {type(raw).__name__}.")
    names = {}
    for key, value in items:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool) or not str(value).strip():
            raise Invalid(f"{where}: the name of class {key} must be text; got {value!r}.")
        names[key] = str(value).strip()
    if not names:
        raise Invalid(f"{where}: names is empty.")
    return names


@exporters.register("yolo")
def export_yolo(table: pa.Table, blobs: BlobStore, folder: Path) -> None:
    rows = image_rows(table, "YOLO")
    class_ids = {name: index for index, name in enumerate(categories_of(rows))}
    dirs: dict[str, str] = {}
    for split, group in split_groups(rows):
        sub = export_split_name(split) if split else None
        image_dir = folder / "images" / sub if sub else folder / "images"
        label_dir = folder / "labels" / sub if sub else folder / "labels"
        label_dir.mkdir(parents=True, exist_ok=True)
        dirs[sub or ""] = f"images/{sub}" if sub else "images"
        names = Names()
        for row in group:
            name = names.take(row.file_name, row.record_id)
            width, height, _ = copy_image(blobs, row, image_dir / name)
            lines = []
            for box in row.boxes:
                x, y, w, h = box["bbox"]
                values = [(x + w / 2) / width, (y + h / 2) / height, w / width, h / height]
                lines.append(" ".join([str(class_ids[str(box["label"])])] + [_normalised(v) for v in values]))
            (label_dir / Path(name).with_suffix(".txt").name).write_text(
                "".join(line + "\n" for line in lines), encoding="utf-8"
            )
    first = next(iter(dirs.values()))
    spec: dict[str, Any] = {
        "train": dirs.get("train", first),
        "val": dirs.get("val", dirs.get("train", first)),
    }
    if "test" in dirs:
        spec["test"] = dirs["test"]
    spec["nc"] = len(class_ids)
    spec["names"] = {index: name for name, index in class_ids.items()}
    (folder / "data.yaml").write_text(
        "# YOLO detection dataset exported by aicommons; paths are relative to this file.\n"
        + yaml.safe_dump(spec, sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )


def _normalised(value: float) -> str:
    """Eight decimals: exact to 0.01 px on re-import for images up to 100,000 px a side."""
    text = f"{value:.8f}".rstrip("0").rstrip(".")
    return "0" if text in {"", "-0"} else text
