"""The filing (备案) workflow: apply, test, grade, review, issue, and end.

```
draft ──submit──► testing ──run succeeded──► in_review ──approve──► approved ──revoke──► revoked
  ▲                  │                           │                     │  └─deregister─► deregistered
  │                  └──run failed──► test_failed │                     └─a change approved─► superseded
  └────── edit and resubmit ◄─────────┴──reject── rejected
```

- An org's member files one of its model versions with the national filing's fields and the
  ethics checklist; submitting starts the "filing" evaluation suite as the applicant.
- The "filing.grade" listener grades the finished run with the default grading policy and moves
  the filing to review; a run that failed leaves it test_failed (caught up on the next read
  too, since the evaluation service reports only the runs that finish).
- A platform reviewer from outside the applicant org judges every checklist item and approves
  or rejects. Approval takes a number (numbers.py), renders the reports, signs the certificate
  and stores them as blobs, all in the reviewing transaction.
- A change to a filed model is a filing with `change_of`: on approval it keeps the filing
  number (as its next revision) and the filing it changes is superseded, so the registry,
  certificates and revocation list keep speaking of one number per filed model.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons import data, evaluation, models
from aicommons.core import audit
from aicommons.core.blobs import BlobStore, spool
from aicommons.core.db import utcnow
from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound, not_found
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Actor
from aicommons.core.runtime import Runtime
from aicommons.core.schemas import Page
from aicommons.core.tables import Org
from aicommons.filing import certificates, numbers
from aicommons.filing.checklist import Checklist
from aicommons.filing.profiles import FilingProfile, profile_for
from aicommons.filing.schemas import EvidenceRead, FilingCreate, FilingEnd, FilingRead, FilingReview, FilingUpdate
from aicommons.filing.tables import Filing
from aicommons.models.tables import Model, ModelVersion

KIND = "filing"
CERTIFICATE_KIND = "aicommons.filing-certificate/v1"
EDITABLE = ("draft", "rejected", "test_failed")
OPEN = (*EDITABLE, "testing", "in_review")  # not yet decided: at most one per version
FILED = ("approved", "revoked", "deregistered", "superseded")  # numbered: in the public registry
REQUIRED_TEXTS = ("self_assessment", "public_content", "intended_use", "contact")
MAX_EVIDENCE_BYTES = 20 << 20
MAX_EVIDENCE_FILES = 50


@dataclass(frozen=True)
class Issuer:
    """What issuing needs beyond the database: the blob store, the operator's signing key (a
    folder holding `filing-ed25519.pem`) and the number format. Built from the runtime by the
    API and the CLI, so services never read settings themselves."""

    blobs: BlobStore
    keys_dir: Path
    number_format: str

    @classmethod
    def of(cls, runtime: Runtime) -> Issuer:
        return cls(runtime.blobs, runtime.settings.home / "keys", runtime.settings.filing_number_format)

    def signing_key(self) -> certificates.SigningKey:
        return certificates.SigningKey.load_or_create(self.keys_dir)


# --- reading ----------------------------------------------------------------------------------


def _may_read(actor: Actor, row: Filing) -> bool:
    # Reviewers read what was submitted to them; a draft is its org's own business.
    return actor.is_operator or row.org_id == actor.org_id or (actor.is_reviewer and row.status != "draft")


def _may_write(actor: Actor, row: Filing) -> bool:
    return actor.is_operator or row.org_id == actor.org_id


def filing_row(session: Session, actor: Actor, filing_id: str) -> Filing:
    row = session.get(Filing, filing_id)
    if row is None or not _may_read(actor, row):
        raise not_found(KIND, filing_id)
    _catch_up(session, actor, row)
    return row


def _writable_row(session: Session, actor: Actor, filing_id: str) -> Filing:
    row = filing_row(session, actor, filing_id)
    if not _may_write(actor, row):
        raise Forbidden(f"Only members of the applicant organisation may change filing {filing_id!r}.")
    return row


def _read(session: Session, row: Filing) -> FilingRead:
    model_name = session.scalar(sa.select(Model.name).where(Model.id == row.model_id)) or ""
    version_number = session.scalar(sa.select(ModelVersion.number).where(ModelVersion.id == row.version_id)) or 0
    return _as_read(row, model_name, version_number)


def _read_many(session: Session, rows: list[Filing]) -> list[FilingRead]:
    """Like `_read` for each row, in two statements whatever the number of rows (a list page must
    not cost a query per filing)."""
    if not rows:
        return []
    names = dict(session.execute(sa.select(Model.id, Model.name).where(Model.id.in_({r.model_id for r in rows}))).all())
    numbers = dict(session.execute(sa.select(ModelVersion.id, ModelVersion.number).where(ModelVersion.id.in_({r.version_id for r in rows}))).all())
    return [_as_read(row, names.get(row.model_id) or "", numbers.get(row.version_id) or 0) for row in rows]


def _as_read(row: Filing, model_name: str, version_number: int) -> FilingRead:
    values = {column.key: getattr(row, column.key) for column in Filing.__table__.columns if column.key in FilingRead.model_fields}
    return FilingRead(**values, model_name=model_name, version_number=version_number)


def get_filing(session: Session, actor: Actor, filing_id: str) -> FilingRead:
    return _read(session, filing_row(session, actor, filing_id))


def find_filing(session: Session, actor: Actor, ref: str) -> FilingRead:
    """A filing by id, or by number (the number's latest revision)."""
    return _read(session, _find_row(session, actor, ref))


def _find_row(session: Session, actor: Actor, ref: str) -> Filing:
    ref = ref.strip()
    if session.get(Filing, ref) is not None:
        return filing_row(session, actor, ref)
    row = session.scalar(sa.select(Filing).where(Filing.number == ref).order_by(Filing.revision.desc()).limit(1))
    if row is None or not _may_read(actor, row):
        raise NotFound(f"No filing with id or number {ref!r} exists or it is not visible to you.")
    return row


def list_filings(
    session: Session, actor: Actor, *, status: str | None = None, model_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[FilingRead]:
    """The actor's org's filings; reviewers (and the operator) also see every submitted one."""
    stmt = sa.select(Filing)
    if actor.is_operator:
        pass
    elif actor.is_reviewer:
        stmt = stmt.where(sa.or_(Filing.org_id == actor.org_id, Filing.status != "draft"))
    else:
        stmt = stmt.where(Filing.org_id == actor.org_id)
    if status:
        stmt = stmt.where(Filing.status == status)
    if model_id:
        stmt = stmt.where(Filing.model_id == model_id)
    rows, next_cursor = page_rows(session, stmt, Filing.id, limit=limit, cursor=cursor, owner="list_filings")
    _catch_up_many(session, actor, rows)
    return Page[FilingRead](items=_read_many(session, rows), next_cursor=next_cursor)


def list_review_queue(session: Session, actor: Actor, *, limit: int = 50, cursor: str | None = None) -> Page[FilingRead]:
    """What waits for this reviewer: filings in review from organisations other than their own
    (an applicant never reviews its own filing), oldest submission last like every list."""
    if not actor.is_reviewer:
        raise Forbidden("Only platform reviewers have a review queue.")
    stmt = sa.select(Filing).where(Filing.status == "in_review", Filing.org_id != actor.org_id)
    rows, next_cursor = page_rows(session, stmt, Filing.id, limit=limit, cursor=cursor, owner="list_review_queue")
    return Page[FilingRead](items=_read_many(session, rows), next_cursor=next_cursor)


# --- applying ---------------------------------------------------------------------------------


def create_filing(session: Session, actor: Actor, spec: FilingCreate) -> FilingRead:
    """A draft filing of one of the actor's org's model versions."""
    version = models.get_version(session, actor, spec.version_id)
    model = models.get_model(session, actor, version.model_id)
    if model.org_id != actor.org_id and not actor.is_operator:
        raise Forbidden(f"Only members of the organisation that owns model {model.name!r} may file it.")
    if spec.dataset_version_id:
        data.get_version(session, actor, spec.dataset_version_id)
    _check_test_params(spec.evaluation_params)
    original = _changed_filing(session, actor, spec.change_of, model) if spec.change_of else None
    _refuse_duplicate(session, version.id, original)
    now = utcnow()
    row = Filing(
        id=new_id("fil"), org_id=model.org_id, model_id=model.id, version_id=version.id,
        change_of=original.id if original else None, status="draft",
        **spec.model_dump(exclude={"version_id", "change_of", "answers"}),
        answers=[a.model_dump() for a in spec.answers], evidence=[], judgements=[], evaluation_summary={},
        created_by=actor.user_id, created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    result = _read(session, row)
    audit.record(session, actor, "filing.create", KIND, row.id, org_id=row.org_id, after=result,
                 detail={"version_id": version.id, "change_of": row.change_of})
    return result


def _check_test_params(params: dict[str, dict[str, Any]]) -> None:
    for name in params:
        evaluation.evaluation_tests.get(name)  # Invalid, naming the tests there are


def _changed_filing(session: Session, actor: Actor, ref: str, model: models.ModelRead) -> Filing:
    original = _find_row(session, actor, ref)
    if original.model_id != model.id:
        raise Invalid(f"The 'change_of' parameter of FilingCreate must name a filing of model {model.name!r}; "
                      f"filing {ref!r} is of another model. A new model needs a new filing.")
    if original.status != "approved":
        raise Conflict(f"Filing {ref!r} is {original.status}; only an approved filing can be changed.")
    return original


def _refuse_duplicate(session: Session, version_id: str, original: Filing | None) -> None:
    """One undecided filing per version; a version already filed takes changes, not new filings."""
    open_one = session.scalar(sa.select(Filing.id).where(Filing.version_id == version_id, Filing.status.in_(OPEN)).limit(1))
    if open_one:
        raise Conflict(f"Model version {version_id!r} already has filing {open_one!r} under way; edit and submit that one.")
    if original is None:
        filed = session.scalar(sa.select(Filing.number).where(Filing.version_id == version_id, Filing.status == "approved").limit(1))
        if filed:
            raise Conflict(f"Model version {version_id!r} is already filed as {filed}; file a change with change_of={filed!r} instead.")
    else:
        pending = session.scalar(sa.select(Filing.id).where(Filing.change_of == original.id, Filing.status.in_(OPEN)).limit(1))
        if pending:
            raise Conflict(f"Filing {original.number} already has change {pending!r} under way; edit and submit that one.")


def update_filing(session: Session, actor: Actor, filing_id: str, change: FilingUpdate) -> FilingRead:
    row = _editable_row(session, actor, filing_id, "edited")
    before = _read(session, row)
    values = change.model_dump(exclude_unset=True, exclude_none=True)
    if "dataset_version_id" in values:
        data.get_version(session, actor, values["dataset_version_id"])
    if "evaluation_params" in values:
        _check_test_params(values["evaluation_params"])
    for field, value in values.items():
        setattr(row, field, value)
    row.updated_at = utcnow()
    session.flush()
    after = _read(session, row)
    audit.record(session, actor, "filing.update", KIND, row.id, org_id=row.org_id, before=before, after=after)
    return after


def _editable_row(session: Session, actor: Actor, filing_id: str, verb: str) -> Filing:
    row = _writable_row(session, actor, filing_id)
    if row.status not in EDITABLE:
        raise Conflict(f"Filing {filing_id!r} is {row.status}; only {', '.join(EDITABLE)} filings can be {verb}.")
    return row


def attach_evidence(
    session: Session, blobs: BlobStore, actor: Actor, filing_id: str, stream: BinaryIO, filename: str, content_type: str = ""
) -> EvidenceRead:
    """Store an evidence document for the checklist; answers cite it by the sha256 returned."""
    row = _editable_row(session, actor, filing_id, "given evidence")
    if len(row.evidence) >= MAX_EVIDENCE_FILES:
        raise Invalid(f"Filing {filing_id!r} already has {MAX_EVIDENCE_FILES} evidence documents, the most it may have.")
    with tempfile.TemporaryDirectory(prefix="aicommons-evidence-") as folder:
        path = Path(folder) / "upload"
        size = spool(stream, path, max_bytes=MAX_EVIDENCE_BYTES)
        if size == 0:
            raise Invalid(f"The evidence file {filename!r} is empty.")
        ref = blobs.put_file(path)
    existing = next((e for e in row.evidence if e["sha256"] == ref.sha256), None)
    if existing is not None:
        return EvidenceRead(**existing)
    evidence = EvidenceRead(
        sha256=ref.sha256, filename=(Path(filename).name or "evidence")[:200], size=ref.size,
        content_type=(content_type or "application/octet-stream")[:100], attached_by=actor.user_id, attached_at=utcnow(),
    )
    row.evidence = [*row.evidence, evidence.model_dump(mode="json")]
    row.updated_at = utcnow()
    session.flush()
    audit.record(session, actor, "filing.attach", KIND, row.id, org_id=row.org_id, detail={"sha256": ref.sha256, "filename": evidence.filename})
    return evidence


def evidence_file(session: Session, actor: Actor, filing_id: str, sha256: str) -> EvidenceRead:
    row = filing_row(session, actor, filing_id)
    found = next((e for e in row.evidence if e["sha256"] == sha256), None)
    if found is None:
        raise NotFound(f"Filing {filing_id!r} has no evidence document {sha256!r}.")
    return EvidenceRead(**found)


# --- testing ----------------------------------------------------------------------------------


def submit_filing(session: Session, actor: Actor, filing_id: str) -> FilingRead:
    """Check the application is complete and start its evaluation (as the applicant)."""
    row = _editable_row(session, actor, filing_id, "submitted")
    before = _read(session, row)
    for field in REQUIRED_TEXTS:
        if not getattr(row, field).strip():
            raise Invalid(f"The {field!r} field of filing {filing_id!r} must be filled in before submitting; it is empty.")
    checklist = Checklist.default()
    answers = checklist.check_answers(row.answers)
    attached = {e["sha256"] for e in row.evidence}
    for answer in answers:
        missing = next((sha for sha in answer.evidence if sha not in attached), None)
        if missing:
            raise Invalid(f"The answer to checklist item {answer.item!r} cites evidence {missing} which is not attached to "
                          f"filing {filing_id!r}; attach the document first.")
    if row.change_of:
        original = session.get(Filing, row.change_of)
        if original is None or original.status != "approved":
            raise Conflict(f"Filing {row.change_of!r}, which this one changes, is no longer approved; file anew instead.")
    tests = [evaluation.TestRequest(name=name, params=params) for name, params in row.evaluation_params.items()]
    suite = _profile(session, row).suite
    run = evaluation.start_evaluation(
        session, actor, evaluation.EvaluationCreate(version_id=row.version_id, dataset_version_id=row.dataset_version_id, suite=suite, tests=tests)
    )
    now = utcnow()
    row.answers = [a.model_dump() for a in answers]
    row.checklist_sha256 = checklist.sha256
    row.status, row.evaluation_id, row.message = "testing", run.id, f"testing: evaluation {run.id} queued"
    row.grade = row.risk_level = row.policy_sha256 = row.reviewed_by = row.reviewed_at = None
    row.evaluation_summary, row.judgements, row.review_comment = {}, [], ""
    row.submitted_by, row.submitted_at, row.updated_at = actor.user_id, now, now
    session.flush()
    after = _read(session, row)
    audit.record(session, actor, "filing.submit", KIND, row.id, org_id=row.org_id, before=before, after=after,
                 detail={"evaluation_id": run.id, "job_id": run.job_id})
    return after


def on_evaluation_finished(session: Session, run: evaluation.EvaluationRead) -> None:
    """The "filing.grade" listener: settle the filings waiting on this run."""
    for row in session.scalars(sa.select(Filing).where(Filing.evaluation_id == run.id, Filing.status == "testing")):
        _settle(session, row, run)


def _catch_up_many(session: Session, actor: Actor, rows: list[Filing]) -> None:
    """`_catch_up` for a page of filings, asking in one statement which of their runs have ended."""
    testing = [row for row in rows if row.status == "testing" and row.evaluation_id]
    ended = evaluation.ended_evaluations(session, actor, [row.evaluation_id for row in testing if row.evaluation_id])
    for row in testing:
        if row.evaluation_id in ended:
            _catch_up(session, actor, row)


def _catch_up(session: Session, actor: Actor, row: Filing) -> None:
    """Settle a testing filing whose run has ended without telling us (a failed or cancelled job)."""
    if row.status != "testing" or not row.evaluation_id:
        return
    try:
        run = evaluation.get_evaluation(session, actor, row.evaluation_id)
    except NotFound:
        return  # not readable by this actor; the applicant's next read settles it
    if run.status in ("succeeded", "failed", "cancelled"):
        _settle(session, row, run)


def _settle(session: Session, row: Filing, run: evaluation.EvaluationRead) -> None:
    before = _read(session, row)
    row.updated_at = utcnow()
    if run.status != "succeeded":
        row.status = "test_failed"
        # A failed job's error is often a traceback: its last line says what broke.
        last_line = next((line.strip() for line in reversed(run.message.splitlines()) if line.strip()), "no reason given")
        row.message = f"The evaluation {run.id} {run.status}: {last_line[:500]}. Edit the filing if needed and submit it again."
        session.flush()
        audit.record(session, None, "filing.test_failed", KIND, row.id, org_id=row.org_id, before=before, after=_read(session, row),
                     detail={"evaluation_id": run.id})
        return
    grade = _profile(session, row).policy().grade(run.results)
    row.grade = grade.as_dict()
    row.risk_level, row.policy_sha256 = grade.level_en, grade.policy_sha256
    row.evaluation_summary = _summary(run)
    row.status = "in_review"
    row.message = f"tested: risk level {grade.level} ({grade.level_en}); waiting for a reviewer"
    session.flush()
    audit.record(session, None, "filing.grade", KIND, row.id, org_id=row.org_id, before=before, after=_read(session, row),
                 detail={"evaluation_id": run.id, "risk_level": grade.level_en, "policy_sha256": grade.policy_sha256})


def _profile(session: Session, row: Filing) -> FilingProfile:
    """The suite and grading policy for the filed model's task."""
    return profile_for(session.scalar(sa.select(Model.task).where(Model.id == row.model_id)) or "")


def _summary(run: evaluation.EvaluationRead) -> dict[str, Any]:
    """What the public may know of the run, kept with the filing (the registry reads no evaluations)."""
    return {
        "evaluation_id": run.id, "suite": run.suite, "counts": run.summary, "model_sha256": run.reproducibility.get("model_sha256"),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "tests": [{"name": r.name, "title": r.title, "title_zh": r.title_zh, "category": r.category, "status": r.status} for r in run.results],
    }


# --- reviewing and issuing --------------------------------------------------------------------


def get_filing_for_review(session: Session, actor: Actor, filing_id: str) -> FilingRead:
    """A filing as the reviewer who may judge it reads it: refused to anyone else, as reviewing would be."""
    return _read(session, _reviewable_row(session, actor, filing_id))


def _reviewable_row(session: Session, actor: Actor, filing_id: str) -> Filing:
    if not actor.is_reviewer:
        raise Forbidden("Only platform reviewers may review filings.")
    row = filing_row(session, actor, filing_id)
    if actor.org_id == row.org_id or actor.user_id in (row.submitted_by, row.created_by):
        raise Forbidden(f"An applicant may not approve its own filing: {actor.email} filed {filing_id!r} or belongs to the organisation that did.")
    return row


def review_filing(session: Session, issuer: Issuer, actor: Actor, filing_id: str, review: FilingReview) -> FilingRead:
    """A platform reviewer from outside the applicant org judges each checklist item and decides."""
    row = _reviewable_row(session, actor, filing_id)
    if row.status != "in_review":
        raise Conflict(f"Filing {filing_id!r} is {row.status}; only filings in_review can be reviewed.")
    checklist = Checklist.default()
    if row.checklist_sha256 != checklist.sha256:
        raise Conflict(f"The ethics checklist changed since filing {filing_id!r} was submitted; reject it so the applicant answers the new one.")
    all_met = checklist.check_judgements(review.judgements)
    if review.decision == "approve" and not all_met:
        failed = next(j.item for j in review.judgements if j.verdict == "not_met")
        raise Invalid(f"A filing can be approved only when no checklist item is not_met; item {failed!r} is. Reject it, saying what to fix.")
    if review.decision == "reject" and not review.comment:
        raise Invalid("The 'comment' parameter of FilingReview must say why a filing is rejected; got an empty comment.")
    before = _read(session, row)
    now = utcnow()
    order = {item.id: index for index, item in enumerate(checklist.items)}
    row.judgements = [j.model_dump() for j in sorted(review.judgements, key=lambda j: order[j.item])]
    row.review_comment, row.reviewed_by, row.reviewed_at, row.updated_at = review.comment, actor.user_id, now, now
    if review.decision == "reject":
        row.status, row.message = "rejected", "rejected by the reviewer: edit the filing and submit it again"
    else:
        _issue(session, issuer, actor, row, now)
    session.flush()
    after = _read(session, row)
    audit.record(session, actor, f"filing.{review.decision}", KIND, row.id, org_id=row.org_id, before=before, after=after,
                 detail={"number": row.number, "revision": row.revision, "certificate_sha256": row.certificate_sha256})
    return after


def _issue(session: Session, issuer: Issuer, actor: Actor, row: Filing, now: Any) -> None:
    """Number, reports and signed certificate; the changed filing, if any, is superseded."""
    if row.change_of:
        original = session.get(Filing, row.change_of)
        if original is None or original.status != "approved":
            raise Conflict(f"Filing {row.change_of!r}, which this one changes, is no longer approved; reject this change.")
        row.number, row.revision = original.number, (original.revision or 1) + 1
        before = _read(session, original)
        original.status, original.superseded_by, original.ended_at, original.updated_at = "superseded", row.id, now, now
        original.end_reason = f"superseded by revision {row.revision} (filing {row.id})"
        session.flush()
        audit.record(session, actor, "filing.supersede", KIND, original.id, org_id=original.org_id, before=before, after=_read(session, original))
    else:
        row.number, row.revision = numbers.issue_number(session, issuer.number_format, now), 1
    row.status, row.issued_at, row.message = "approved", now, f"approved: filing number {row.number}"
    model = session.get(Model, row.model_id)
    version = session.get(ModelVersion, row.version_id)
    org_name = session.scalar(sa.select(Org.name).where(Org.id == row.org_id))
    assert model is not None and version is not None and row.evaluation_id and row.grade
    filing_view = {"filing_number": row.number, "revision": row.revision, "org_name": org_name, "issued_at": now.isoformat(), "status": "approved"}
    report = evaluation.build_report_input(session, issuer.blobs, actor, row.evaluation_id, grade=row.grade, filing=filing_view)
    html = evaluation.render_html(report).encode("utf-8")
    row.report_sha256 = issuer.blobs.put_bytes(html).sha256
    row.report_pdf_sha256 = issuer.blobs.put_bytes(evaluation.render_pdf(report)).sha256
    public = evaluation.build_report_input(session, issuer.blobs, actor, row.evaluation_id, grade=row.grade, filing=filing_view, public=True)
    row.public_report_sha256 = issuer.blobs.put_bytes(evaluation.render_html(public).encode("utf-8")).sha256
    payload = {
        "kind": CERTIFICATE_KIND, "filing_number": row.number, "revision": row.revision, "filing_id": row.id,
        "model_id": model.id, "model_name": model.name, "version_id": version.id, "version_number": version.number,
        "model_sha256": version.onnx_sha256, "org_id": row.org_id, "org_name": org_name,
        "risk_level": row.grade["level"], "risk_level_en": row.grade["level_en"], "policy_sha256": row.policy_sha256,
        "evaluation_id": row.evaluation_id, "report_sha256": row.report_sha256, "report_pdf_sha256": row.report_pdf_sha256,
        "issued_at": now.isoformat(),
    }
    document = certificates.sign_document(issuer.signing_key(), payload)
    row.certificate_sha256 = issuer.blobs.put_bytes(certificate_bytes(document)).sha256
    row.certificate_pdf_sha256 = issuer.blobs.put_bytes(certificates.certificate_pdf(document)).sha256


def certificate_bytes(document: dict[str, Any]) -> bytes:
    """The certificate file as stored and served (verification re-canonicalises the payload)."""
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8") + b"\n"


# --- ending -----------------------------------------------------------------------------------


def revoke_filing(session: Session, actor: Actor, filing_id: str, end: FilingEnd) -> FilingRead:
    """The platform withdraws an approved filing; its number goes on the revocation list."""
    if not (actor.is_reviewer or actor.is_operator):
        raise Forbidden("Only platform reviewers and the operator may revoke filings.")
    return _end(session, actor, _find_row(session, actor, filing_id), "revoked", end.reason)


def deregister_filing(session: Session, actor: Actor, filing_id: str, end: FilingEnd) -> FilingRead:
    """The applicant org withdraws its own approved filing (注销); its admins decide."""
    row = _find_row(session, actor, filing_id)
    if row.org_id != actor.org_id or not actor.is_org_admin:
        raise Forbidden(f"Only admins of the organisation that filed {filing_id!r} may deregister it.")
    return _end(session, actor, row, "deregistered", end.reason)


def _end(session: Session, actor: Actor, row: Filing, status: str, reason: str) -> FilingRead:
    if row.status != "approved":
        raise Conflict(f"Filing {row.id!r} is {row.status}; only an approved filing can be {status}.")
    before = _read(session, row)
    now = utcnow()
    row.status, row.ended_at, row.ended_by, row.end_reason, row.updated_at = status, now, actor.user_id, reason, now
    row.message = f"{status}: {reason}"
    session.flush()
    after = _read(session, row)
    action = "filing.revoke" if status == "revoked" else "filing.deregister"
    audit.record(session, actor, action, KIND, row.id, org_id=row.org_id, before=before, after=after, detail={"number": row.number, "reason": reason})
    return after


# --- issued documents -------------------------------------------------------------------------

DOCUMENTS = {
    "certificate": ("certificate_sha256", "application/json", "certificate-{number}.json"),
    "certificate.pdf": ("certificate_pdf_sha256", "application/pdf", "certificate-{number}.pdf"),
    "report.html": ("report_sha256", "text/html; charset=utf-8", "report-{number}.html"),
    "report.pdf": ("report_pdf_sha256", "application/pdf", "report-{number}.pdf"),
}


@dataclass(frozen=True)
class Document:
    content: bytes
    media_type: str
    filename: str


def filing_document(session: Session, blobs: BlobStore, actor: Actor, filing_id: str, name: str) -> Document:
    """An issued document of a filing as stored; before approval, the reports are rendered from
    the finished evaluation (what the reviewer reads)."""
    if name not in DOCUMENTS:
        raise NotFound(f"Filings have no document {name!r}; they have {', '.join(DOCUMENTS)}.")
    row = _find_row(session, actor, filing_id)
    column, media_type, filename = DOCUMENTS[name]
    sha256 = getattr(row, column)
    if sha256:
        return Document(blobs.read_bytes(sha256), media_type, filename.format(number=row.number))
    if name.startswith("report") and row.grade and row.evaluation_id:
        report = evaluation.build_report_input(session, blobs, actor, row.evaluation_id, grade=row.grade)
        content = evaluation.render_html(report).encode("utf-8") if name == "report.html" else evaluation.render_pdf(report)
        return Document(content, media_type, filename.format(number=row.id))
    raise NotFound(f"Filing {row.id!r} is {row.status}: it has no {name} yet.")
