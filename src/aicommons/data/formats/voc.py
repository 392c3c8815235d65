"""Pascal VOC detection: import `Annotations/*.xml` with their images, export the same layout.

Import: every XML file whose root element is `<annotation>` is one record (images without an XML
file are not imported). Its image is `<filename>` in `JPEGImages/` beside `Annotations/`, next to the
XML, in an `images/` folder, or a unique path suffix anywhere; failing that, the image with the
XML's stem. Each `<object>` is a box: `<name>` and `<bndbox>` xmin ymin xmax ymax, stored as
[xmin, ymin, xmax - xmin, ymax - ymin] (the coordinates as written, no 1-based shift), rounded to
0.01 px; `<difficult>1</difficult>` is kept as `"difficult": 1`. The size of the stored image is
authoritative; `<size>` is not checked. The split is the first folder named for one, else the
`ImageSets/Main/{train,val,test}.txt` list naming the XML's stem (`trainval.txt` when there is no
train.txt or val.txt).

XML safety: defusedxml is not a dependency, so any file that declares a DOCTYPE or an entity is
refused before it is parsed (no entity expansion, no external entities), as are files over 10 MiB
and files that are not in an ASCII-compatible encoding (so the check cannot be dodged with UTF-16).

Export: `Annotations/<stem>.xml`, `JPEGImages/<file>`, and `ImageSets/Main/<split>.txt` per split
(`val` for validation).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pyarrow as pa

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.data.exports import exporters
from aicommons.data.formats import (
    DECIMALS,
    SPLIT_ALIASES,
    ImageFinder,
    Names,
    check_box,
    copy_image,
    export_split_name,
    format_number,
    image_rows,
    is_image,
    rel,
    split_from_parts,
    split_groups,
    visible_files,
)
from aicommons.data.imports import ImportOptions, Progress, format_detectors, image_record, readers
from aicommons.data.manifest import Record

MAX_XML_BYTES = 10 << 20
_UNSAFE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
COORDINATES = ("xmin", "ymin", "xmax", "ymax")


@format_detectors.register("voc")
def looks_like_voc(root: Path, files: list[Path]) -> bool:
    """An XML file with an `<annotation>` element near its start, and images."""
    if not any(is_image(p) for p in files):
        return False
    for path in files:
        if path.suffix.lower() == ".xml":
            with open(path, "rb") as stream:
                if b"<annotation" in stream.read(4096):
                    return True
    return False


def parse_xml(path: Path, root: Path) -> ET.Element:
    """Parse a local XML file, refusing DOCTYPEs and entities (defusedxml is not available)."""
    where = rel(path, root)
    if path.stat().st_size > MAX_XML_BYTES:
        raise Invalid(f"{where} is larger than {MAX_XML_BYTES >> 20} MiB; a VOC annotation is a few KiB.")
    data = path.read_bytes()
    if b"\x00" in data:
        raise Invalid(f"{where} is not in an ASCII-compatible encoding (UTF-16?); save it as UTF-8.")
    if _UNSAFE.search(data):
        raise Invalid(
            f"{where} declares a DOCTYPE or an entity; these are refused (entity expansion and external "
            "entities are an attack vector) and VOC annotations need neither."
        )
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        raise Invalid(f"{where} is not well-formed XML: {_reason(exc)} (line {line}, column {column + 1}).") from None


def _reason(exc: ET.ParseError) -> str:
    return re.sub(r": line \d+, column \d+$", "", str(exc))


def _image_set_splits(root: Path, files: list[Path]) -> dict[str, str]:
    """Image id → split from ImageSets/Main/{train,val,test}.txt."""
    lists: dict[str, Path] = {}
    for path in files:
        parts = [p.lower() for p in path.relative_to(root).parts]
        if len(parts) >= 3 and parts[-3:-1] == ["imagesets", "main"] and path.suffix.lower() == ".txt":
            lists.setdefault(path.stem.lower(), path)
    chosen = {name: path for name, path in lists.items() if name in SPLIT_ALIASES}
    if "trainval" in lists and not ({"train", "val", "valid", "validation"} & set(chosen)):
        chosen["trainval"] = lists["trainval"]
    splits: dict[str, str] = {}
    seen: dict[str, str] = {}
    for name, path in sorted(chosen.items()):
        split = SPLIT_ALIASES.get(name, "train")
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            words = line.split()
            if not words:
                continue
            stem = words[0]
            if stem in splits and splits[stem] != split:
                raise Invalid(f"{rel(path, root)} lists {stem!r}, which {seen[stem]} already puts in another split.")
            splits[stem] = split
            seen[stem] = rel(path, root)
    return splits


@readers.register("voc")
def read_voc(root: Path, options: ImportOptions, blobs: BlobStore, progress: Progress) -> list[Record]:
    if root.is_file():
        raise Invalid("A VOC import needs a folder (or an archive) with Annotations/ and the images.")
    files = visible_files(root)
    finder = ImageFinder(root, files)
    image_sets = _image_set_splits(root, files)
    xmls = [p for p in files if p.suffix.lower() == ".xml"]
    records = []
    for index, path in enumerate(xmls):
        element = parse_xml(path, root)
        if element.tag != "annotation":
            continue
        records.append(_read_annotation(path, element, root, finder, image_sets, blobs))
        if index % 200 == 0:
            progress(index / len(xmls), f"{index}/{len(xmls)} annotations")
    if not records:
        raise Invalid("The upload holds no VOC annotation (an XML file with an <annotation> root element).")
    return records


def _read_annotation(
    path: Path, element: ET.Element, root: Path, finder: ImageFinder, image_sets: dict[str, str], blobs: BlobStore
) -> Record:
    where = rel(path, root)
    filename = (element.findtext("filename") or "").strip()
    bases = [path.parent.parent / "JPEGImages", path.parent, path.parent.parent, root]
    image = finder.find(filename, bases, where) if filename else None
    if image is None:
        image = finder.find_stem(Path(filename).stem if filename else path.stem, [b for b in bases[:2]])
    if image is None:
        named = f"the image {filename!r}" if filename else f"an image named {path.stem}.*"
        raise Invalid(f"{where} names {named}, which is not in the upload.")
    split = split_from_parts(path.relative_to(root).parts[:-1]) or image_sets.get(path.stem)
    record = image_record(image, blobs, root=root, label=None, split=split)
    width, height = record.fields["width"], record.fields["height"]
    boxes: list[dict[str, Any]] = []
    for number, obj in enumerate(element.findall("object"), start=1):
        name = (obj.findtext("name") or "").strip()
        if not name:
            raise Invalid(f"{where}: <object> {number} has no <name>.")
        box = obj.find("bndbox")
        if box is None:
            raise Invalid(f"{where}: <object> {number} ({name}) has no <bndbox>.")
        values = []
        for tag in COORDINATES:
            text = (box.findtext(tag) or "").strip()
            try:
                values.append(float(text))
            except ValueError:
                raise Invalid(f"{where}: <object> {number} ({name}) has the <{tag}> {text!r}, which is not a number.") from None
        xmin, ymin, xmax, ymax = values
        if xmax < xmin or ymax < ymin:
            raise Invalid(f"{where}: <object> {number} ({name}) has xmax < xmin or ymax < ymin.")
        box_where = f"{where}: <object> {number} ({name})"
        entry: dict[str, Any] = {
            "label": name, "bbox": check_box(xmin, ymin, xmax - xmin, ymax - ymin, width, height, box_where, DECIMALS),
        }
        if (obj.findtext("difficult") or "").strip() == "1":
            entry["difficult"] = 1
        boxes.append(entry)
    record.annotations = boxes
    return record


def _text(parent: ET.Element, tag: str, value: Any) -> ET.Element:
    child = ET.SubElement(parent, tag)
    child.text = str(value)
    return child


@exporters.register("voc")
def export_voc(table: pa.Table, blobs: BlobStore, folder: Path) -> None:
    rows = image_rows(table, "VOC")
    (folder / "Annotations").mkdir(parents=True)
    names = Names()
    image_sets: dict[str, list[str]] = {}
    for split, group in split_groups(rows):
        for row in group:
            name = names.take(row.file_name, row.record_id)
            width, height, depth = copy_image(blobs, row, folder / "JPEGImages" / name)
            stem = Path(name).stem
            annotation = ET.Element("annotation")
            _text(annotation, "folder", "JPEGImages")
            _text(annotation, "filename", name)
            size = ET.SubElement(annotation, "size")
            _text(size, "width", width)
            _text(size, "height", height)
            _text(size, "depth", depth)
            _text(annotation, "segmented", 0)
            for box in row.boxes:
                x, y, w, h = box["bbox"]
                obj = ET.SubElement(annotation, "object")
                _text(obj, "name", box["label"])
                _text(obj, "pose", "Unspecified")
                _text(obj, "truncated", 0)
                _text(obj, "difficult", 1 if box.get("difficult") else 0)
                bndbox = ET.SubElement(obj, "bndbox")
                for tag, value in zip(COORDINATES, (x, y, x + w, y + h), strict=True):
                    _text(bndbox, tag, format_number(value))
            ET.indent(annotation)
            ET.ElementTree(annotation).write(folder / "Annotations" / f"{stem}.xml", encoding="utf-8", xml_declaration=False)
            if split:
                image_sets.setdefault(export_split_name(split), []).append(stem)
    for split_name, stems in image_sets.items():
        target = folder / "ImageSets" / "Main" / f"{split_name}.txt"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("".join(f"{stem}\n" for stem in stems), encoding="utf-8")
