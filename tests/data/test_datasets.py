"""Datasets and versions through the services: import, browse, statistics, splits, diffs, refusals."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from datakit import REVIEWS_CSV, png, zip_bytes
from support import assert_db_unchanged, db_state

from aicommons import data
from aicommons.core.errors import Conflict, Invalid, NotFound
from aicommons.data.tables import DatasetVersion


def test_csv_import_makes_version_1_with_statistics_and_lineage(kit):
    dataset = kit.dataset()
    version = kit.imported(dataset.id, "reviews.csv", REVIEWS_CSV)
    assert version.number == 1 and version.record_count == 6
    assert version.operation == "import" and version.job_id and version.parent_version_id is None
    assert version.statistics["by_label"] == {"negative": 3, "positive": 3}
    assert version.statistics["text_length"]["max"] == len("Terrible customer service")
    assert [c["name"] for c in version.columns] == ["text"]
    assert kit.runtime.blobs.exists(version.manifest_sha256)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_jsonl_and_parquet_imports_match_the_csv(kit, tmp_path, fmt):
    rows = [{"review": "很好", "label": "positive", "stars": 5}, {"review": "很差", "label": "negative", "stars": 1}]
    if fmt == "jsonl":
        payload = "\n".join(json.dumps(r, ensure_ascii=False) for r in rows).encode()
    else:
        pq.write_table(pa.Table.from_pylist(rows), tmp_path / "x.parquet")
        payload = (tmp_path / "x.parquet").read_bytes()
    version = kit.imported(kit.dataset().id, f"reviews.{fmt}", payload, text_field="review")
    page = kit.records(version.id)
    assert [(r["text"], r["label"], r["stars"]) for r in page.items] == [("很好", "positive", 5), ("很差", "negative", 1)]


def test_imagefolder_zip_stores_images_as_blobs_with_sizes_and_labels(kit):
    archive = zip_bytes({"train/cat/1.png": png(), "train/dog/2.png": png((0, 0, 255), (20, 10)), "test/cat/3.png": png()})
    version = kit.imported(kit.dataset("pets", "image").id, "pets.zip", archive)
    assert version.statistics["by_label"] == {"cat": 2, "dog": 1}
    assert version.statistics["by_split"] == {"test": 1, "train": 2}
    dog = kit.records(version.id, label="dog").items[0]
    assert (dog["width"], dog["height"]) == (20, 10)
    assert kit.runtime.blobs.read_bytes(dog["file_sha256"]) == png((0, 0, 255), (20, 10))


def test_browsing_filters_and_pages_through_records(kit):
    version = kit.imported(kit.dataset().id, "reviews.csv", REVIEWS_CSV)
    contains = kit.records(version.id, filters=[data.RecordFilter(column="text", op="contains", value="书")])
    assert contains.total == 1 and "书" in contains.items[0]["text"]
    first = kit.records(version.id, label="positive", limit=2)
    second = kit.records(version.id, label="positive", limit=2, cursor=first.next_cursor)
    assert first.total == 3 and len(first.items) == 2 and len(second.items) == 1 and second.next_cursor is None
    assert {r["record_id"] for r in first.items}.isdisjoint(r["record_id"] for r in second.items)
    with pytest.raises(Invalid, match="column"):
        kit.records(version.id, filters=[data.RecordFilter(column="nope", op="=", value=1)])


def test_splits_are_deterministic_stratified_and_make_a_new_version(kit, runtime):
    rows = "\n".join(f"review {i},{'positive' if i % 3 else 'negative'}" for i in range(300))
    base = kit.imported(kit.dataset().id, "r.csv", f"text,label\n{rows}".encode())
    with runtime.session() as session:
        job_a = data.start_split(session, kit.actor, base.id, data.SplitParams(seed=7))
    a = kit.version(kit.run(job_a).result["version_id"])
    with runtime.session() as session:
        job_b = data.start_split(session, kit.actor, base.id, data.SplitParams(seed=7))
    b = kit.version(kit.run(job_b).result["version_id"])
    assert a.parent_version_id == base.id and a.operation == "split" and a.number == 2 and b.number == 3
    assert a.statistics["by_split"] == {"test": 30, "train": 240, "validation": 30}
    splits_a = {r["record_id"]: r["split"] for r in kit.records(a.id, limit=500).items}
    splits_b = {r["record_id"]: r["split"] for r in kit.records(b.id, limit=500).items}
    assert splits_a == splits_b
    negatives_in_test = kit.records(a.id, split="test", label="negative").total
    assert negatives_in_test == 10  # 100 negatives × 10 %
    with runtime.session() as session:
        diff = data.diff_versions(session, data.manifest_cache(runtime), kit.actor, base.id, a.id)
    assert (diff.added, diff.removed, diff.changed, diff.resplit) == (0, 0, 0, 300)


def test_bad_split_fractions_are_refused():
    with pytest.raises(ValueError, match="add up to 1"):
        data.SplitParams(train=0.5, validation=0.1, test=0.1)


@pytest.mark.parametrize(
    ("filename", "payload", "message"),
    [
        ("bad.jsonl", b'{"text": "ok", "label": "a"}\n{not json}\n', "line 2 is not valid JSON"),
        ("bad.csv", b'text,label\n"unterminated,a\n', "not a readable CSV"),
        ("clash.csv", b"text,record_id\nhello,1\n", "reserved"),
        ("notext.csv", b"body,label\nhello,a\n", "needs a `text` field"),
        ("images.zip", zip_bytes({"cat/1.png": b"not an image"}), "not a readable image"),
    ],
)
def test_bad_files_fail_their_job_with_a_clear_error_and_write_no_version(kit, runtime, filename, payload, message):
    dataset = kit.dataset()
    job = kit.run(kit.upload(dataset.id, filename, payload))
    assert job.status == "failed" and message in job.error
    with runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(DatasetVersion)) == 0


def test_a_zip_bomb_upload_is_refused_and_nothing_is_stored(kit, runtime):
    dataset = kit.dataset()
    bomb = zip_bytes({"zeros.csv": b"0" * (64 << 20)})
    blobs_before = sorted(runtime.blobs.fs.find(runtime.blobs.root))
    before = db_state(runtime)
    with pytest.raises(Invalid, match="zip bomb"):
        kit.upload(dataset.id, "bomb.zip", bomb)
    assert sorted(runtime.blobs.fs.find(runtime.blobs.root)) == blobs_before
    assert_db_unchanged(before, db_state(runtime))


def test_other_orgs_cannot_see_import_into_or_browse_private_datasets(kit, runtime, world):
    version = kit.imported(kit.dataset().id, "reviews.csv", REVIEWS_CSV)
    outsider = world.b_admin.actor
    with runtime.session() as session:
        assert data.list_datasets(session, outsider).items == []
        with pytest.raises(NotFound):
            data.get_version(session, outsider, version.id)
        with pytest.raises(NotFound):
            data.list_records(session, data.manifest_cache(runtime), outsider, version.id)
        with pytest.raises(NotFound):
            data.start_split(session, outsider, version.id, data.SplitParams())


def test_dataset_names_are_unique_per_org_and_tags_filter(kit, runtime, world):
    kit.dataset("corpus", tags=["chinese", "评论"])
    with pytest.raises(Conflict):
        kit.dataset("Corpus")
    with runtime.session() as session:
        data.create_dataset(session, world.b_admin.actor, data.DatasetCreate(name="corpus", modality="text"))
        assert [d.name for d in data.list_datasets(session, kit.actor, tag="评论").items] == ["corpus"]
        assert data.list_datasets(session, kit.actor, tag="english").items == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_table_exports_round_trip_through_an_import(kit, runtime, tmp_path, fmt):
    original = kit.imported(kit.dataset().id, "reviews.csv", REVIEWS_CSV)
    with runtime.session() as session:
        job = data.start_export(session, kit.actor, original.id, fmt)
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    with runtime.session() as session:
        sha256, filename = data.export_download(session, kit.actor, job.id)
    assert filename == f"reviews-v1-{fmt}.zip"
    again = kit.imported(kit.dataset("again").id, filename, runtime.blobs.read_bytes(sha256))
    assert again.statistics["by_label"] == original.statistics["by_label"]
    texts = lambda v: sorted(r["text"] for r in kit.records(v.id).items)  # noqa: E731
    assert texts(again) == texts(original)


def test_imagefolder_export_holds_the_verified_images(kit, runtime):
    original = kit.imported(kit.dataset("pets", "image").id, "pets.zip", zip_bytes({"cat/1.png": png(), "dog/2.png": png((1, 2, 3))}))
    with runtime.session() as session:
        job = data.start_export(session, kit.actor, original.id, "imagefolder")
    kit.run(job)
    with runtime.session() as session:
        sha256, _ = data.export_download(session, kit.actor, job.id)
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(runtime.blobs.read_bytes(sha256)))
    files = sorted(n for n in archive.namelist() if not n.endswith("/"))  # zip also lists the folders
    assert [n.split("/")[0] for n in files] == ["cat", "dog"]
    assert archive.read(files[1]) == png((1, 2, 3))


def test_exports_are_refused_for_unknown_formats_and_unfinished_jobs(kit, runtime):
    version = kit.imported(kit.dataset().id, "reviews.csv", REVIEWS_CSV)
    with runtime.session() as session:
        with pytest.raises(Invalid, match="Unknown export format 'xlsx'"):
            data.start_export(session, kit.actor, version.id, "xlsx")
        job = data.start_export(session, kit.actor, version.id, "csv")
    with runtime.session() as session, pytest.raises(Conflict, match="queued"):
        data.export_download(session, kit.actor, job.id)
