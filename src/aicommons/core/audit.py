"""The audit log: append-only and hash-chained.

Each entry is appended in the same transaction as the change it records and carries the hash of
the entry before it, so editing, reordering or deleting a stored entry breaks the chain at that
entry and `verify_chain` names it. Appends are serialised (PostgreSQL: an advisory transaction
lock; SQLite: `BEGIN IMMEDIATE` already holds the write lock) so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Session

from aicommons.core.db import utcnow
from aicommons.core.errors import Forbidden
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Actor
from aicommons.core.schemas import AuditEntryRead, AuditVerification, Page
from aicommons.core.tables import AuditEntry

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 0x41494341  # "AICA": any constant shared by every writer


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(value: BaseModel | dict[str, Any] | None) -> str | None:
    """sha256 of a resource's canonical JSON form, for before/after digests."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def _entry_hash(entry: AuditEntry) -> str:
    body = {
        "seq": entry.seq,
        "id": entry.id,
        "at": entry.at.isoformat(),
        "actor_user_id": entry.actor_user_id,
        "actor_org_id": entry.actor_org_id,
        "org_id": entry.org_id,
        "action": entry.action,
        "resource_kind": entry.resource_kind,
        "resource_id": entry.resource_id,
        "before_digest": entry.before_digest,
        "after_digest": entry.after_digest,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
    }
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def record(
    session: Session,
    actor: Actor | None,
    action: str,
    resource_kind: str,
    resource_id: str,
    *,
    org_id: str | None,
    before: BaseModel | dict[str, Any] | None = None,
    after: BaseModel | dict[str, Any] | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one entry; `actor=None` means the platform itself (bootstrap, executor)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_ADVISORY_LOCK_KEY)))
    last = session.execute(
        sa.select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    entry = AuditEntry(
        seq=(last.seq + 1) if last else 1,
        id=new_id("aud"),
        at=utcnow(),
        actor_user_id=actor.user_id if actor else None,
        actor_org_id=actor.org_id if actor else None,
        org_id=org_id,
        action=action,
        resource_kind=resource_kind,
        resource_id=resource_id,
        before_digest=digest(before),
        after_digest=digest(after),
        detail=json.loads(canonical_json(detail or {})),
        prev_hash=last.hash if last else GENESIS_HASH,
    )
    entry.hash = _entry_hash(entry)
    session.add(entry)
    session.flush()


def verify_chain(session: Session, actor: Actor) -> AuditVerification:
    """Recompute every hash in order; report the first entry that does not match."""
    if not actor.is_operator:
        raise Forbidden("Only the platform operator may verify the whole audit chain.")
    prev_hash = GENESIS_HASH
    expected_seq = 1
    checked = 0
    rows = session.execute(sa.select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000))
    for entry in rows.scalars():
        reason = None
        if entry.seq != expected_seq:
            reason = f"entry {expected_seq} is missing before entry {entry.seq}"
        elif entry.prev_hash != prev_hash:
            reason = "its prev_hash does not match the hash of the entry before it"
        elif _entry_hash(entry) != entry.hash:
            reason = "its contents do not match its hash"
        if reason:
            return AuditVerification(
                ok=False, checked=checked, first_broken_seq=entry.seq, first_broken_id=entry.id, reason=reason
            )
        prev_hash = entry.hash
        expected_seq += 1
        checked += 1
    return AuditVerification(ok=True, checked=checked)


def list_entries(
    session: Session,
    actor: Actor,
    *,
    resource_id: str | None = None,
    action: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[AuditEntryRead]:
    """Org admins read the entries about their org's resources; the operator reads all."""
    if not (actor.is_operator or actor.is_org_admin):
        raise Forbidden("Only org admins and the platform operator may read the audit log.")
    stmt = sa.select(AuditEntry)
    if not actor.is_operator:
        # By the owner of the changed resource only: an org's own members may act on another
        # org's shared things, and those entries belong to that other org.
        stmt = stmt.where(AuditEntry.org_id == actor.org_id)
    if resource_id:
        stmt = stmt.where(AuditEntry.resource_id == resource_id)
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    rows, next_cursor = page_rows(session, stmt, AuditEntry.seq, limit=limit, cursor=cursor, owner="list_entries")
    return Page[AuditEntryRead](items=[AuditEntryRead.model_validate(r) for r in rows], next_cursor=next_cursor)
