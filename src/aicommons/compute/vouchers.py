"""Vouchers: AI算力券 (kind `compute`) and 智评券 (kind `evaluation`), issued by officials to orgs.

A voucher has a face value, the services it may pay for, a validity window [valid_from,
valid_until) and a share: the most of any one charge it may cover (50 means half). Issuing one
is a ledger transaction from the issuing org's `issuer:<org>` account to the voucher's own
account; what it still holds is that account's balance.

A charge is covered by the holder's vouchers first, earliest expiry first (ties by id): each
eligible voucher that is valid at the time of the charge pays min(its balance, ⌊charge × share⌋,
what is left of the charge); the prepaid balance pays the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.compute import ledger
from aicommons.compute.schemas import (
    VoucherCreate,
    VoucherKind,
    VoucherRead,
    VoucherStatus,
)
from aicommons.compute.tables import LedgerAccount, Voucher
from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import Invalid, invalid_parameter, not_found
from aicommons.core.ids import new_id
from aicommons.core.officials import is_official, require_official
from aicommons.core.pagination import MAX_LIMIT
from aicommons.core.permissions import Actor
from aicommons.core.schemas import Page

KIND = "voucher"


def status(voucher: Voucher, balance_fen: int, at: datetime) -> VoucherStatus:
    if at < voucher.valid_from:
        return VoucherStatus.not_yet_valid
    if at >= voucher.valid_until:
        return VoucherStatus.expired
    return VoucherStatus.active if balance_fen > 0 else VoucherStatus.used_up


def read_voucher(voucher: Voucher, balance_fen: int, at: datetime | None = None) -> VoucherRead:
    fields = {c.key: getattr(voucher, c.key) for c in Voucher.__table__.columns}
    return VoucherRead(**fields, balance_fen=balance_fen, status=status(voucher, balance_fen, at or utcnow()))


def issue_voucher(session: Session, actor: Actor, spec: VoucherCreate) -> VoucherRead:
    """Issue a voucher from the actor's (official) org to `spec.org_id`."""
    require_official(session, actor, "issue vouchers")
    ledger.require_org(session, spec.org_id)
    entry = ledger.Entry("voucher_issue", spec.org_id, spec.face_value_fen, memo=spec.memo, body={"voucher": spec.model_dump(mode="json", exclude={"idempotency_key", "memo"})})
    key = spec.idempotency_key or new_id("voucher")
    issuer = ledger.account(session, ledger.issuer_key(actor.org_id), "issuer", actor.org_id)
    ledger.lock(session, [issuer], [])
    existing = ledger.replay(session, key, entry)
    if existing is not None:
        return get_voucher(session, actor, existing.detail["voucher_id"])
    now = utcnow()
    if spec.valid_until <= now:
        raise Invalid(f"The 'valid_until' of a voucher must be in the future; got {spec.valid_until.isoformat()}, which has passed (now {now.isoformat()}).")
    valid_from = spec.valid_from or now
    voucher_id = new_id("vch")
    holder = ledger.account(session, f"voucher:{voucher_id}", "voucher", spec.org_id)
    voucher = Voucher(
        id=voucher_id, kind=spec.kind.value, org_id=spec.org_id, issuer_org_id=actor.org_id, account_id=holder.id,
        face_value_fen=spec.face_value_fen, share_percent=spec.share_percent, services=spec.eligible_services(),
        valid_from=valid_from, valid_until=spec.valid_until, memo=spec.memo, created_by=actor.user_id,
    )
    session.add(voucher)
    ledger.post(session, actor, key, entry, [(issuer, -spec.face_value_fen), (holder, spec.face_value_fen)], detail={"voucher_id": voucher_id})
    result = read_voucher(voucher, holder.balance_fen, now)
    audit.record(session, actor, "voucher.issue", KIND, voucher_id, org_id=spec.org_id, after=result)
    return result


def _balances(session: Session, vouchers: list[Voucher]) -> dict[str, int]:
    ids = [v.account_id for v in vouchers]
    return dict(session.execute(sa.select(LedgerAccount.id, LedgerAccount.balance_fen).where(LedgerAccount.id.in_(ids))).all()) if ids else {}


def get_voucher(session: Session, actor: Actor, voucher_id: str) -> VoucherRead:
    voucher = session.get(Voucher, voucher_id)
    if voucher is None or actor.org_id not in (voucher.org_id, voucher.issuer_org_id) and not is_official(session, actor):
        raise not_found(KIND, voucher_id)
    return read_voucher(voucher, _balances(session, [voucher])[voucher.account_id])


def list_vouchers(session: Session, actor: Actor, *, org_id: str | None = None, kind: VoucherKind | None = None) -> list[VoucherRead]:
    """Earliest expiry first. An org sees the vouchers it holds and those it issued; officials see all."""
    vouchers = list(session.scalars(_visible(session, actor, org_id, kind).order_by(Voucher.valid_until, Voucher.id)))
    return _read_many(session, vouchers)


def page_vouchers(
    session: Session, actor: Actor, *, org_id: str | None = None, kind: VoucherKind | None = None, limit: int = 50, cursor: str | None = None
) -> Page[VoucherRead]:
    """`list_vouchers` a page at a time, for lists that an official's view of every org makes long.
    `cursor` is the id of the last voucher of the page before (the order is by expiry, then id)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise invalid_parameter("limit", "page_vouchers", f"an integer in [1, {MAX_LIMIT}]", limit)
    stmt = _visible(session, actor, org_id, kind)
    if cursor is not None:
        if len(cursor) > 40:
            raise invalid_parameter("cursor", "page_vouchers", "a cursor returned by a previous page", cursor)
        # After the cursor's voucher in (valid_until, id) order; an unknown cursor continues with nothing.
        expiry = sa.select(Voucher.valid_until).where(Voucher.id == cursor).scalar_subquery()
        stmt = stmt.where(sa.or_(Voucher.valid_until > expiry, sa.and_(Voucher.valid_until == expiry, Voucher.id > cursor)))
    vouchers = list(session.scalars(stmt.order_by(Voucher.valid_until, Voucher.id).limit(limit + 1)))
    next_cursor = vouchers[limit - 1].id if len(vouchers) > limit else None
    return Page[VoucherRead](items=_read_many(session, vouchers[:limit]), next_cursor=next_cursor)


def _visible(session: Session, actor: Actor, org_id: str | None, kind: VoucherKind | None) -> sa.Select[tuple[Voucher]]:
    stmt = sa.select(Voucher)
    if not is_official(session, actor):
        stmt = stmt.where(sa.or_(Voucher.org_id == actor.org_id, Voucher.issuer_org_id == actor.org_id))
    if org_id is not None:
        stmt = stmt.where(Voucher.org_id == org_id)
    if kind is not None:
        stmt = stmt.where(Voucher.kind == VoucherKind(kind).value)
    return stmt


def _read_many(session: Session, vouchers: list[Voucher]) -> list[VoucherRead]:
    """The vouchers with their balances, read in one query whatever their number."""
    balances = _balances(session, vouchers)
    now = utcnow()
    return [read_voucher(v, balances[v.account_id], now) for v in vouchers]


def valid_vouchers(session: Session, org_id: str, at: datetime) -> list[Voucher]:
    """The vouchers the org holds that are valid at `at`: the only ones a charge then may draw on.
    Filtered in SQL, since an org's expired vouchers pile up over the years."""
    return list(session.scalars(
        sa.select(Voucher).where(Voucher.org_id == org_id, Voucher.valid_from <= at, Voucher.valid_until > at)
        .order_by(Voucher.valid_until, Voucher.id)
    ))


@dataclass(frozen=True)
class Cover:
    voucher_id: str
    account_id: str
    amount_fen: int


def cover(amount_fen: int, service: str, at: datetime, vouchers: list[Voucher], balances: dict[str, int]) -> list[Cover]:
    """How much of a charge each voucher pays (see the module docstring); the rest is the prepaid balance's."""
    usable = sorted(
        (v for v in vouchers if service in v.services and v.valid_from <= at < v.valid_until and balances[v.account_id] > 0),
        key=lambda v: (v.valid_until, v.id),
    )
    covers, left = [], amount_fen
    for voucher in usable:
        take = min(balances[voucher.account_id], amount_fen * voucher.share_percent // 100, left)
        if take > 0:
            covers.append(Cover(voucher.id, voucher.account_id, take))
            left -= take
    return covers
