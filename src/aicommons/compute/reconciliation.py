"""Reconciliation: the ledger's usage charges against metered usage × the price list.

For each org and service it adds up the price of every metered item before `until` (each item
priced as the charging run prices it) and, separately, what the ledger holds for those charges
(the postings of `usage_charge` transactions to platform revenue). The two agree line by line
once every item is billed; a difference is usage not billed yet (positive: a refused or pending
charge) or billed at another price (the price list changed since). It also checks the ledger
itself: that every transaction's postings sum to zero and every stored balance equals the sum of
its account's postings.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.compute import ledger
from aicommons.compute.prices import PriceList, load_prices
from aicommons.compute.schemas import ReconciliationLine, ReconciliationReport
from aicommons.compute.tables import (
    LedgerAccount,
    LedgerPosting,
    LedgerTransaction,
    UsageCharge,
)
from aicommons.compute.usage import default_until, metered_items
from aicommons.core.officials import is_official
from aicommons.core.permissions import Actor


def reconcile(
    session: Session, actor: Actor, *, until: datetime | None = None, org_id: str | None = None, prices: PriceList | None = None,
) -> ReconciliationReport:
    """The report for one org (an org's own by default) or, for officials, every org."""
    prices = prices or load_prices()
    until = until or default_until()
    if org_id is None and not is_official(session, actor):
        org_id = actor.org_id
    if org_id is not None:
        ledger.require_reader(session, actor, org_id)
    billed_states = {(c.source, c.source_key): (c.calls, c.compute_seconds) for c in session.scalars(sa.select(UsageCharge))}
    lines: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for item in metered_items(session, prices, until=until, org_id=org_id):
        line = lines[(item.org_id, item.service)]
        line["items"] += 1
        line["calls"] += item.calls
        line["compute_seconds"] += item.compute_seconds
        line["expected_fen"] += prices.price_fen(item.service, calls=item.calls, compute_seconds=item.compute_seconds)
        line["unbilled_items"] += billed_states.get((item.source, item.source_key)) != (item.calls, item.compute_seconds)
    for (org, service), fen in _billed(session, org_id).items():
        lines[(org, service)]["billed_fen"] += fen
    report_lines = [
        ReconciliationLine(
            org_id=org, service=service, items=int(v["items"]), calls=int(v["calls"]), compute_seconds=round(v["compute_seconds"], 6),
            expected_fen=int(v["expected_fen"]), billed_fen=int(v["billed_fen"]), difference_fen=int(v["expected_fen"] - v["billed_fen"]),
            unbilled_items=int(v["unbilled_items"]),
        )
        for (org, service), v in sorted(lines.items())
    ]
    unbalanced = list(session.scalars(
        sa.select(LedgerPosting.transaction_id).group_by(LedgerPosting.transaction_id).having(sa.func.sum(LedgerPosting.amount_fen) != 0)
    ))
    sums = sa.select(LedgerPosting.account_id, sa.func.sum(LedgerPosting.amount_fen).label("total")).group_by(LedgerPosting.account_id).subquery()
    mismatched = list(session.scalars(
        sa.select(LedgerAccount.key).outerjoin(sums, sums.c.account_id == LedgerAccount.id)
        .where(LedgerAccount.balance_fen != sa.func.coalesce(sums.c.total, 0)).order_by(LedgerAccount.key)
    ))
    expected = sum(line.expected_fen for line in report_lines)
    billed = sum(line.billed_fen for line in report_lines)
    return ReconciliationReport(
        until=until, lines=report_lines, expected_fen=expected, billed_fen=billed, difference_fen=expected - billed,
        unbalanced_transactions=unbalanced, mismatched_accounts=mismatched, ok=all(line.difference_fen == 0 for line in report_lines) and not unbalanced and not mismatched,
    )


def _billed(session: Session, org_id: str | None) -> dict[tuple[str, str], int]:
    """Revenue postings of usage charges per (org, service): what the ledger says was billed."""
    stmt = (
        sa.select(LedgerTransaction.org_id, LedgerTransaction.service, sa.func.sum(LedgerPosting.amount_fen))
        .join(LedgerPosting, LedgerPosting.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
        .where(LedgerTransaction.kind == "usage_charge", LedgerAccount.key == ledger.REVENUE)
        .group_by(LedgerTransaction.org_id, LedgerTransaction.service)
    )
    if org_id is not None:
        stmt = stmt.where(LedgerTransaction.org_id == org_id)
    return {(org, service): int(total) for org, service, total in session.execute(stmt)}
