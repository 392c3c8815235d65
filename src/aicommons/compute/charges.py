"""Charges: an amount for a service taken from an org's vouchers, then its prepaid balance.

A charge credits platform `revenue` and debits the vouchers that cover it (see vouchers.py) and
the prepaid balance for the rest. When the prepaid balance cannot pay the rest, the charge is
refused with InsufficientFunds naming the shortfall, before anything is written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.compute import ledger, vouchers
from aicommons.compute.ledger import InsufficientFunds, yuan
from aicommons.compute.prices import PriceList, load_prices
from aicommons.compute.schemas import (
    ChargeCreate,
    OrgBalance,
    TransactionRead,
    VoucherStatus,
)
from aicommons.compute.tables import LedgerAccount, LedgerTransaction
from aicommons.core.db import utcnow
from aicommons.core.permissions import Actor


def charge(session: Session, actor: Actor, spec: ChargeCreate, *, prices: PriceList | None = None) -> TransactionRead:
    """Charge an org directly (the operator only; metered usage is billed by `charge_usage`)."""
    ledger.require_operator(actor, "charge an org")
    (prices or load_prices()).service(spec.service)
    entry = ledger.Entry("charge", spec.org_id, spec.amount_fen, service=spec.service, memo=spec.memo)
    return ledger.read_transaction(session, post_charge(session, actor, spec.idempotency_key, entry))


def post_charge(session: Session, actor: Actor, key: str, entry: ledger.Entry, *, detail: dict[str, Any] | None = None) -> LedgerTransaction:
    """Write (or replay) the charge `entry` under `key`; the caller has checked who may charge."""
    ledger.require_org(session, entry.org_id)
    assert entry.service is not None
    revenue = ledger.account(session, ledger.REVENUE, ledger.REVENUE)
    prepaid = ledger.account(session, ledger.prepaid_key(entry.org_id), "prepaid", entry.org_id)
    now = utcnow()
    held = vouchers.valid_vouchers(session, entry.org_id, now)
    voucher_accounts = list(session.scalars(sa.select(LedgerAccount).where(LedgerAccount.id.in_([v.account_id for v in held])))) if held else []
    ledger.lock(session, [revenue], [prepaid, *voucher_accounts])
    existing = ledger.replay(session, key, entry)
    if existing is not None:
        return existing
    covers = vouchers.cover(entry.amount_fen, entry.service, now, held, {a.id: a.balance_fen for a in voucher_accounts})
    rest = entry.amount_fen - sum(c.amount_fen for c in covers)
    if rest > prepaid.balance_fen:
        shortfall = rest - prepaid.balance_fen
        raise InsufficientFunds(
            f"Insufficient funds: a {entry.service} charge of {yuan(entry.amount_fen)} to org {entry.org_id} leaves {yuan(rest)} after "
            f"its vouchers, but its prepaid balance holds {yuan(prepaid.balance_fen)}: {yuan(shortfall)} ({shortfall} fen) short. "
            "Top it up (`aicommons ledger topup`) and charge again.",
            shortfall_fen=shortfall,
        )
    by_account = {a.id: a for a in voucher_accounts}
    legs = [(revenue, entry.amount_fen), *((by_account[c.account_id], -c.amount_fen) for c in covers)]
    if rest:
        legs.append((prepaid, -rest))
    paid_by = {"vouchers": [{"voucher_id": c.voucher_id, "amount_fen": c.amount_fen} for c in covers], "prepaid_fen": rest}
    return ledger.post(session, actor, key, entry, legs, detail={**(detail or {}), **paid_by})


def get_balance(session: Session, actor: Actor, org_id: str | None = None) -> OrgBalance:
    """An org's prepaid balance and vouchers (its own by default; officials may name any org)."""
    org_id = org_id or actor.org_id
    ledger.require_reader(session, actor, org_id)
    ledger.require_org(session, org_id)
    prepaid = session.scalar(ledger.balance_of(ledger.prepaid_key(org_id))) or 0
    held = vouchers.list_vouchers(session, actor, org_id=org_id)
    usable = sum(v.balance_fen for v in held if v.status == VoucherStatus.active)
    return OrgBalance(org_id=org_id, prepaid_fen=prepaid, vouchers=held, usable_voucher_fen=usable)
