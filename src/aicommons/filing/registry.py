"""The public registry (公示): what anyone, without a token, may read about filed models.

Every numbered filing is listed with its status (approved, revoked, deregistered, superseded by a
change); the detail adds the risk level's reasons, the test run's outline and the revisions
under the number, and the public report is the copy rendered at approval with `public=True`.
The operator's public key and a freshly signed revocation list let anyone check certificates
offline. And serving asks here whether a version may be exposed publicly.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased, load_only

from aicommons.core.db import utcnow
from aicommons.core.errors import Invalid, NotFound
from aicommons.core.pagination import page_rows
from aicommons.core.schemas import Page
from aicommons.core.tables import Org
from aicommons.filing import certificates
from aicommons.filing.filings import FILED, Issuer
from aicommons.filing.schemas import RegistryEntry, RegistryEntryDetail, RegistryRevision
from aicommons.filing.tables import Filing
from aicommons.models.tables import Model, ModelVersion

LEVELS = {"低": "low", "中": "medium", "高": "high"}
LEVELS_ZH = {en: zh for zh, en in LEVELS.items()}
REPORT_URL = "/api/v1/registry/{number}/report.html"


def _filed() -> sa.Select[Any]:
    """Numbered filings joined to what the registry searches by (org, model, version)."""
    return (
        sa.select(Filing)
        .join(Org, Org.id == Filing.org_id)
        .join(Model, Model.id == Filing.model_id)
        .join(ModelVersion, ModelVersion.id == Filing.version_id)
        .where(Filing.number.is_not(None), Filing.status.in_(FILED))
    )


def _described(session: Session, filings: list[Filing]) -> list[tuple[Filing, str, Model, ModelVersion]]:
    """Each filing with its org's name, model and version, read in three statements whatever
    the number of filings (a registry page must not cost a query per row)."""
    org_ids = {f.org_id for f in filings}
    org_names = dict(session.execute(sa.select(Org.id, Org.name).where(Org.id.in_(org_ids))).all()) if org_ids else {}
    model_ids, version_ids = {f.model_id for f in filings}, {f.version_id for f in filings}
    found_models = {m.id: m for m in session.scalars(sa.select(Model).where(Model.id.in_(model_ids)))} if model_ids else {}
    found_versions = {v.id: v for v in session.scalars(sa.select(ModelVersion).where(ModelVersion.id.in_(version_ids)))} if version_ids else {}
    described = []
    for filing in filings:
        model, version = found_models.get(filing.model_id), found_versions.get(filing.version_id)
        assert model is not None and version is not None
        described.append((filing, org_names.get(filing.org_id) or "", model, version))
    return described


def _entry(filing: Filing, org_name: str, model: Model, version: ModelVersion) -> dict[str, Any]:
    assert filing.number is not None and filing.revision is not None and filing.issued_at is not None
    return {
        "number": filing.number, "revision": filing.revision, "status": filing.status, "org_id": filing.org_id, "org_name": org_name,
        "model_id": model.id, "model_name": model.name, "task": model.task, "version_number": version.number,
        "model_sha256": version.onnx_sha256, "provider": filing.provider, "service_form": filing.service_form,
        "application_field": filing.application_field, "algorithm_type": filing.algorithm_type, "public_content": filing.public_content,
        "risk_level": LEVELS_ZH.get(filing.risk_level or "", ""), "risk_level_en": filing.risk_level or "",
        "issued_at": filing.issued_at, "ended_at": filing.ended_at, "end_reason": filing.end_reason,
    }


def search_registry(
    session: Session,
    *,
    number: str | None = None,
    org: str | None = None,
    task: str | None = None,
    risk_level: str | None = None,
    status: str | None = None,
    q: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[RegistryEntry]:
    """Filed models, newest first. `org` is an org id or part of its name; `risk_level` is 低/中/高
    or low/medium/high; `q` looks in model, org and provider names, application field and public content."""
    stmt = _filed()
    if number:
        stmt = stmt.where(Filing.number == number.strip())
    if org:
        stmt = stmt.where(sa.or_(Filing.org_id == org.strip(), sa.func.lower(Org.name).contains(org.strip().lower(), autoescape=True)))
    if task:
        stmt = stmt.where(Model.task == task.strip())
    if risk_level:
        level = LEVELS.get(risk_level.strip(), risk_level.strip().lower())
        if level not in LEVELS_ZH:
            raise Invalid(f"The 'risk_level' parameter of search_registry must be 低, 中, 高, low, medium or high; got {risk_level!r} instead.")
        stmt = stmt.where(Filing.risk_level == level)
    if status:
        if status not in FILED:
            raise Invalid(f"The 'status' parameter of search_registry must be one of {', '.join(FILED)}; got {status!r} instead.")
        stmt = stmt.where(Filing.status == status)
    if q:
        needle = q.strip().lower()
        stmt = stmt.where(sa.or_(*(
            sa.func.lower(column).contains(needle, autoescape=True)
            for column in (Model.name, Model.name_zh, Org.name, Filing.provider, Filing.application_field, Filing.public_content)
        )))
    # The page's ids first, then its rows: a filing's row is kilobytes (answers, grade, summary) and
    # the filed ones are sorted, not walked in index order (their statuses are several), so sorting
    # whole rows would cost time in proportion to the registry.
    rows, next_cursor = page_rows(session, stmt.options(load_only(Filing.id)), Filing.id, limit=limit, cursor=cursor, owner="search_registry")
    if rows:  # the rest of each row, into the same objects
        session.scalars(sa.select(Filing).where(Filing.id.in_([row.id for row in rows]))).all()
    return Page[RegistryEntry](items=[RegistryEntry(**_entry(*described)) for described in _described(session, rows)], next_cursor=next_cursor)


def _current(session: Session, number: str) -> tuple[Filing, str, Model, ModelVersion]:
    filing = session.scalar(_filed().where(Filing.number == number).order_by(Filing.revision.desc()).limit(1))
    if filing is None:
        raise NotFound(f"No filed model has number {number!r}.")
    return _described(session, [filing])[0]


def get_registry_entry(session: Session, number: str) -> RegistryEntryDetail:
    """The number's current revision, with its grade's reasons and the revisions before it."""
    filing, org_name, model, version = _current(session, number)
    grade = filing.grade or {}
    revisions = session.execute(
        sa.select(Filing, ModelVersion).join(ModelVersion, ModelVersion.id == Filing.version_id)
        .where(Filing.number == number, Filing.status.in_(FILED)).order_by(Filing.revision)
    )
    return RegistryEntryDetail(
        **_entry(filing, org_name, model, version),
        reasons=[{k: r.get(k) for k in ("test", "metric", "value", "rule", "level", "message", "message_zh")} for r in grade.get("reasons", [])],
        policy={"name": str(grade.get("policy", "")), "version": str(grade.get("policy_version", "")), "sha256": str(grade.get("policy_sha256", ""))},
        evaluation=filing.evaluation_summary or {},
        certificate_sha256=filing.certificate_sha256 or "", report_sha256=filing.report_sha256 or "",
        report_url=REPORT_URL.format(number=number),
        revisions=[
            RegistryRevision(revision=f.revision or 0, status=f.status, version_number=v.number, model_sha256=v.onnx_sha256,
                             issued_at=f.issued_at or f.created_at, ended_at=f.ended_at)
            for f, v in revisions
        ],
    )


def public_report(session: Session, issuer: Issuer, number: str) -> bytes:
    """The public part of the report of the number's current revision, as rendered at approval."""
    filing = _current(session, number)[0]
    if not filing.public_report_sha256:
        raise NotFound(f"Filing {number!r} has no public report.")
    return issuer.blobs.read_bytes(filing.public_report_sha256)


def public_key_pem(issuer: Issuer) -> bytes:
    return issuer.signing_key().public_key_pem()


def revocations(session: Session, issuer: Issuer, *, at: datetime | None = None) -> dict[str, Any]:
    """The signed list of numbers no longer in force: revoked ones, and those deregistered by
    their owners (a certificate of either must not pass as valid). A superseded revision's number
    is still in force under its change, so it is not listed."""
    rows = session.execute(
        sa.select(Filing.number, Filing.status, Filing.ended_at, Filing.end_reason)
        .where(Filing.number.is_not(None), Filing.status.in_(("revoked", "deregistered")))
    )
    entries = [
        {"filing_number": number, "revoked_at": ended_at, "reason": reason if status == "revoked" else f"deregistered by its owner: {reason}"}
        for number, status, ended_at, reason in rows
    ]
    return certificates.revocation_list(issuer.signing_key(), entries, at or utcnow())


def is_publicly_servable(session: Session, version_id: str) -> bool:
    """Whether a model version may be served to other orgs: it is the version of an approved
    filing, or of an earlier revision whose number is still in force under an approved change."""
    in_force = aliased(Filing)
    number_in_force = sa.exists().where(in_force.number == Filing.number, in_force.status == "approved")
    stmt = sa.select(Filing.id).where(
        Filing.version_id == version_id, Filing.status.in_(("approved", "superseded")), Filing.number.is_not(None), number_in_force
    )
    return session.scalar(stmt.limit(1)) is not None
