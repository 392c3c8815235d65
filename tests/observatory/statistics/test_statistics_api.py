"""The statistics API: targets and progress for everyone signed in, writes for officials, 4xx bodies naming the problem."""

from __future__ import annotations

from support import assert_db_unchanged, auth, db_state


def test_targets_and_progress_are_readable_by_every_signed_in_actor(client, world):
    assert client.get("/api/v1/observatory/targets").status_code == 401
    listed = client.get("/api/v1/observatory/targets", params={"document": "001"}, headers=auth(world.a_member))
    assert listed.status_code == 200 and len(listed.json()) == 13
    one = client.get("/api/v1/observatory/targets/001-ai-enterprises", headers=auth(world.b_member)).json()
    assert (one["value"], one["citation"], one["quote"]) == (3000, "001 一(二)", "人工智能企业达到3000家")
    assert client.get("/api/v1/observatory/targets/001-nope", headers=auth(world.b_member)).status_code == 404
    assert any(i["key"] == "platform.datasets" and i["platform"] for i in client.get("/api/v1/observatory/indicators", headers=auth(world.a_member)).json())
    progress = client.get("/api/v1/observatory/progress/001-ai-enterprises", headers=auth(world.a_member)).json()
    assert progress["verdict"] == "no_data"
    bad = client.get("/api/v1/observatory/progress", params={"as_of": "2026Q5"}, headers=auth(world.a_member))
    assert bad.status_code == 422 and "2026Q5" in bad.json()["error"]["message"]


def test_officials_record_import_compute_and_evaluate(client, runtime, world, official):
    headers = {"Authorization": f"Bearer {official.token}"}
    made = client.post("/api/v1/observatory/observations", json={"indicator": "ai_enterprises", "region": "浙江省", "quarter": "2026Q3", "value": 2100}, headers=headers)
    assert made.status_code == 201 and made.json()["region"] == "330000"
    progress = client.get("/api/v1/observatory/progress", params={"document": "001"}, headers=auth(world.b_member)).json()
    assert progress[0]["latest"] == 2100 and progress[0]["verdict"] == "off_track"
    csv = "indicator,region,quarter,value\nindustry_models,杭州市,2025Q4,12\nindustry_models,宁波市,2025Q4,x\n"
    imported = client.post("/api/v1/observatory/observations/import", files={"file": ("q.csv", csv.encode(), "text/csv")}, headers=headers)
    assert imported.status_code == 200
    assert (len(imported.json()["recorded"]), imported.json()["problems"][0]["row"]) == (1, 3)
    computed = client.post("/api/v1/observatory/observations/compute", json={"indicator": "platform.endpoints", "quarter": "2026Q3"}, headers=headers)
    assert computed.status_code == 201 and len(computed.json()) == 12
    for code, models, enterprises in (("宁波市", 4, 800), ("温州市", 2, 300)):
        for indicator, value in (("industry_models", models), ("ai_enterprises", enterprises)):
            client.post("/api/v1/observatory/observations", json={"indicator": indicator, "region": code, "quarter": "2025Q4", "value": value}, headers=headers)
    client.post("/api/v1/observatory/observations", json={"indicator": "ai_enterprises", "region": "杭州市", "quarter": "2025Q4", "value": 1200}, headers=headers)
    evaluation = client.post("/api/v1/observatory/evaluations", json={"year": 2025, "indicators": [{"indicator": "industry_models"}, {"indicator": "ai_enterprises"}]},
                             headers=headers)
    assert evaluation.status_code == 201, evaluation.text
    assert [r["region_name"] for r in evaluation.json()["rows"]] == ["杭州市", "宁波市", "温州市"]
    assert "嘉兴市" in " ".join(evaluation.json()["left_out"])
    ranking = client.get("/api/v1/observatory/ranking/2025", headers=auth(world.a_member))
    assert ranking.status_code == 200 and ranking.json()["id"] == evaluation.json()["id"]
    listed = client.get("/api/v1/observatory/observations", params={"indicator": "ai_enterprises", "region": "330000"}, headers=auth(world.a_member)).json()
    assert [o["value"] for o in listed["items"]] == [2100]


def test_refusals_change_nothing(client, runtime, world, official):
    headers = {"Authorization": f"Bearer {official.token}"}
    before = db_state(runtime)
    for body, status, words in [
        ({"indicator": "ai_enterprises", "region": "330100", "quarter": "2026Q5", "value": 1}, 422, "2026Q5"),
        ({"indicator": "ai_enterprise", "region": "330100", "quarter": "2026Q3", "value": 1}, 422, "ai_enterprise"),
        ({"indicator": "ai_enterprises", "region": "330100", "quarter": "2026Q3", "value": "lots"}, 422, "lots"),
    ]:
        response = client.post("/api/v1/observatory/observations", json=body, headers=headers)
        assert response.status_code == status and words in response.json()["error"]["message"], response.text
    forbidden = client.post("/api/v1/observatory/observations", json={"indicator": "ai_enterprises", "region": "330100", "quarter": "2026Q3", "value": 1},
                            headers=auth(world.a_admin))
    assert forbidden.status_code == 403 and "record statistics" in forbidden.json()["error"]["message"]
    refused = client.post("/api/v1/observatory/evaluations", json={"year": 2025, "indicators": [{"indicator": "ai_enterprises"}, {"indicator": "industry_models"}]},
                          headers=auth(world.a_member))
    assert refused.status_code == 403
    assert client.get("/api/v1/observatory/ranking/2025", headers=auth(world.a_member)).status_code == 404
    assert_db_unchanged(before, db_state(runtime))
