"""The registry over HTTP: 4xx bodies name the problem and change nothing; downloads import back."""

from __future__ import annotations

import io

from support import assert_db_unchanged, auth, db_state

BASE = "/api/v1/observatory/enterprises"
HIKVISION = "91330000733796106P"


def body(**overrides) -> dict:
    return {"credit_code": HIKVISION, "name": "杭州海康威视数字技术股份有限公司", "city": "杭州", "district": "滨江",
            "tiers": ["tech-leader"], "ai_fields": ["视觉智能"], "revenue": {"2023": 89300000000}, **overrides}


def test_officials_register_and_search_and_the_linked_org_reads(client, world, official):
    created = client.post(BASE, json=body(org_id=world.org_a), headers=auth(official))
    assert created.status_code == 201, created.text
    assert created.json()["district"] == "滨江区" and created.json()["ai_fields"] == ["computer-vision"]
    assert created.json()["revenue"] == {"2023": 89300000000}
    listed = client.get(BASE, params={"city": "Hangzhou", "tier": "科技领军企业"}, headers=auth(official)).json()
    assert [e["credit_code"] for e in listed["items"]] == [HIKVISION]
    assert client.get(f"{BASE}/{HIKVISION.lower()}", headers=auth(world.a_member)).status_code == 200
    assert [e["credit_code"] for e in client.get(f"{BASE}/mine", headers=auth(world.a_member)).json()] == [HIKVISION]
    patched = client.patch(f"{BASE}/{HIKVISION}", json={"standards": 4, "revenue": {"2024": 1}}, headers=auth(official))
    assert patched.status_code == 200 and patched.json()["revenue"] == {"2023": 89300000000, "2024": 1}
    assert client.delete(f"{BASE}/{HIKVISION}", headers=auth(official)).status_code == 204
    assert client.get(f"{BASE}/{HIKVISION}", headers=auth(official)).status_code == 404


def test_refusals_are_json_naming_the_problem_and_change_nothing(client, runtime, world, official):
    assert client.post(BASE, json=body(org_id=world.org_a), headers=auth(official)).status_code == 201
    before = db_state(runtime)
    cases = [
        (client.post(BASE, json=body(credit_code="9133000073379610"), headers=auth(official)), 422, "must have 18 characters"),
        (client.post(BASE, json=body(credit_code="91330000733796106Q"), headers=auth(official)), 422, "check character 'Q'"),
        (client.post(BASE, json=body(city="南京"), headers=auth(official)), 422, "not a prefecture-level city of Zhejiang"),
        (client.post(BASE, json=body(tiers=["world-leader"]), headers=auth(official)), 422, "tiers.0"),
        (client.post(BASE, json=body(), headers=auth(official)), 409, "already registered"),
        (client.post(BASE, json=body(credit_code="91330000727215176K"), headers=auth(world.a_admin)), 403, "government org may register"),
        (client.get(BASE, headers=auth(world.a_admin)), 403, "list or search"),
        (client.get(f"{BASE}/{HIKVISION}", headers=auth(world.b_admin)), 404, "No enterprise with id"),
        (client.patch(f"{BASE}/{HIKVISION}", json={"name": "x"}, headers=auth(world.a_admin)), 403, "change enterprise records"),
        (client.patch(f"{BASE}/{HIKVISION}", json={"district": "鄞州"}, headers=auth(official)), 422, "'鄞州' is not in 杭州市"),
        (client.delete(f"{BASE}/{HIKVISION}", headers=auth(world.a_member)), 403, "delete enterprise records"),
        (client.get(BASE, params={"tier": "gold"}, headers=auth(official)), 422, "'tier' parameter of list_enterprises"),
        (client.get(f"{BASE}/export", params={"format": "pdf"}, headers=auth(official)), 422, "format"),
        (client.post(f"{BASE}/import", files={"file": ("a.png", b"\x89PNG\r\n\x1a\n\x00\x00", "image/png")}, headers=auth(official)), 422, "neither CSV"),
        (client.post(f"{BASE}/import", files={"file": ("a.csv", b"x,y\n1,2\n", "text/csv")}, headers=auth(world.b_admin)), 403, "import enterprises"),
        (client.post(f"{BASE}/samples", headers=auth(world.b_admin)), 403, "add sample enterprises"),
    ]
    for response, status, fragment in cases:
        assert response.status_code == status, (fragment, response.text)
        assert fragment in response.json()["error"]["message"], response.text
    assert_db_unchanged(before, db_state(runtime))


def test_import_reports_rows_and_export_downloads_back(client, world, official):
    upload = (
        "credit_code,name,city,district\n"
        f"{HIKVISION},海康威视,杭州,滨江\n"
        "91330000727215176X,坏码,杭州,\n"
    ).encode()
    report = client.post(f"{BASE}/import", files={"file": ("list.csv", upload, "text/csv")}, headers=auth(official))
    assert report.status_code == 200, report.text
    assert report.json()["created"] == 1 and report.json()["failed"] == 1
    assert report.json()["errors"] == [{"row": 3, "column": "credit_code", "message": "The credit code '91330000727215176X' ends with check character 'X', but the first 17 characters give 'K'."}]
    assert client.post(f"{BASE}/samples", params={"count": 10}, headers=auth(official)).json() == {"created": 10, "updated": 0, "unchanged": 0}
    download = client.get(f"{BASE}/export", params={"format": "xlsx", "sample": "false"}, headers=auth(official))
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("application/vnd.openxmlformats")
    assert 'filename="enterprises.xlsx"' in download.headers["content-disposition"]
    from openpyxl import load_workbook

    rows = list(load_workbook(io.BytesIO(download.content), read_only=True).worksheets[0].iter_rows(values_only=True))
    assert [r[0] for r in rows[1:]] == [HIKVISION]
    again = client.post(f"{BASE}/import", files={"file": ("back.xlsx", download.content)}, headers=auth(official)).json()
    assert (again["format"], again["unchanged"], again["failed"]) == ("xlsx", 1, 0)


def test_the_vocabulary_lists_tiers_fields_and_regions(client):
    vocabulary = client.get(f"{BASE}/vocabulary").json()
    assert {"value": "little-giant", "label": "专精特新“小巨人”企业"} in vocabulary["tiers"]
    assert len(vocabulary["cities"]) == 11 and vocabulary["cities"][0]["districts"][0] == {"code": "330102", "name": "上城区"}
