"""The data service over HTTP: streamed upload, job progress, browsing, files, diffs, refusals."""

from __future__ import annotations

import json

from datakit import REVIEWS_CSV, DataKit, png, zip_bytes
from support import assert_db_unchanged, auth, db_state

API = "/api/v1"


def _create(client, member, name="reviews", modality="text", **extra):
    response = client.post(f"{API}/datasets", json={"name": name, "modality": modality, **extra}, headers=auth(member))
    assert response.status_code == 201, response.text
    return response.json()


def _import(client, runtime, member, dataset_id, filename, payload, **form):
    response = client.post(
        f"{API}/datasets/{dataset_id}/imports", files={"file": (filename, payload)}, data=form, headers=auth(member)
    )
    assert response.status_code == 202, response.text
    job = DataKit(runtime, member.actor).run(_Job(response.json()["id"]))
    return job


class _Job:
    def __init__(self, job_id):
        self.id = job_id


def test_upload_import_then_browse_over_http(client, runtime, world):
    dataset = _create(client, world.a_member)
    job = _import(client, runtime, world.a_member, dataset["id"], "reviews.csv", REVIEWS_CSV)
    assert job.status == "succeeded" and job.progress == 1.0
    polled = client.get(f"{API}/jobs/{job.id}", headers=auth(world.a_member)).json()
    version_id = polled["result"]["version_id"]
    versions = client.get(f"{API}/datasets/{dataset['id']}/versions", headers=auth(world.a_member)).json()
    assert [v["id"] for v in versions] == [version_id]
    where = json.dumps([{"column": "text", "op": "contains", "value": "service"}])
    page = client.get(f"{API}/versions/{version_id}/records", params={"where": where}, headers=auth(world.a_member)).json()
    assert page["total"] == 1 and page["items"][0]["label"] == "negative"


def test_image_files_download_and_other_orgs_get_404(client, runtime, world):
    dataset = _create(client, world.a_member, "pets", "image")
    job = _import(client, runtime, world.a_member, dataset["id"], "pets.zip", zip_bytes({"cat/1.png": png()}))
    version_id = job.result["version_id"]
    record = client.get(f"{API}/versions/{version_id}/records", headers=auth(world.a_member)).json()["items"][0]
    image = client.get(f"{API}/versions/{version_id}/records/{record['record_id']}/file", headers=auth(world.a_member))
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content == png()
    for path in (
        f"/datasets/{dataset['id']}", f"/versions/{version_id}", f"/versions/{version_id}/records",
        f"/versions/{version_id}/records/{record['record_id']}/file",
    ):
        response = client.get(API + path, headers=auth(world.b_admin))
        assert response.status_code == 404, path
    upload = client.post(
        f"{API}/datasets/{dataset['id']}/imports", files={"file": ("x.csv", b"text\nhi\n")}, headers=auth(world.b_admin)
    )
    assert upload.status_code == 404


def test_bad_uploads_and_parameters_are_4xx_and_change_nothing(client, runtime, world):
    dataset = _create(client, world.a_member)
    version = _import(client, runtime, world.a_member, dataset["id"], "r.csv", REVIEWS_CSV).result["version_id"]
    before = db_state(runtime)
    bomb = client.post(
        f"{API}/datasets/{dataset['id']}/imports",
        files={"file": ("bomb.zip", zip_bytes({"z.csv": b"0" * (64 << 20)}))}, headers=auth(world.a_member),
    )
    assert bomb.status_code == 422 and "zip bomb" in bomb.json()["error"]["message"]
    evil = client.post(
        f"{API}/datasets/{dataset['id']}/imports",
        files={"file": ("evil.zip", zip_bytes({"../../x.csv": b"text\nhi\n"}))}, headers=auth(world.a_member),
    )
    assert evil.status_code == 422 and "'..'" in evil.json()["error"]["message"]
    empty = client.post(f"{API}/datasets/{dataset['id']}/imports", files={"file": ("e.csv", b"")}, headers=auth(world.a_member))
    assert empty.status_code == 422 and "empty" in empty.json()["error"]["message"]
    bad_where = client.get(f"{API}/versions/{version}/records", params={"where": "[{"}, headers=auth(world.a_member))
    assert bad_where.status_code == 422 and "where" in bad_where.json()["error"]["message"]
    bad_split = client.post(f"{API}/versions/{version}/split", json={"train": 0.9, "validation": 0.9, "test": 0}, headers=auth(world.a_member))
    assert bad_split.status_code == 422 and "add up to 1" in bad_split.json()["error"]["message"]
    bad_format = client.post(
        f"{API}/datasets/{dataset['id']}/imports", files={"file": ("x.csv", b"text\nhi\n")}, data={"format": "xlsx"},
        headers=auth(world.a_member),
    )
    assert bad_format.status_code == 422 and "Unknown import format 'xlsx'" in bad_format.json()["error"]["message"]
    assert_db_unchanged(before, db_state(runtime))


def test_export_over_http_then_download_the_zip(client, runtime, world):
    dataset = _create(client, world.a_member)
    version_id = _import(client, runtime, world.a_member, dataset["id"], "r.csv", REVIEWS_CSV).result["version_id"]
    queued = client.post(f"{API}/versions/{version_id}/exports", params={"format": "jsonl"}, headers=auth(world.a_member))
    assert queued.status_code == 202
    early = client.get(f"{API}/exports/{queued.json()['id']}/download", headers=auth(world.a_member))
    assert early.status_code == 409
    DataKit(runtime, world.a_member.actor).run(_Job(queued.json()["id"]))
    download = client.get(f"{API}/exports/{queued.json()['id']}/download", headers=auth(world.a_member))
    assert download.status_code == 200 and download.headers["content-type"] == "application/zip"
    import io
    import zipfile

    lines = zipfile.ZipFile(io.BytesIO(download.content)).read("data.jsonl").decode().splitlines()
    assert len(lines) == 6 and json.loads(lines[0])["label"] in {"positive", "negative"}
    assert client.get(f"{API}/exports/{queued.json()['id']}/download", headers=auth(world.b_admin)).status_code == 404


def test_clean_over_http_writes_a_child_version_with_a_report(client, runtime, world):
    dataset = _create(client, world.a_member)
    payload = REVIEWS_CSV + "Great value for the price,positive\n".encode()
    version_id = _import(client, runtime, world.a_member, dataset["id"], "r.csv", payload).result["version_id"]
    queued = client.post(f"{API}/versions/{version_id}/clean", json={"operation": "dedup"}, headers=auth(world.a_member))
    assert queued.status_code == 202
    child = DataKit(runtime, world.a_member.actor).run(_Job(queued.json()["id"])).result["version_id"]
    report = client.get(f"{API}/versions/{child}/report", headers=auth(world.a_member)).json()
    assert report["removed"] == 1
    bad = client.post(f"{API}/versions/{version_id}/clean", json={"operation": "shred"}, headers=auth(world.a_member))
    assert bad.status_code == 422 and "operation" in bad.json()["error"]["message"]
    assert client.get(f"{API}/versions/{child}/report", headers=auth(world.b_admin)).status_code == 404
