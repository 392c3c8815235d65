"""Detection formats (COCO, YOLO, Pascal VOC) through real import jobs, their exporters, and the HF export.

Each test builds a small real dataset (PIL images and annotation files), zips it, imports it with
format auto-detection, and checks the records; round trips export into a folder, zip it and
import it again; bad inputs fail their job with an error naming the file and line or element.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import yaml
from datakit import REVIEWS_CSV, png, zip_bytes
from PIL import Image

from aicommons import data
from aicommons.core.errors import Invalid
from aicommons.data.exports import exporters
from aicommons.data.tables import DatasetVersion

A, B, C = png((200, 30, 30), (40, 30)), png((30, 30, 200), (32, 24)), png((30, 200, 30), (20, 20))


def jpeg(color=(10, 120, 90), size=(40, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG")
    return buffer.getvalue()


# --- sources --------------------------------------------------------------------------------


def coco_document(images, annotations, categories=({"id": 1, "name": "cat"}, {"id": 7, "name": "dog"})) -> bytes:
    return json.dumps({"images": list(images), "annotations": list(annotations), "categories": list(categories)}).encode()


def coco_source() -> dict[str, bytes]:
    """Two annotation files (train, val), images in subfolders, category ids 1 and 7, a crowd box."""
    train = coco_document(
        [{"id": 1, "file_name": "a.png", "width": 40, "height": 30}, {"id": 2, "file_name": "c.png", "width": 20, "height": 20}],
        [
            {"id": 10, "image_id": 1, "category_id": 1, "bbox": [2, 3, 10, 8]},
            {"id": 11, "image_id": 1, "category_id": 7, "bbox": [20.5, 10.25, 15.0, 12.5]},
        ],
    )
    val = coco_document(
        [{"id": 5, "file_name": "b.png", "width": 32, "height": 24}],  # lies in images/sub/: found by its name
        [{"id": 12, "image_id": 5, "category_id": 7, "bbox": [0, 0, 32, 24], "iscrowd": 1}],
    )
    return {
        "coco/annotations/instances_train.json": train, "coco/annotations/instances_val.json": val,
        "coco/images/a.png": A, "coco/images/c.png": C, "coco/images/sub/b.png": B,
        "coco/images/not-listed.png": png((1, 1, 1)),
    }


COCO_EXPECTED = {
    "a.png": ("train", 40, 30, [{"label": "cat", "bbox": [2, 3, 10, 8]}, {"label": "dog", "bbox": [20.5, 10.25, 15, 12.5]}]),
    "b.png": ("validation", 32, 24, [{"label": "dog", "bbox": [0, 0, 32, 24], "iscrowd": 1}]),
    "c.png": ("train", 20, 20, []),
}


def yolo_source() -> dict[str, bytes]:
    """Ultralytics layout with train/val splits, names as a list, a JPEG, and an image without labels."""
    return {
        "data.yaml": b"path: .\ntrain: images/train\nval: images/val\nnames: [cat, dog]\n",
        "images/train/a.png": A,
        "labels/train/a.txt": b"0 0.2 0.25 0.25 0.2\n1 0.6875 0.5 0.375 0.5\n",
        "images/train/c.png": C,  # no label file: an image without boxes
        "images/val/d.jpg": jpeg(),
        "labels/val/d.txt": b"1 0.5 0.5 1 1\n\n",
    }


YOLO_EXPECTED = {
    "a.png": ("train", [{"label": "cat", "bbox": [3, 4.5, 10, 6]}, {"label": "dog", "bbox": [20, 7.5, 15, 15]}]),
    "c.png": ("train", []),
    "d.jpg": ("validation", [{"label": "dog", "bbox": [0, 0, 40, 30]}]),
}


def voc_xml(filename: str, objects: list[tuple], size=(40, 30)) -> bytes:
    parts = [f"<annotation><folder>VOC</folder><filename>{filename}</filename>"]
    parts.append(f"<size><width>{size[0]}</width><height>{size[1]}</height><depth>3</depth></size>")
    for name, box, *difficult in objects:
        flag = f"<difficult>{difficult[0]}</difficult>" if difficult else ""
        coords = "".join(f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), box, strict=True))
        parts.append(f"<object><name>{name}</name><pose>Left</pose>{flag}<bndbox>{coords}</bndbox></object>")
    return ("".join(parts) + "</annotation>").encode()


def voc_source() -> dict[str, bytes]:
    return {
        "VOC2012/Annotations/a.xml": voc_xml("a.png", [("cat", (2, 3, 12, 11)), ("person", (20, 10, 35, 22.5), 1)]),
        "VOC2012/Annotations/b.xml": voc_xml("b.png", [("dog", (0, 0, 32, 24))], (32, 24)),
        "VOC2012/JPEGImages/a.png": A,
        "VOC2012/JPEGImages/b.png": B,
        "VOC2012/ImageSets/Main/train.txt": b"a\n",
        "VOC2012/ImageSets/Main/val.txt": b"b\n",
    }


VOC_EXPECTED = {
    "a.png": ("train", [{"label": "cat", "bbox": [2, 3, 10, 8]}, {"label": "person", "bbox": [20, 10, 15, 12.5], "difficult": 1}]),
    "b.png": ("validation", [{"label": "dog", "bbox": [0, 0, 32, 24]}]),
}

SOURCES = {"coco": coco_source, "yolo": yolo_source, "voc": voc_source}


# --- helpers --------------------------------------------------------------------------------


def zip_folder(folder: Path) -> bytes:
    return zip_bytes({p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()})


def records(kit, version) -> dict[str, dict]:
    """Records by their image's file name (list_records parses the annotations JSON)."""
    items = kit.records(version.id, limit=500).items
    out = {}
    for item in items:
        out[Path(item["file_name"]).name] = item
    assert len(out) == len(items)
    return out


def content(kit, version, drop_flags=False) -> list[tuple]:
    """What a round trip must keep: image bytes, split, size, label, boxes and the content hash."""
    rows = []
    for item in kit.records(version.id, limit=500).items:
        boxes = item["annotations"]
        if drop_flags:
            boxes = [{"label": b["label"], "bbox": b["bbox"]} for b in boxes]
        rows.append((item["file_sha256"], item["split"], item["width"], item["height"], item["label"], json.dumps(boxes),
                     None if drop_flags else item["content_hash"]))
    return sorted(rows)


def export(runtime, version, fmt: str, tmp_path: Path) -> Path:
    folder = tmp_path / f"export-{fmt}-{version.id}"
    folder.mkdir()
    exporters.get(fmt)(data.manifest_cache(runtime).table(version.manifest_sha256), runtime.blobs, folder)
    return folder


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# --- imports --------------------------------------------------------------------------------


def test_coco_import_detects_the_format_and_reads_pixel_boxes_per_image(kit, runtime):
    version = kit.imported(kit.dataset("boxes", "image").id, "coco.zip", zip_bytes(coco_source()))
    assert version.record_count == 3  # not-listed.png is not in the JSON, so not in the dataset
    assert version.statistics["by_split"] == {"train": 2, "validation": 1}
    assert version.statistics["by_label"] == {"(none)": 3}
    got = records(kit, version)
    assert {name: (r["split"], r["width"], r["height"], r["annotations"]) for name, r in got.items()} == COCO_EXPECTED
    assert got["b.png"]["file_name"] == "coco/images/sub/b.png"
    assert runtime.blobs.read_bytes(got["b.png"]["file_sha256"]) == B


def test_yolo_import_converts_normalised_boxes_to_pixels(kit):
    version = kit.imported(kit.dataset("boxes", "image").id, "yolo.zip", zip_bytes(yolo_source()))
    got = records(kit, version)
    assert {name: (r["split"], r["annotations"]) for name, r in got.items()} == YOLO_EXPECTED
    assert (got["d.jpg"]["width"], got["d.jpg"]["height"]) == (40, 30)


@pytest.mark.parametrize(
    "names",
    [
        {"dataset/data.yaml": b"nc: 2\nnames:\n  0: cat\n  1: dog\n"},
        {"dataset/classes.txt": b"cat\ndog\n"},
    ],
    ids=["yaml-mapping", "classes-txt"],
)
def test_yolo_class_names_come_from_a_yaml_mapping_or_classes_txt_in_roboflow_layout(kit, names):
    source = {
        **names,
        "dataset/train/images/a.png": A, "dataset/train/labels/a.txt": b"1 0.5 0.5 0.5 0.5\n",
        "dataset/valid/images/b.png": B, "dataset/valid/labels/b.txt": b"0 0.25 0.25 0.5 0.5\n",
    }
    got = records(kit, kit.imported(kit.dataset("boxes", "image").id, "roboflow.zip", zip_bytes(source)))
    assert got["a.png"]["split"] == "train" and got["a.png"]["annotations"] == [{"label": "dog", "bbox": [10, 7.5, 20, 15]}]
    assert got["b.png"]["split"] == "validation" and got["b.png"]["annotations"] == [{"label": "cat", "bbox": [0, 0, 16, 12]}]


def test_voc_import_reads_objects_difficult_flags_and_image_set_splits(kit):
    got = records(kit, kit.imported(kit.dataset("boxes", "image").id, "voc.zip", zip_bytes(voc_source())))
    assert {name: (r["split"], r["annotations"]) for name, r in got.items()} == VOC_EXPECTED
    assert got["a.png"]["label"] is None and (got["b.png"]["width"], got["b.png"]["height"]) == (32, 24)


def test_voc_images_may_lie_next_to_their_xml_and_be_found_by_stem(kit):
    source = {
        "flat/a.xml": voc_xml("a.png", [("cat", (0, 0, 40, 30))]),
        "flat/a.png": A,
        "flat/b.xml": voc_xml("", [("dog", (1, 1, 2, 2))], (32, 24)).replace(b"<filename></filename>", b""),
        "flat/b.png": B,
    }
    got = records(kit, kit.imported(kit.dataset("boxes", "image").id, "flat.zip", zip_bytes(source)))
    assert got["a.png"]["annotations"] == [{"label": "cat", "bbox": [0, 0, 40, 30]}]
    assert got["b.png"]["annotations"] == [{"label": "dog", "bbox": [1, 1, 1, 1]}] and got["b.png"]["split"] is None


# --- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["coco", "yolo", "voc"])
def test_export_then_import_gives_the_same_records(kit, runtime, tmp_path, fmt):
    original = kit.imported(kit.dataset("boxes", "image").id, f"{fmt}.zip", zip_bytes(SOURCES[fmt]()))
    folder = export(runtime, original, fmt, tmp_path)
    again = kit.imported(kit.dataset("again", "image").id, f"{fmt}-export.zip", zip_folder(folder))
    assert again.parameters["options"]["format"] == "auto"
    assert content(kit, again) == content(kit, original)  # content hashes included: boxes, sizes, files


def test_coco_export_layout_and_json(kit, runtime, tmp_path):
    original = kit.imported(kit.dataset("boxes", "image").id, "coco.zip", zip_bytes(coco_source()))
    folder = export(runtime, original, "coco", tmp_path)
    assert files_in(folder) == [
        "annotations/instances_train.json", "annotations/instances_val.json",
        "images/train/a.png", "images/train/c.png", "images/val/b.png",
    ]
    val = json.loads((folder / "annotations/instances_val.json").read_text())
    assert val["images"] == [{"id": 1, "file_name": "val/b.png", "width": 32, "height": 24}]
    assert val["categories"] == [{"id": 1, "name": "cat", "supercategory": ""}, {"id": 2, "name": "dog", "supercategory": ""}]
    assert val["annotations"] == [
        {"id": 1, "image_id": 1, "category_id": 2, "bbox": [0, 0, 32, 24], "area": 768, "iscrowd": 1, "segmentation": []}
    ]
    assert (folder / "images/val/b.png").read_bytes() == B


def test_yolo_and_voc_exports_have_their_usual_files(kit, runtime, tmp_path):
    original = kit.imported(kit.dataset("boxes", "image").id, "coco.zip", zip_bytes(coco_source()))
    yolo = export(runtime, original, "yolo", tmp_path)
    assert files_in(yolo) == [
        "data.yaml", "images/train/a.png", "images/train/c.png", "images/val/b.png",
        "labels/train/a.txt", "labels/train/c.txt", "labels/val/b.txt",
    ]
    spec = yaml.safe_load((yolo / "data.yaml").read_text())
    assert spec == {"train": "images/train", "val": "images/val", "nc": 2, "names": {0: "cat", 1: "dog"}}
    assert (yolo / "labels/train/a.txt").read_text() == "0 0.175 0.23333333 0.25 0.26666667\n1 0.7 0.55 0.375 0.41666667\n"
    assert (yolo / "labels/train/c.txt").read_text() == ""
    voc = export(runtime, original, "voc", tmp_path)
    assert files_in(voc) == [
        "Annotations/a.xml", "Annotations/b.xml", "Annotations/c.xml", "ImageSets/Main/train.txt", "ImageSets/Main/val.txt",
        "JPEGImages/a.png", "JPEGImages/b.png", "JPEGImages/c.png",
    ]
    xml = (voc / "Annotations/a.xml").read_text()
    assert "<filename>a.png</filename>" in xml and "<xmin>20.5</xmin>" in xml and "<xmax>35.5</xmax>" in xml
    assert (voc / "ImageSets/Main/train.txt").read_text() == "a\nc\n"


@pytest.mark.parametrize("fmt", ["yolo", "voc"])
def test_coco_boxes_survive_a_trip_through_yolo_and_voc(kit, runtime, tmp_path, fmt):
    original = kit.imported(kit.dataset("boxes", "image").id, "coco.zip", zip_bytes(coco_source()))
    again = kit.imported(kit.dataset("again", "image").id, f"{fmt}.zip", zip_folder(export(runtime, original, fmt, tmp_path)))
    assert content(kit, again, drop_flags=True) == content(kit, original, drop_flags=True)


def test_unsplit_records_export_without_split_folders(kit, runtime, tmp_path):
    source = {"annotations.json": coco_document([{"id": 1, "file_name": "a.png"}], [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}]),
              "a.png": A}
    original = kit.imported(kit.dataset("boxes", "image").id, "coco.zip", zip_bytes(source))
    coco = export(runtime, original, "coco", tmp_path)
    assert files_in(coco) == ["annotations.json", "images/a.png"]
    yolo = export(runtime, original, "yolo", tmp_path)
    assert files_in(yolo) == ["data.yaml", "images/a.png", "labels/a.txt"]
    assert yaml.safe_load((yolo / "data.yaml").read_text())["train"] == "images"
    for index, folder in enumerate((coco, yolo)):
        again = kit.imported(kit.dataset(f"again-{index}", "image").id, "x.zip", zip_folder(folder))
        assert content(kit, again) == content(kit, original)


# --- Hugging Face export --------------------------------------------------------------------


def card_header(folder: Path) -> dict:
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_hf_export_of_a_detection_dataset_embeds_images_and_objects(kit, runtime, tmp_path):
    original = kit.imported(kit.dataset("boxes", "image").id, "coco.zip", zip_bytes(coco_source()))
    folder = export(runtime, original, "hf", tmp_path)
    assert files_in(folder) == ["README.md", "data/train-00000-of-00001.parquet", "data/validation-00000-of-00001.parquet"]
    header = card_header(folder)
    assert header["configs"] == [{
        "config_name": "default",
        "data_files": [{"split": "train", "path": "data/train-*"}, {"split": "validation", "path": "data/validation-*"}],
    }]
    assert header["dataset_info"]["features"] == [
        {"name": "image", "dtype": "image"},
        {"name": "objects", "list": [{"name": "bbox", "list": "float64"}, {"name": "category", "dtype": "string"}]},
        {"name": "width", "dtype": "int64"},
        {"name": "height", "dtype": "int64"},
    ]
    assert header["dataset_info"]["splits"] == [{"name": "train", "num_examples": 2}, {"name": "validation", "num_examples": 1}]
    train = pq.read_table(folder / "data/train-00000-of-00001.parquet")
    assert train.column_names == ["image", "objects", "width", "height"]
    rows = {row["image"]["path"]: row for row in train.to_pylist()}
    assert rows["a.png"]["image"]["bytes"] == A and rows["c.png"]["objects"] == []
    assert rows["a.png"]["objects"] == [{"bbox": [2, 3, 10, 8], "category": "cat"}, {"bbox": [20.5, 10.25, 15, 12.5], "category": "dog"}]
    assert (rows["a.png"]["width"], rows["a.png"]["height"]) == (40, 30)


def test_hf_export_of_a_classification_dataset_has_class_labels(kit, runtime, tmp_path):
    archive = zip_bytes({"train/cat/1.png": A, "train/dog/2.png": B, "test/dog/3.png": C})
    original = kit.imported(kit.dataset("pets", "image").id, "pets.zip", archive)
    folder = export(runtime, original, "hf", tmp_path)
    header = card_header(folder)
    assert header["dataset_info"]["features"][:2] == [
        {"name": "image", "dtype": "image"},
        {"name": "label", "dtype": {"class_label": {"names": {"0": "cat", "1": "dog"}}}},
    ]
    assert [s["name"] for s in header["dataset_info"]["splits"]] == ["train", "test"]
    test = pq.read_table(folder / "data/test-00000-of-00001.parquet").to_pylist()
    assert [(r["label"], r["image"]["bytes"] == C, r["image"]["path"]) for r in test] == [(1, True, "3.png")]


def test_hf_export_of_a_text_dataset_puts_unsplit_records_in_train_and_detection_exports_refuse_it(kit, runtime, tmp_path):
    original = kit.imported(kit.dataset().id, "reviews.csv", REVIEWS_CSV)
    folder = export(runtime, original, "hf", tmp_path)
    assert files_in(folder) == ["README.md", "data/train-00000-of-00001.parquet"]
    header = card_header(folder)
    assert [f["name"] for f in header["dataset_info"]["features"]] == ["label", "text"]
    table = pq.read_table(folder / "data/train-00000-of-00001.parquet")
    names = header["dataset_info"]["features"][0]["dtype"]["class_label"]["names"]
    assert [(names[str(r["label"])], r["text"]) for r in table.to_pylist()][:2] == [
        ("positive", "这本书写得很好，值得一读"), ("negative", "物流太慢了，包装也破了"),
    ]
    for fmt in ("coco", "yolo", "voc"):  # the detection formats need images
        with pytest.raises(Invalid, match=f"A {fmt.upper()} export needs an image dataset"):
            export(runtime, original, fmt, tmp_path)


# --- refusals -------------------------------------------------------------------------------


def _coco(annotation=None, image=None, raw=None):
    document = raw if raw is not None else coco_document(
        [image or {"id": 1, "file_name": "a.png", "width": 40, "height": 30}],
        [annotation or {"id": 3, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
    )
    return zip_bytes({"set/annotations.json": document, "set/images/a.png": A})


def _yolo(label: bytes, extra=None):
    return zip_bytes({"data.yaml": b"names: [cat, dog]\n", "images/a.png": A, "labels/a.txt": label, **(extra or {})})


def _voc(xml: bytes):
    return zip_bytes({"Annotations/a.xml": xml, "JPEGImages/a.png": A})


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<annotation><filename>a.png</filename><object><name>&lol2;</name></object></annotation>"""

BAD = {
    "coco": {
        "box outside": (_coco({"id": 3, "image_id": 1, "category_id": 1, "bbox": [35, 0, 10, 5]}),
                        "set/annotations.json: annotation 3 has the box [x=35, y=0, w=10, h=5], which lies outside the 40×30 image"),
        "unknown category": (_coco({"id": 4, "image_id": 1, "category_id": 99, "bbox": [1, 1, 2, 2]}),
                             "set/annotations.json: annotation 4 has the category_id 99, which is not among the categories (1, 7)"),
        "missing image": (_coco(image={"id": 1, "file_name": "gone.png"}),
                          "set/annotations.json: image 1 names the file 'gone.png', which is not in the upload"),
        "malformed JSON": (_coco(raw=b'{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{'),
                           "set/annotations.json is not valid JSON"),
        "size mismatch": (_coco(image={"id": 1, "file_name": "a.png", "width": 64, "height": 30}),
                          "set/annotations.json: image 1 declares a 64×30 image, but set/images/a.png is 40×30"),
    },
    "yolo": {
        "wrong value count": (_yolo(b"0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2\n"), "labels/a.txt line 2 has 4 values"),
        "unknown class": (_yolo(b"5 0.5 0.5 0.2 0.2\n"), "labels/a.txt line 1 has the class id 5, which is not in the class names of data.yaml"),
        "box outside": (_yolo(b"0 0.9 0.5 0.5 0.5\n"), "labels/a.txt line 1 has the box [x=26, y=7.5, w=20, h=15], which lies outside"),
        "not a number": (_yolo(b"0 0.5 half 0.2 0.2\n"), "labels/a.txt line 1 holds a value that is not a number"),
        "label without image": (_yolo(b"", {"labels/b.txt": b"0 0.5 0.5 0.1 0.1\n"}),
                                "labels/b.txt has no image: the image file images/b.* is missing"),
        "no class names": (zip_bytes({"images/a.png": A, "labels/a.txt": b"0 0.5 0.5 0.1 0.1\n"}), "needs its class names"),
        "malformed YAML": (zip_bytes({"data.yaml": b"names: [cat, dog\n", "images/a.png": A, "labels/a.txt": b""}),
                           "data.yaml is not valid YAML"),
    },
    "voc": {
        "malformed XML": (_voc(b"<annotation>\n<filename>a.png</filename>\n<object><name>cat</name>\n</annotation>"),
                          "Annotations/a.xml is not well-formed XML: mismatched tag (line 4"),
        "DOCTYPE": (_voc(BILLION_LAUGHS), "Annotations/a.xml declares a DOCTYPE or an entity"),
        "box outside": (_voc(voc_xml("a.png", [("cat", (0, 0, 50, 10))])),
                        "Annotations/a.xml: <object> 1 (cat) has the box [x=0, y=0, w=50, h=10], which lies outside the 40×30 image"),
        "missing image": (_voc(voc_xml("gone.png", [("cat", (0, 0, 5, 5))])),
                          "Annotations/a.xml names the image 'gone.png', which is not in the upload"),
        "bad coordinate": (_voc(voc_xml("a.png", [("cat", (0, "x", 5, 5))])),
                           "Annotations/a.xml: <object> 1 (cat) has the <ymin> 'x', which is not a number"),
    },
}


@pytest.mark.parametrize("fmt", list(BAD))
def test_bad_detection_uploads_fail_their_job_naming_the_file_and_write_no_version(kit, runtime, fmt):
    dataset = kit.dataset("boxes", "image")
    for case, (payload, message) in BAD[fmt].items():
        job = kit.run(kit.upload(dataset.id, "bad.zip", payload))
        assert job.status == "failed" and message in (job.error or ""), (case, job.error)
    with runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DatasetVersion)) == 0


def test_a_box_overshooting_by_float_rounding_is_clipped_not_refused(kit):
    payload = _coco({"id": 3, "image_id": 1, "category_id": 1, "bbox": [30.5, 0, 10.2, 30.4]})
    got = records(kit, kit.imported(kit.dataset("boxes", "image").id, "coco.zip", payload))
    assert got["a.png"]["annotations"] == [{"label": "cat", "bbox": [30.5, 0, 9.5, 30]}]
