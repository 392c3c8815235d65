"""Subsidies over HTTP: items, quote (nothing stored), apply, list, show, decide; 4xx bodies name the problem and change nothing."""

from __future__ import annotations

from support import assert_db_unchanged, auth, db_state

BASE = "/api/v1/observatory/subsidies"


def body(**overrides) -> dict:
    return {"item": "service-platform", "bases": {"actual_investment": "8000000", "hardware_software_investment": 6000000},
            "year": 2025, "project_key": "open-platform", "evidence": "验收报告 2025-03", **overrides}  # fmt: skip


def test_items_quote_apply_and_decide(client, world, official, runtime):
    items = client.get(f"{BASE}/items", headers=auth(world.a_member)).json()
    assert len(items) == 22 and items[2]["id"] == "key-lab" and items[2]["rule"].startswith("fixed by level: national (国家重点实验室) 10,000,000.00")
    assert client.get(f"{BASE}/items/incubator").json()["text"] == "人工智能企业注册家数、租赁面积占比均达到30%、50%的，分别奖励100万元、200万元"
    assert "从高、从优、不重复" in client.get(f"{BASE}/policy").json()["overlap"]["principle"]
    before = db_state(runtime)
    quoted = client.post(f"{BASE}/quote", json=body(), headers=auth(world.a_member))
    assert quoted.status_code == 200, quoted.text
    assert quoted.json()["payable"] == "1800000.00" and quoted.json()["arithmetic"][-1] == "Payable: 1,800,000.00 yuan"
    assert_db_unchanged(before, db_state(runtime))
    created = client.post(f"{BASE}/applications", json=body(), headers=auth(world.a_member))
    assert created.status_code == 201, created.text
    application = created.json()
    assert (application["status"], application["quoted"], application["org_id"], application["clause"]) == ("pending", "1800000.00", world.org_a, "三.3")
    assert application["bases"] == {"actual_investment": "8000000", "hardware_software_investment": "6000000"}
    listed = client.get(f"{BASE}/applications", params={"status": "pending"}, headers=auth(official)).json()
    assert [a["id"] for a in listed["items"]] == [application["id"]]
    approved = client.post(f"{BASE}/applications/{application['id']}/approve", json={"reason": "成效良好"}, headers=auth(official))
    assert approved.status_code == 200 and approved.json()["amount"] == "1800000.00"
    shown = client.get(f"{BASE}/applications/{application['id']}", headers=auth(world.a_member)).json()
    assert shown["status"] == "approved" and shown["decision"][-1] == "Payable: 1,800,000.00 yuan"
    other = client.post(f"{BASE}/applications", json=body(item="rd-centre", level="city", bases={}, project_key="centre"), headers=auth(world.a_member)).json()
    rejected = client.post(f"{BASE}/applications/{other['id']}/reject", json={"reason": "not newly recognised"}, headers=auth(official))
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"


def test_refusals_are_json_naming_the_problem_and_change_nothing(client, world, official, runtime):
    pending = client.post(f"{BASE}/applications", json=body(), headers=auth(world.a_member)).json()
    before = db_state(runtime)
    apply = f"{BASE}/applications"
    cases = [
        (client.post(apply, json=body(item="moon-base"), headers=auth(world.a_member)), 422, "must be an item of 002 三"),
        (client.post(apply, json=body(item="key-lab", level="city", bases={}), headers=auth(world.a_member)), 422, "must be one of national (国家重点实验室), provincial"),
        (client.post(apply, json=body(bases={"actual_investment": 8000000}), headers=auth(world.a_member)), 422, "'hardware_software_investment' was not given"),
        (client.post(apply, json=body(bases={"actual_investment": 4000000, "hardware_software_investment": 4000000}), headers=auth(world.a_member)), 422, "NOT met"),
        (client.post(apply, json=body(year=2018), headers=auth(world.a_member)), 422, "year"),
        (client.post(apply, json=body(bases={"actual_investment": "lots", "hardware_software_investment": 1}), headers=auth(world.a_member)), 422, "bases.actual_investment"),
        (client.post(f"{BASE}/quote", json=body(level="national"), headers=auth(world.a_member)), 422, "has no levels"),
        (client.post(apply, json=body()), 401, "Authentication required"),
        (client.post(f"{apply}/{pending['id']}/approve", json={"reason": "ok"}, headers=auth(world.a_admin)), 403, "government org may approve"),
        (client.post(f"{apply}/{pending['id']}/approve", json={"reason": ""}, headers=auth(official)), 422, "reason"),
        (client.post(f"{apply}/{pending['id']}/approve", json={"reason": "ok", "amount": "9000000"}, headers=auth(official)), 422, "may not exceed what is payable"),
        (client.post(f"{apply}/{pending['id']}/reject", json={"reason": "no"}, headers=auth(world.b_member)), 403, "reject subsidy applications"),
        (client.get(f"{apply}/{pending['id']}", headers=auth(world.b_member)), 404, "No subsidy_application with id"),
        (client.get(apply, params={"org_id": world.org_a}, headers=auth(world.b_member)), 403, "Only officials may list another org's"),
        (client.get(apply, params={"item": "gold"}, headers=auth(official)), 422, "must be an item of 002 三"),
        (client.get(f"{BASE}/items/gold"), 422, "got 'gold' instead"),
    ]
    for response, status, fragment in cases:
        assert response.status_code == status, (fragment, response.text)
        assert fragment in response.text, (fragment, response.text)
    assert_db_unchanged(before, db_state(runtime))
