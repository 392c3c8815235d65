"""Cleaning jobs write new versions with lineage and a report; label issues are flagged, not dropped."""

from __future__ import annotations

import io

import numpy as np
import pytest
from datakit import zip_bytes

from aicommons import data
from aicommons.core.errors import NotFound


def _clean(kit, runtime, version_id, **params):
    with runtime.session() as session:
        job = data.start_clean(session, kit.actor, version_id, data.CleanParams(**params))
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    new = kit.version(done.result["version_id"])
    with runtime.session() as session:
        report = data.get_report(session, runtime.blobs, kit.actor, new.id)
    return new, report


TEXTS = [
    "这家店的服务态度非常好，菜品也很新鲜，下次还会再来",
    "这家店的服务态度非常好，菜品也很新鲜，下次还会再来！",  # near duplicate: punctuation
    "这家店的服务态度非常好，菜品也很新鲜，下次一定还会来",  # near duplicate: a small edit
    "快递三天就到了，包装完好，书的印刷质量也不错",
    "The hotel room was clean and the staff were friendly",
    "The hotel room was clean and the staff were friendly",  # exact duplicate
    "Completely unrelated sentence about mountains and rivers",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",  # a repeated run
    "ok",  # too short
]


def _texts_version(kit):
    csv = "text,label\n" + "\n".join(f'"{t}",{i % 2}' for i, t in enumerate(TEXTS))
    return kit.imported(kit.dataset().id, "t.csv", csv.encode())


def test_dedup_removes_exact_and_near_duplicates_and_reports_clusters(kit, runtime):
    base = _texts_version(kit)
    new, report = _clean(kit, runtime, base.id, operation="dedup", threshold=0.6)  # the edited text shares 65 % of its 3-grams
    assert new.parent_version_id == base.id and new.operation == "dedup"
    assert report["removed"] == 3 and new.record_count == len(TEXTS) - 3
    kept = {r["text"] for r in kit.records(new.id, limit=50).items}
    assert TEXTS[0] in kept and TEXTS[1] not in kept and TEXTS[2] not in kept and TEXTS[3] in kept


def test_exact_only_dedup_keeps_near_duplicates(kit, runtime):
    new, report = _clean(kit, runtime, _texts_version(kit).id, operation="dedup", near=False)
    assert report["removed"] == 1  # the hotel review, whose two copies even carry different labels
    assert report["label_conflicts"] == 1


def test_text_quality_drops_bad_texts_with_reasons(kit, runtime):
    new, report = _clean(kit, runtime, _texts_version(kit).id, operation="text_quality")
    assert report["by_reason"] == {"repeated_run": 1, "too_short": 1}
    assert new.record_count == len(TEXTS) - 2


def _noise_png(seed: int, size=(64, 64)) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 255, size=(size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_dedup_and_checks(kit, runtime):
    # Textured images: flat colours all share one perceptual hash.
    archive = zip_bytes({"a/1.png": _noise_png(1), "a/2.png": _noise_png(1), "b/3.png": _noise_png(2, (400, 2))})
    base = kit.imported(kit.dataset("imgs", "image").id, "i.zip", archive)
    deduped, report = _clean(kit, runtime, base.id, operation="dedup")
    assert report["removed"] == 1  # 1.png and 2.png are the same bytes
    checked, report = _clean(kit, runtime, base.id, operation="image_checks")
    assert report["removed"] == 1 and set(report["by_reason"]) >= {"too_small"}


def test_label_issues_flag_flipped_labels_for_review_without_dropping_any(kit, runtime):
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    labels = bunch.target.astype(str)
    flipped = np.random.default_rng(0).choice(len(labels), size=20, replace=False)
    labels[flipped] = np.where(labels[flipped] == "0", "1", "0")
    names = [f"f{i}" for i in range(bunch.data.shape[1])]
    buffer = io.StringIO()
    buffer.write(",".join(names + ["label"]) + "\n")
    for row, label in zip(bunch.data, labels, strict=True):
        buffer.write(",".join(f"{v:.6g}" for v in row) + f",{label}\n")
    base = kit.imported(kit.dataset("cancer", "tabular").id, "c.csv", buffer.getvalue().encode())
    new, report = _clean(kit, runtime, base.id, operation="label_issues")
    assert new.record_count == base.record_count
    flagged = {r["record_id"] for r in kit.records(new.id, filters=[data.RecordFilter(column="label_issue", op="=", value=True)], limit=500).items}
    truly = {f"r{i:08d}" for i in flipped}
    assert len(flagged & truly) >= 14  # most flips are found ...
    assert len(flagged - truly) <= 15  # ... without flagging much else
    assert report["flagged"] == len(flagged)


def test_operations_refuse_versions_they_cannot_clean(kit, runtime):
    base = kit.imported(kit.dataset("tab", "tabular").id, "t.csv", b"x,label\n1,a\n2,b\n")
    with runtime.session() as session:
        job = data.start_clean(session, kit.actor, base.id, data.CleanParams(operation="text_quality"))
    failed = kit.run(job)
    assert failed.status == "failed" and "needs a `text` field" in failed.error
    with pytest.raises(Exception, match="operation"):
        data.CleanParams(operation="shred")
    with pytest.raises(NotFound, match="has no report"), runtime.session() as session:
        data.get_report(session, runtime.blobs, kit.actor, base.id)
