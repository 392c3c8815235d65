"""The filing workflow through its service functions: apply, test, grade, review, issue, change, end."""

from __future__ import annotations

import hashlib
import io
import json
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from filingkit import FilingKit
from support import assert_db_unchanged, db_state

from aicommons import evaluation, filing
from aicommons.core import audit, jobs
from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound
from aicommons.core.tables import AuditEntry
from aicommons.filing import certificates


@pytest.fixture
def fk(runtime, world):
    return FilingKit(runtime, world)


def _read(fk, filing_id, actor=None):
    with fk.runtime.session() as session:
        return filing.get_filing(session, actor or fk.applicant.actor, filing_id)


def _review(fk, filing_id, decision="approve", actor=None, comment="", **verdicts):
    with fk.runtime.session() as session:
        return filing.review_filing(
            session, fk.issuer, actor or fk.reviewer.actor, filing_id,
            filing.FilingReview(decision=decision, judgements=fk.judgements(**verdicts), comment=comment),
        )


def test_a_filing_goes_from_application_to_a_verified_certificate_and_back_to_revoked(fk):
    draft = fk.create_complete()
    assert draft.status == "draft" and draft.model_name == "cancer" and draft.version_number == 1
    assert len(draft.evidence) == 1 and draft.evidence[0].filename == "oversight.txt"

    with fk.runtime.session() as session:
        submitted = filing.submit_filing(session, fk.applicant.actor, draft.id)
        run = evaluation.get_evaluation(session, fk.applicant.actor, submitted.evaluation_id)
    assert submitted.status == "testing" and run.status == "queued" and run.suite == "filing" and run.org_id == fk.world.org_a

    waiting = fk.run_evaluation(draft.id)
    assert waiting.status == "in_review", waiting.message
    policy = filing.GradingPolicy.default()
    assert waiting.grade["level"] in ("低", "中", "高") and waiting.grade["reasons"]
    assert waiting.grade["policy_sha256"] == policy.sha256
    assert waiting.risk_level == waiting.grade["level_en"]
    summary = waiting.evaluation_summary
    assert summary["suite"] == "filing" and summary["counts"]["error"] == 0 and summary["model_sha256"] == fk.version.onnx_sha256
    assert {t["name"]: t["status"] for t in summary["tests"]}["accuracy"] == "passed"

    approved = _review(fk, draft.id, comment="Meets every item.")
    year = datetime.now(UTC).year
    assert approved.status == "approved" and approved.number == f"ZJAI-{year}-000001" and approved.revision == 1
    assert approved.reviewed_by == fk.reviewer.actor.user_id and len(approved.judgements) == len(filing.Checklist.default().items)

    blobs = fk.runtime.blobs
    document = json.loads(blobs.read_bytes(approved.certificate_sha256))
    payload = document["payload"]
    assert payload["kind"] == "aicommons.filing-certificate/v1" and payload["filing_number"] == approved.number
    assert payload["model_sha256"] == fk.version.onnx_sha256 and payload["version_number"] == 1 and payload["model_name"] == "cancer"
    assert payload["org_id"] == fk.world.org_a and payload["org_name"] == "Org A"
    assert payload["risk_level"] == waiting.grade["level"] and payload["risk_level_en"] == waiting.grade["level_en"]
    assert payload["policy_sha256"] == policy.sha256 and payload["evaluation_id"] == run.id
    report = blobs.read_bytes(approved.report_sha256)
    assert payload["report_sha256"] == hashlib.sha256(report).hexdigest() and b"<html" in report.lower()
    assert blobs.read_bytes(approved.report_pdf_sha256).startswith(b"%PDF")
    assert blobs.read_bytes(approved.certificate_pdf_sha256).startswith(b"%PDF")

    public_key = filing.public_key_pem(fk.issuer)
    with fk.runtime.session() as session:
        before_revocation = filing.revocations(session, fk.issuer)
    assert filing.check_certificate(document, public_key, before_revocation).status == "valid"
    tampered = json.loads(json.dumps(document))
    tampered["payload"]["risk_level_en"] = "low" if payload["risk_level_en"] != "low" else "high"
    assert filing.check_certificate(tampered, public_key, before_revocation).status == "tampered"

    with fk.runtime.session() as session:
        listed = filing.search_registry(session, number=approved.number)
        assert [(e.number, e.status) for e in listed.items] == [(approved.number, "approved")]
        assert filing.is_publicly_servable(session, fk.version.id)
        revoked = filing.revoke_filing(session, fk.reviewer.actor, approved.id, filing.FilingEnd(reason="the model misses small tumours"))
    assert revoked.status == "revoked" and revoked.end_reason == "the model misses small tumours"
    with fk.runtime.session() as session:
        after = filing.revocations(session, fk.issuer)
        assert [e["filing_number"] for e in after["payload"]["entries"]] == [approved.number]
        verdict = filing.check_certificate(document, public_key, after)
        assert verdict.status == "revoked" and "misses small tumours" in verdict.message
        assert [e.status for e in filing.search_registry(session, number=approved.number).items] == ["revoked"]
        assert not filing.is_publicly_servable(session, fk.version.id)
        actions = list(session.scalars(sa.select(AuditEntry.action).where(AuditEntry.resource_id == draft.id).order_by(AuditEntry.seq)))
        assert audit.verify_chain(session, fk.world.operator.actor).ok
    assert actions == ["filing.create", "filing.attach", "filing.update", "filing.submit", "filing.grade", "filing.approve", "filing.revoke"]


def test_the_run_carries_the_filings_test_parameters(fk):
    settled = fk.in_review(evaluation_params={"robustness": {"samples": 50, "severities": [1]}, "efficiency": {"budget_s": 0.01}})
    with fk.runtime.session() as session:
        run = evaluation.get_evaluation(session, fk.applicant.actor, settled.evaluation_id)
    robustness = run.result("robustness")
    assert robustness is not None and robustness.params["samples"] == 50 and robustness.params["severities"] == [1]


def test_wrong_actors_are_refused(fk):
    world = fk.world
    waiting = fk.in_review()
    own_reviewer = fk.person("reviewer@a.test", world.org_a, reviewer=True)
    with pytest.raises(Forbidden, match="(?i)an applicant may not approve its own filing"):
        _review(fk, waiting.id, actor=own_reviewer.actor)
    for outsider in (world.b_admin.actor, world.operator.actor, world.a_admin.actor):
        with pytest.raises(Forbidden, match="Only platform reviewers"):
            _review(fk, waiting.id, actor=outsider)
    draft = fk.create_complete(fk.copy_version().id)
    for stranger in (world.b_member.actor, fk.reviewer.actor):
        with pytest.raises(NotFound):
            _read(fk, draft.id, stranger)  # a draft is its org's own business
    with fk.runtime.session() as session:
        listed = filing.list_filings(session, fk.reviewer.actor)
        assert [f.id for f in listed.items] == [waiting.id]  # reviewers see what was submitted
        assert filing.list_filings(session, world.b_member.actor).items == []
        with pytest.raises(NotFound):  # B cannot see A's private model, so cannot file it
            filing.create_filing(session, world.b_member.actor, filing.FilingCreate(**fk.application()))
        with pytest.raises(Forbidden, match="applicant organisation"):
            filing.update_filing(session, fk.reviewer.actor, waiting.id, filing.FilingUpdate(contact="x@y.test"))

    approved = _review(fk, waiting.id)
    with fk.runtime.session() as session:
        with pytest.raises(Forbidden, match="Only platform reviewers and the operator"):
            filing.revoke_filing(session, world.a_admin.actor, approved.id, filing.FilingEnd(reason="no"))
        with pytest.raises(Forbidden, match="Only admins"):
            filing.deregister_filing(session, world.a_member.actor, approved.id, filing.FilingEnd(reason="no"))
        with pytest.raises(NotFound):
            filing.deregister_filing(session, world.b_admin.actor, approved.id, filing.FilingEnd(reason="no"))
        ended = filing.deregister_filing(session, world.a_admin.actor, approved.id, filing.FilingEnd(reason="service closed"))
        assert ended.status == "deregistered"
        entries = filing.revocations(session, fk.issuer)["payload"]["entries"]
        assert entries[0]["filing_number"] == approved.number and "deregistered by its owner" in entries[0]["reason"]
        with pytest.raises(Conflict, match="only an approved filing"):
            filing.revoke_filing(session, fk.reviewer.actor, approved.id, filing.FilingEnd(reason="late"))


def test_incomplete_applications_are_refused_and_change_nothing(fk):
    with fk.runtime.session() as session:
        draft = filing.create_filing(session, fk.applicant.actor, filing.FilingCreate(**fk.application(self_assessment="")))
    before = db_state(fk.runtime)
    cases = [
        (lambda s: filing.submit_filing(s, fk.applicant.actor, draft.id), Invalid, "'self_assessment'"),
        (lambda s: filing.create_filing(s, fk.applicant.actor, filing.FilingCreate(**fk.application())), Conflict, "already has filing"),
        (lambda s: filing.create_filing(s, fk.applicant.actor, filing.FilingCreate(**fk.application(evaluation_params={"astrology": {}}))), Invalid, "astrology"),
        (lambda s: filing.create_filing(s, fk.applicant.actor, filing.FilingCreate(**fk.application(version_id="mdv_nope"))), NotFound, "mdv_nope"),
        (lambda s: filing.update_filing(s, fk.applicant.actor, draft.id, filing.FilingUpdate(dataset_version_id="dsv_nope")), NotFound, "dsv_nope"),
        (lambda s: filing.attach_evidence(s, fk.runtime.blobs, fk.applicant.actor, draft.id, io.BytesIO(b""), "empty.txt"), Invalid, "empty"),
        (lambda s: filing.review_filing(s, fk.issuer, fk.reviewer.actor, draft.id, filing.FilingReview(decision="approve", judgements=[])), NotFound, draft.id),
    ]
    for call, error, needle in cases:
        with pytest.raises(error, match=re.escape(needle)), fk.runtime.session() as session:
            call(session)
    assert_db_unchanged(before, db_state(fk.runtime))

    with fk.runtime.session() as session:
        filing.update_filing(session, fk.applicant.actor, draft.id, filing.FilingUpdate(self_assessment="Complete now."))
    before = db_state(fk.runtime)
    with pytest.raises(Invalid, match="must be answered"), fk.runtime.session() as session:
        filing.submit_filing(session, fk.applicant.actor, draft.id)  # no checklist answers yet
    answers = fk.answers("ab" * 32)  # cites a document never attached
    with fk.runtime.session() as session:
        filing.update_filing(session, fk.applicant.actor, draft.id, filing.FilingUpdate(answers=answers))
    before = db_state(fk.runtime)
    with pytest.raises(Invalid, match="not attached"), fk.runtime.session() as session:
        filing.submit_filing(session, fk.applicant.actor, draft.id)
    assert_db_unchanged(before, db_state(fk.runtime))


def test_a_reviewer_rejects_with_reasons_and_the_applicant_resubmits(fk):
    waiting = fk.in_review()
    with pytest.raises(Invalid, match="'fallback' is"):
        _review(fk, waiting.id, fallback="not_met")
    with pytest.raises(Invalid, match="must be judged"), fk.runtime.session() as session:
        filing.review_filing(session, fk.issuer, fk.reviewer.actor, waiting.id, filing.FilingReview(decision="reject", judgements=[], comment="no"))
    with pytest.raises(Invalid, match="'comment'"):
        _review(fk, waiting.id, decision="reject", fallback="not_met")
    rejected = _review(fk, waiting.id, decision="reject", comment="Describe the fallback when the model is wrong.", fallback="not_met")
    assert rejected.status == "rejected" and rejected.number is None
    assert next(j for j in rejected.judgements if j["item"] == "fallback")["verdict"] == "not_met"
    with pytest.raises(Conflict, match="only filings in_review"):
        _review(fk, waiting.id)

    with fk.runtime.session() as session:
        edited = filing.update_filing(session, fk.applicant.actor, waiting.id, filing.FilingUpdate(intended_use="Second look only; a clinician decides."))
        again = filing.submit_filing(session, fk.applicant.actor, waiting.id)
    assert edited.status == "rejected" and again.status == "testing" and again.evaluation_id != waiting.evaluation_id
    assert again.grade is None and again.judgements == [] and again.review_comment == ""
    assert fk.run_evaluation(waiting.id).status == "in_review"
    with pytest.raises(Conflict, match="only draft, rejected, test_failed"), fk.runtime.session() as session:
        filing.update_filing(session, fk.applicant.actor, waiting.id, filing.FilingUpdate(contact="x@a.test"))


def test_a_run_that_fails_leaves_the_filing_test_failed_and_resubmittable(fk):
    submitted = fk.submitted()
    with fk.runtime.session() as session:
        run = evaluation.get_evaluation(session, fk.applicant.actor, submitted.evaluation_id)
        jobs.cancel_job(session, fk.applicant.actor, run.job_id)
    settled = _read(fk, submitted.id)
    assert settled.status == "test_failed" and "cancelled" in settled.message
    with fk.runtime.session() as session:
        again = filing.submit_filing(session, fk.applicant.actor, submitted.id)
    assert again.status == "testing"
    with fk.runtime.session() as session:  # the listener, told of a failed run, settles it too
        failed = evaluation.get_evaluation(session, fk.applicant.actor, again.evaluation_id).model_copy(update={"status": "failed", "message": "Traceback…\nValueError: boom"})
        filing.on_evaluation_finished(session, failed)
    settled = _read(fk, submitted.id)
    assert settled.status == "test_failed" and "ValueError: boom" in settled.message


def test_filing_numbers_never_repeat_across_concurrent_approvals(fk, monkeypatch):
    # Rendering is what makes an approval slow and is tested above; numbering is what this tests.
    monkeypatch.setattr(evaluation, "render_pdf", lambda report: b"%PDF-stub")
    monkeypatch.setattr(certificates, "certificate_pdf", lambda document: b"%PDF-stub")
    first = fk.in_review()
    with fk.runtime.session() as session:
        run = evaluation.get_evaluation(session, fk.applicant.actor, first.evaluation_id)
    waiting = [first.id]
    for _ in range(19):  # 19 more versions, each filed; their runs settle with the first run's results
        submitted = fk.submitted(fk.copy_version().id)
        with fk.runtime.session() as session:
            filing.on_evaluation_finished(session, run.model_copy(update={"id": submitted.evaluation_id}))
        waiting.append(submitted.id)

    def approve(filing_id):
        return _review(fk, filing_id).number

    with ThreadPoolExecutor(4) as pool:
        numbers = list(pool.map(approve, waiting))
    year = datetime.now(UTC).year
    assert sorted(numbers) == [f"ZJAI-{year}-{seq:06d}" for seq in range(1, 21)]
    with fk.runtime.session() as session:
        assert {e.number for e in filing.search_registry(session, limit=50).items} == set(numbers)


def test_the_number_format_is_a_setting(fk, runtime, monkeypatch):
    issuer = filing.Issuer(runtime.blobs, runtime.settings.home / "keys", "浙AI备-{year}-{seq:04d}")
    waiting = fk.in_review()
    with fk.runtime.session() as session:
        approved = filing.review_filing(session, issuer, fk.reviewer.actor, waiting.id, filing.FilingReview(decision="approve", judgements=fk.judgements()))
    assert approved.number == f"浙AI备-{datetime.now(UTC).year}-0001"


def test_a_change_keeps_the_number_and_supersedes_the_filing_it_changes(fk):
    original = fk.approved()
    v2 = fk.copy_version()
    with pytest.raises(Conflict, match="already filed as"), fk.runtime.session() as session:
        filing.create_filing(session, fk.applicant.actor, filing.FilingCreate(**fk.application()))
    change = fk.approved(v2.id, change_of=original.number)
    assert change.number == original.number and change.revision == 2 and change.change_of == original.id
    old = _read(fk, original.id)
    assert old.status == "superseded" and old.superseded_by == change.id
    with fk.runtime.session() as session:
        entry = filing.get_registry_entry(session, original.number)
        assert entry.status == "approved" and entry.version_number == 2
        assert [(r.revision, r.status) for r in entry.revisions] == [(1, "superseded"), (2, "approved")]
        # The number is in force, so both versions it covered may be served publicly.
        assert filing.is_publicly_servable(session, fk.version.id) and filing.is_publicly_servable(session, v2.id)
        assert filing.revocations(session, fk.issuer)["payload"]["entries"] == []
        filing.revoke_filing(session, fk.reviewer.actor, original.number, filing.FilingEnd(reason="withdrawn"))
    v3 = fk.copy_version()
    with fk.runtime.session() as session:
        assert not filing.is_publicly_servable(session, fk.version.id) and not filing.is_publicly_servable(session, v2.id)
        with pytest.raises(Conflict, match="only an approved filing can be changed"):
            filing.create_filing(session, fk.applicant.actor, filing.FilingCreate(**fk.application(v3.id, change_of=change.id)))
