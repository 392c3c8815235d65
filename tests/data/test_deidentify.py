"""De-identification jobs: a new version with PII replaced, an owner-only report, a clean residual scan."""

from __future__ import annotations

import pytest
from datakit import zip_bytes
from drawn_faces import drawn_face, png

from aicommons import data
from aicommons.core.errors import Forbidden, Invalid


ID = "11010519491231002X"  # a valid GB 11643 resident id
CSV = (
    "text,label\n"
    f"客户张伟的身份证号是{ID}，手机13812345678,a\n"
    "请联系 alice.smith@example.com 或拨打 010-62345678,b\n"
    "这条评论没有任何个人信息,a\n"
    f"张伟再次来电，身份证{ID},b\n"
).encode()


def _deid(kit, runtime, version_id, **params):
    with runtime.session() as session:
        job = data.start_deid(session, kit.actor, version_id, data.DeidParams(**params))
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    return kit.version(done.result["version_id"])


def test_text_pii_is_replaced_consistently_and_the_report_shows_a_clean_residual_scan(kit, runtime, world):
    base = kit.imported(kit.dataset().id, "pii.csv", CSV)
    policy = "default: tag\ntypes:\n  cn_resident_id: {operator: hash}\n"
    new = _deid(kit, runtime, base.id, policy=policy)
    assert new.parent_version_id == base.id and new.operation == "deid"
    texts = [r["text"] for r in kit.records(new.id).items]
    joined = "\n".join(texts)
    assert ID not in joined and "13812345678" not in joined and "alice.smith@example.com" not in joined
    assert texts[2] == "这条评论没有任何个人信息"
    hashed = [t for t in texts if "身份证" in t]
    token_1 = hashed[0].split("身份证号是")[1].split("，")[0]
    assert token_1 and token_1 in hashed[1]  # the same id hashes the same way within the dataset
    with runtime.session() as session:
        report = data.get_report(session, runtime.blobs, kit.actor, new.id)
        reader = world.a_member.actor
        assert data.get_report(session, runtime.blobs, reader, new.id)["text"]["residual"] == 0
    assert report["text"]["by_type"]["cn_resident_id"] == 2 and report["text"]["by_type"]["phone"] >= 2
    assert report["text"]["samples"][0]["before"] != report["text"]["samples"][0]["after"]


def test_the_report_with_personal_samples_is_for_the_data_owner_only(kit, runtime, world):
    dataset = kit.dataset(visibility="public")
    new = _deid(kit, runtime, kit.imported(dataset.id, "pii.csv", CSV).id)
    with runtime.session() as session:
        # B may read the public version but not the before/after samples of its report.
        assert data.get_version(session, world.b_member.actor, new.id).id == new.id
        with pytest.raises(Forbidden):
            data.get_report(session, runtime.blobs, world.b_member.actor, new.id)


def test_k_anonymity_generalises_quasi_identifiers(kit, runtime):
    rows = "\n".join(f"{20 + i % 40},{310000 + (i * 37) % 997},{'a' if i % 2 else 'b'}" for i in range(200))
    base = kit.imported(kit.dataset("people", "tabular").id, "p.csv", f"age,postcode,label\n{rows}".encode())
    new = _deid(kit, runtime, base.id, k_anonymity={"quasi_identifiers": ["age", "postcode"], "k": 5})
    with runtime.session() as session:
        report = data.get_report(session, runtime.blobs, kit.actor, new.id)
    assert report["k_anonymity"]["k_reached"] >= 5
    groups: dict[tuple, int] = {}
    for record in kit.records(new.id, limit=500).items:
        key = (record["age"], record["postcode"])
        groups[key] = groups.get(key, 0) + 1
    assert min(groups.values()) >= 5


def test_faces_in_images_are_hidden(kit, runtime):
    face = png(drawn_face())
    base = kit.imported(kit.dataset("photos", "image").id, "p.zip", zip_bytes({"people/1.png": face}))
    new = _deid(kit, runtime, base.id, faces="blur")
    record = kit.records(new.id).items[0]
    with runtime.session() as session:
        report = data.get_report(session, runtime.blobs, kit.actor, new.id)
    assert report["images"]["faces"] >= 1 and report["images"]["residual_faces"] == 0
    from aicommons.data.deid import count_faces

    assert count_faces(runtime.blobs.read_bytes(record["file_sha256"])) == 0


def test_bad_policies_and_fields_are_refused_before_anything_is_queued(kit, runtime):
    base = kit.imported(kit.dataset().id, "pii.csv", CSV)
    with pytest.raises(Invalid, match="shred"):
        data.DeidParams(policy="default: shred\n")
    with runtime.session() as session, pytest.raises(Invalid, match="nope"):
        data.start_deid(session, kit.actor, base.id, data.DeidParams(fields=["nope"]))


