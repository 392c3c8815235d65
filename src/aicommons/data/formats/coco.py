"""COCO object detection ("instances" JSON): import an extracted folder, export images/ + JSON.

Import: every JSON object in the upload with an `images` list is an annotation file; its split
comes from its folder (`train/_annotations.coco.json`) or its name (`instances_val2017.json`).
Each listed image becomes one record (images the JSON does not list are not imported); its
`file_name` is looked up next to the JSON, in the folder above, in their `images/`, then as a
unique path suffix anywhere in the upload. Boxes keep COCO's [x, y, w, h] pixels as given;
segmentations and areas are not kept.

Export: without splits `annotations.json` + `images/<file>`; with splits
`annotations/instances_<split>.json` (`val` for validation) + `images/<split>/<file>`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.data.exports import exporters
from aicommons.data.formats import (
    ImageFinder,
    Names,
    categories_of,
    check_box,
    copy_image,
    export_split_name,
    image_rows,
    is_image,
    is_number,
    rel,
    split_from_parts,
    split_from_stem,
    split_groups,
    visible_files,
)
from aicommons.data.imports import ImportOptions, Progress, format_detectors, image_record, readers
from aicommons.data.manifest import Record

SNIFF_BYTES = 1 << 20


@format_detectors.register("coco")
def looks_like_coco(root: Path, files: list[Path]) -> bool:
    """A JSON object that mentions `images` early on, and images to go with it."""
    if not any(is_image(p) for p in files):
        return False
    for path in files:
        if path.suffix.lower() != ".json":
            continue
        with open(path, "rb") as stream:
            head = stream.read(SNIFF_BYTES)
        if head.lstrip().startswith(b"{") and b'"images"' in head:
            return True
    return False


def _load_json(path: Path, root: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as stream:
            return json.load(stream)
    except json.JSONDecodeError as exc:
        raise Invalid(f"{rel(path, root)} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).") from None
    except UnicodeDecodeError:
        raise Invalid(f"{rel(path, root)} is not UTF-8 text.") from None


@readers.register("coco")
def read_coco(root: Path, options: ImportOptions, blobs: BlobStore, progress: Progress) -> list[Record]:
    if root.is_file():
        raise Invalid("A COCO import needs a folder (or an archive) holding the annotation JSON and its images.")
    files = visible_files(root)
    documents = []
    for path in files:
        if path.suffix.lower() == ".json":
            document = _load_json(path, root)
            # Instances and keypoints files have categories; captions files (no boxes) do not.
            if isinstance(document, dict) and "images" in document and "categories" in document:
                documents.append((path, document))
    if not documents:
        raise Invalid("The upload holds no COCO annotation file (a JSON object with images, annotations and categories).")
    finder = ImageFinder(root, files)
    total = sum(len(d["images"]) if isinstance(d["images"], list) else 0 for _, d in documents)
    records: list[Record] = []
    for path, document in documents:
        records.extend(_read_document(path, document, root, finder, blobs, progress, len(records), total))
    return records


def _items(document: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    items = document.get(key, [])
    if not isinstance(items, list):
        raise Invalid(f"{where}: {key} must be a list; got {type(items).__name__}.")
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise Invalid(f"{where}: {key}[{index}] is not an object.")
    return items


def _id(value: Any) -> int | str | None:
    return value if isinstance(value, (int, str)) and not isinstance(value, bool) else None


def _read_document(
    path: Path, document: dict[str, Any], root: Path, finder: ImageFinder, blobs: BlobStore,
    progress: Progress, done: int, total: int,
) -> list[Record]:
    where = rel(path, root)
    split = split_from_parts(path.relative_to(root).parts[:-1]) or split_from_stem(path.stem)

    categories: dict[int | str, str] = {}
    for index, category in enumerate(_items(document, "categories", where)):
        cid, name = _id(category.get("id")), category.get("name")
        if cid is None or not isinstance(name, str) or not name.strip():
            raise Invalid(f"{where}: categories[{index}] needs an id and a name.")
        if cid in categories:
            raise Invalid(f"{where}: the category id {cid!r} appears twice.")
        categories[cid] = name.strip()

    images: dict[int | str, dict[str, Any]] = {}
    for index, image in enumerate(_items(document, "images", where)):
        iid = _id(image.get("id"))
        if iid is None or not isinstance(image.get("file_name"), str):
            raise Invalid(f"{where}: images[{index}] needs an id and a file_name.")
        if iid in images:
            raise Invalid(f"{where}: the image id {iid!r} appears twice.")
        images[iid] = image

    boxes: dict[int | str, list[tuple[int, dict[str, Any]]]] = {iid: [] for iid in images}
    for index, annotation in enumerate(_items(document, "annotations", where)):
        label = f"{where}: annotation {annotation.get('id', f'#{index}')}"
        iid, cid = _id(annotation.get("image_id")), _id(annotation.get("category_id"))
        if iid not in images:
            raise Invalid(f"{label} refers to the image id {annotation.get('image_id')!r}, which is not among the images.")
        if cid not in categories:
            known = ", ".join(str(c) for c in list(categories)[:20]) or "none"
            raise Invalid(
                f"{label} has the category_id {annotation.get('category_id')!r}, which is not among the categories ({known})."
            )
        bbox = annotation.get("bbox")
        if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox)):
            raise Invalid(f"{label} needs a bbox of four numbers [x, y, width, height]; got {str(bbox)[:60]}.")
        boxes[iid].append((index, annotation))

    bases = [path.parent, path.parent.parent, root]
    records = []
    for number, (iid, image) in enumerate(images.items()):
        image_where = f"{where}: image {iid!r}"
        found = finder.find(image["file_name"], bases, image_where)
        if found is None:
            raise Invalid(f"{image_where} names the file {image['file_name']!r}, which is not in the upload.")
        record = image_record(found, blobs, root=root, label=None, split=split)
        width, height = record.fields["width"], record.fields["height"]
        declared = (image.get("width"), image.get("height"))
        if declared != (None, None) and declared != (width, height):
            raise Invalid(
                f"{image_where} declares a {declared[0]}×{declared[1]} image, but {rel(found, root)} is {width}×{height}."
            )
        annotations = []
        for index, annotation in boxes[iid]:
            box_where = f"{where}: annotation {annotation.get('id', f'#{index}')}"
            entry: dict[str, Any] = {
                "label": categories[annotation["category_id"]],
                "bbox": check_box(*annotation["bbox"], width, height, box_where),
            }
            if annotation.get("iscrowd"):
                entry["iscrowd"] = 1
            annotations.append(entry)
        record.annotations = annotations
        records.append(record)
        if (done + number) % 200 == 0:
            progress((done + number) / max(total, 1), f"{done + number}/{total} images")
    return records


@exporters.register("coco")
def export_coco(table: pa.Table, blobs: BlobStore, folder: Path) -> None:
    rows = image_rows(table, "COCO")
    category_ids = {name: index + 1 for index, name in enumerate(categories_of(rows))}
    categories = [{"id": cid, "name": name, "supercategory": ""} for name, cid in category_ids.items()]
    groups = list(split_groups(rows))
    only_unsplit = len(groups) == 1 and groups[0][0] is None
    for split, group in groups:
        sub = export_split_name(split) if split else None
        names = Names()
        images, annotations = [], []
        for row in group:
            name = names.take(row.file_name, row.record_id)
            target = folder / "images" / sub / name if sub else folder / "images" / name
            width, height, _ = copy_image(blobs, row, target)
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": f"{sub}/{name}" if sub else name, "width": width, "height": height})
            for box in row.boxes:
                x, y, w, h = box["bbox"]
                annotations.append({
                    "id": len(annotations) + 1, "image_id": image_id, "category_id": category_ids[str(box["label"])],
                    "bbox": [x, y, w, h], "area": w * h, "iscrowd": 1 if box.get("iscrowd") else 0, "segmentation": [],
                })
        document = {
            "info": {"description": "Exported by aicommons"}, "licenses": [],
            "images": images, "annotations": annotations, "categories": categories,
        }
        if only_unsplit:
            target = folder / "annotations.json"
        else:
            target = folder / "annotations" / (f"instances_{sub}.json" if sub else "instances.json")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
