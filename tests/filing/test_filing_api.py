"""Filing over HTTP: the whole flow with tokens, the public registry without one, refusals, and
the serving guard on public endpoints."""

from __future__ import annotations

import hashlib
import time

import pytest
from filingkit import FilingKit
from sklearn.datasets import load_breast_cancer
from support import assert_db_unchanged, auth, db_state

from aicommons import filing, models

API = "/api/v1"


@pytest.fixture
def fk(runtime, world):
    return FilingKit(runtime, world)


def _filed_over_http(client, fk):
    """Create, attach evidence, answer, submit, test and approve through the API."""
    member = fk.applicant
    created = client.post(f"{API}/filings", json=fk.application(), headers=auth(member))
    assert created.status_code == 201, created.text
    filing_id = created.json()["id"]
    upload = client.post(f"{API}/filings/{filing_id}/evidence", files={"file": ("oversight.pdf", b"%PDF evidence", "application/pdf")}, headers=auth(member))
    assert upload.status_code == 201, upload.text
    sha256 = upload.json()["sha256"]
    assert sha256 == hashlib.sha256(b"%PDF evidence").hexdigest()
    evidence = client.get(f"{API}/filings/{filing_id}/evidence/{sha256}", headers=auth(member))
    assert evidence.content == b"%PDF evidence" and evidence.headers["content-type"] == "application/pdf"
    patched = client.patch(f"{API}/filings/{filing_id}", json={"answers": fk.answers(sha256)}, headers=auth(member))
    assert patched.status_code == 200, patched.text
    submitted = client.post(f"{API}/filings/{filing_id}/submit", headers=auth(member))
    assert submitted.status_code == 200 and submitted.json()["status"] == "testing", submitted.text
    fk.run_evaluation(filing_id)
    waiting = client.get(f"{API}/filings/{filing_id}", headers=auth(fk.reviewer))
    assert waiting.json()["status"] == "in_review" and waiting.json()["grade"]["level"] in ("低", "中", "高")
    draft_report = client.get(f"{API}/filings/{filing_id}/report.html", headers=auth(fk.reviewer))
    assert draft_report.status_code == 200 and "text/html" in draft_report.headers["content-type"]  # what the reviewer reads
    review = {"decision": "approve", "judgements": fk.judgements(), "comment": "Meets every item."}
    approved = client.post(f"{API}/filings/{filing_id}/review", json=review, headers=auth(fk.reviewer))
    assert approved.status_code == 200, approved.text
    return approved.json()


def test_the_whole_flow_over_http_and_the_public_registry(client, runtime, fk):
    approved = _filed_over_http(client, fk)
    number, filing_id = approved["number"], approved["id"]
    assert approved["status"] == "approved" and number.startswith("ZJAI-")

    certificate = client.get(f"{API}/filings/{filing_id}/certificate", headers=auth(fk.applicant))
    assert certificate.status_code == 200 and certificate.headers["content-type"].startswith("application/json")
    document = certificate.json()
    report = client.get(f"{API}/filings/{filing_id}/report.html", headers=auth(fk.applicant))
    assert hashlib.sha256(report.content).hexdigest() == document["payload"]["report_sha256"]
    for name in ("certificate.pdf", "report.pdf"):
        response = client.get(f"{API}/filings/{filing_id}/{name}", headers=auth(fk.applicant))
        assert response.status_code == 200 and response.content.startswith(b"%PDF"), name

    # Anyone, without a token: the key, the registry, the public report, the revocation list.
    public_key = client.get(f"{API}/registry/public-key")
    assert public_key.status_code == 200 and public_key.content.startswith(b"-----BEGIN PUBLIC KEY-----")
    revocations = client.get(f"{API}/registry/revocations").json()
    assert filing.check_certificate(document, public_key.content, revocations).status == "valid"
    listed = client.get(f"{API}/registry", params={"org": "org a", "task": "tabular-classification", "status": "approved"}).json()
    assert [(e["number"], e["model_name"], e["org_name"]) for e in listed["items"]] == [(number, "cancer", "Org A")]
    level = approved["grade"]["level"]
    assert client.get(f"{API}/registry", params={"risk_level": level}).json()["items"][0]["risk_level"] == level
    assert client.get(f"{API}/registry", params={"q": "screening"}).json()["items"][0]["number"] == number
    assert client.get(f"{API}/registry", params={"q": "nothing like it"}).json()["items"] == []
    entry = client.get(f"{API}/registry/{number}").json()
    assert entry["risk_level"] == level and entry["reasons"] and entry["evaluation"]["suite"] == "filing"
    assert "self_assessment" not in entry and "contact" not in entry  # the applicant's private parts stay private
    public_report = client.get(entry["report_url"])
    assert public_report.status_code == 200 and number in public_report.text
    assert client.get(f"{API}/registry/ZJAI-1999-000001").status_code == 404

    revoked = client.post(f"{API}/filings/{filing_id}/revoke", json={"reason": "misses small tumours"}, headers=auth(fk.reviewer))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    revocations = client.get(f"{API}/registry/revocations").json()
    assert filing.check_certificate(document, public_key.content, revocations).status == "revoked"
    assert client.get(f"{API}/registry/{number}").json()["status"] == "revoked"
    assert client.get(f"{API}/registry", params={"status": "revoked"}).json()["items"][0]["end_reason"] == "misses small tumours"


def test_wrong_actors_get_403_and_strangers_404(client, runtime, fk):
    world = fk.world
    waiting = fk.in_review()
    review = {"decision": "approve", "judgements": fk.judgements()}
    own_reviewer = fk.person("reviewer@a.test", world.org_a, reviewer=True)
    refused = client.post(f"{API}/filings/{waiting.id}/review", json=review, headers=auth(own_reviewer))
    assert refused.status_code == 403 and "may not approve its own filing" in refused.json()["error"]["message"]
    for member in (world.b_admin, world.a_admin, world.operator):
        response = client.post(f"{API}/filings/{waiting.id}/review", json=review, headers=auth(member))
        assert response.status_code == 403 and "reviewers" in response.json()["error"]["message"]
    draft = client.post(f"{API}/filings", json=fk.application(fk.copy_version().id), headers=auth(fk.applicant)).json()
    assert client.get(f"{API}/filings/{draft['id']}", headers=auth(world.b_member)).status_code == 404
    assert client.get(f"{API}/filings/{draft['id']}", headers=auth(fk.reviewer)).status_code == 404
    assert client.get(f"{API}/filings/{draft['id']}/certificate", headers=auth(fk.applicant)).status_code == 404
    assert client.get(f"{API}/filings", headers=auth(world.b_member)).json()["items"] == []
    assert client.get(f"{API}/filings").status_code == 401
    upload = client.post(f"{API}/filings/{draft['id']}/evidence", files={"file": ("x.txt", b"x")}, headers=auth(world.b_member))
    assert upload.status_code == 404
    member_revokes = client.post(f"{API}/filings/{waiting.id}/revoke", json={"reason": "x"}, headers=auth(world.a_admin))
    assert member_revokes.status_code == 403


def test_bad_input_is_refused_naming_the_problem_and_changes_nothing(client, runtime, fk, monkeypatch):
    waiting = fk.in_review()
    draft = client.post(f"{API}/filings", json=fk.application(fk.copy_version().id, contact=""), headers=auth(fk.applicant)).json()
    monkeypatch.setattr(filing.filings, "MAX_EVIDENCE_BYTES", 10)
    before = db_state(runtime)
    member = auth(fk.applicant)
    cases = [
        ("post", "/filings", {"json": fk.application(service_form="fax")}, member, 422, "service_form"),
        ("post", "/filings", {"json": fk.application(evaluation_params={"astrology": {}})}, member, 422, "astrology"),
        ("post", "/filings", {"json": {**fk.application(), "colour": "red"}}, member, 422, "colour"),
        ("post", "/filings", {"json": fk.application()}, member, 409, "already has filing"),
        ("post", f"/filings/{draft['id']}/submit", {}, member, 422, "'contact'"),
        ("post", f"/filings/{draft['id']}/evidence", {"files": {"file": ("big.bin", b"x" * 11)}}, member, 422, "larger than"),
        ("patch", f"/filings/{waiting.id}", {"json": {"contact": "x@a.test"}}, member, 409, "in_review"),
        ("post", f"/filings/{waiting.id}/review", {"json": {"decision": "approve", "judgements": fk.judgements()[:3]}}, auth(fk.reviewer), 422, "must be judged"),
        ("post", f"/filings/{waiting.id}/review", {"json": {"decision": "maybe", "judgements": []}}, auth(fk.reviewer), 422, "decision"),
        ("post", f"/filings/{waiting.id}/revoke", {"json": {"reason": ""}}, auth(fk.reviewer), 422, "reason"),
        ("post", f"/filings/{waiting.id}/revoke", {"json": {"reason": "early"}}, auth(fk.reviewer), 409, "only an approved filing"),
        ("get", "/registry", {"params": {"risk_level": "extreme"}}, {}, 422, "risk_level"),
        ("get", "/registry", {"params": {"status": "draft"}}, {}, 422, "status"),
    ]
    for method, path, request, headers, status, needle in cases:
        response = getattr(client, method)(f"{API}{path}", headers=headers, **request)
        assert response.status_code == status, (path, response.text)
        assert needle in response.json()["error"]["message"], (path, response.text)
    assert_db_unchanged(before, db_state(runtime))


def _predict(client, member, name, features):
    return client.post(f"{API}/endpoints/{name}/predict", json={"inputs": {"features": features}}, headers=auth(member))


def test_a_public_endpoint_serves_other_orgs_only_while_its_version_is_filed(client, runtime, fk):
    world = fk.world
    features = load_breast_cancer().data[:2].astype("float32").tolist()
    spec = {"name": "cancer-public", "model_id": fk.model.id, "version": "1", "visibility": "public"}
    refused = client.post(f"{API}/endpoints", json=spec, headers=auth(fk.applicant))
    assert refused.status_code == 403 and "not covered by an approved filing" in refused.json()["error"]["message"]
    private = client.post(f"{API}/endpoints", json={**spec, "visibility": "private"}, headers=auth(fk.applicant))
    assert private.status_code == 201
    assert client.patch(f"{API}/endpoints/cancer-public", json={"visibility": "public"}, headers=auth(world.a_member)).status_code == 403  # admins decide
    assert client.patch(f"{API}/endpoints/cancer-public", json={"visibility": "public"}, headers=auth(world.a_admin)).status_code == 403  # not filed
    assert _predict(client, world.b_member, "cancer-public", features).status_code == 404

    approved = fk.approved()
    made_public = client.patch(f"{API}/endpoints/cancer-public", json={"visibility": "public"}, headers=auth(world.a_admin))
    assert made_public.status_code == 200 and made_public.json()["visibility"] == "public"
    called = _predict(client, world.b_member, "cancer-public", features)
    assert called.status_code == 200 and called.json()["model_version_id"] == fk.version.id
    assert "cancer-public" in [e["name"] for e in client.get(f"{API}/endpoints", headers=auth(world.b_member)).json()]

    client.post(f"{API}/filings/{approved.id}/revoke", json={"reason": "withdrawn"}, headers=auth(fk.reviewer))
    time.sleep(1.1)  # callers' cached view of an endpoint lasts a second
    after = _predict(client, world.b_member, "cancer-public", features)
    assert after.status_code == 403 and "not covered by an approved filing" in after.json()["error"]["message"]
    assert _predict(client, world.a_member, "cancer-public", features).status_code == 200  # its own org still may


def test_an_alias_moving_to_an_unfiled_version_stops_public_calls(client, runtime, fk):
    world = fk.world
    features = load_breast_cancer().data[:1].astype("float32").tolist()
    unfiled = fk.copy_version()
    fk.approved()
    with runtime.session() as session:
        models.set_alias(session, fk.applicant.actor, fk.model.id, "production", fk.version.id)
    spec = {"name": "cancer-prod", "model_id": fk.model.id, "version": "production", "visibility": "public"}
    assert client.post(f"{API}/endpoints", json=spec, headers=auth(fk.applicant)).status_code == 201
    assert _predict(client, world.b_member, "cancer-prod", features).status_code == 200
    with runtime.session() as session:
        models.set_alias(session, fk.applicant.actor, fk.model.id, "production", unfiled.id)
    time.sleep(1.1)
    assert _predict(client, world.b_member, "cancer-prod", features).status_code == 403
    mine = _predict(client, world.a_member, "cancer-prod", features)
    assert mine.status_code == 200 and mine.json()["model_version_id"] == unfiled.id
    moved = client.patch(f"{API}/endpoints/cancer-prod", json={"version": str(unfiled.number)}, headers=auth(world.a_member))
    assert moved.status_code == 403  # a public endpoint cannot be pointed at an unfiled version
