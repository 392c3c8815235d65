"""The double-entry ledger: accounts, balanced transactions, idempotency keys and top-ups.

Every transaction is a set of postings on accounts that sum to zero (one currency, CNY, in
integer fen). An account's `balance_fen` is the sum of its postings, kept up to date in the same
transaction. Accounts an org holds (its `prepaid` balance, each `voucher`) never go below zero;
platform-side accounts are their counterparts: `deposits` (money paid in by top-ups, negative),
`issuer:<org>` (face value of the vouchers an official org issued, negative) and `revenue`
(charges, positive).

Writers lock the accounts they touch with SELECT … FOR UPDATE (SQLite's BEGIN IMMEDIATE already
serialises writers), platform-side accounts first and then the org's in id order, so two writers
never wait on each other in a cycle. The idempotency key is checked after the locks: a second
request with the same key waits for the first and then returns its transaction (or a Conflict
when its body differs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aicommons.compute.schemas import (
    AccountRead,
    PostingRead,
    TopupCreate,
    TransactionRead,
)
from aicommons.compute.tables import LedgerAccount, LedgerPosting, LedgerTransaction
from aicommons.core import audit
from aicommons.core.errors import Conflict, Forbidden, not_found
from aicommons.core.ids import new_id
from aicommons.core.officials import is_official, require_official
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Actor
from aicommons.core.schemas import Page
from aicommons.core.tables import Org

CURRENCY = "CNY"
REVENUE = "revenue"
DEPOSITS = "deposits"
ORG_HELD = frozenset({"prepaid", "voucher"})


class InsufficientFunds(Conflict):
    """A charge the org's vouchers and prepaid balance cannot cover; nothing was written."""

    code = "insufficient_funds"
    status = 402

    def __init__(self, message: str, *, shortfall_fen: int):
        super().__init__(message)
        self.shortfall_fen = shortfall_fen


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{abs(fen) // 100}.{abs(fen) % 100:02d}"


# --- who may do what ------------------------------------------------------------------------------


def require_operator(actor: Actor, action: str) -> None:
    if not actor.is_operator:
        raise Forbidden(f"Only the platform operator may {action}; {actor.email} is not the operator.")


def require_reader(session: Session, actor: Actor, org_id: str) -> None:
    """An org reads its own books; officials read everyone's."""
    if org_id != actor.org_id and not is_official(session, actor):
        raise not_found("org", org_id)


def require_org(session: Session, org_id: str) -> Org:
    org = session.get(Org, org_id)
    if org is None:
        raise not_found("org", org_id)
    return org


# --- accounts ---------------------------------------------------------------------------------------


def prepaid_key(org_id: str) -> str:
    return f"prepaid:{org_id}"


def issuer_key(org_id: str) -> str:
    return f"issuer:{org_id}"


def account(session: Session, key: str, kind: str, org_id: str | None = None) -> LedgerAccount:
    """The account named `key`, opened on first use (concurrent openers: one wins, all get it)."""
    found = session.scalar(sa.select(LedgerAccount).where(LedgerAccount.key == key))
    if found is not None:
        return found
    try:
        with session.begin_nested():
            opened = LedgerAccount(id=new_id("acc"), key=key, kind=kind, org_id=org_id, currency=CURRENCY, balance_fen=0)
            session.add(opened)
        return opened
    except IntegrityError:
        return session.scalars(sa.select(LedgerAccount).where(LedgerAccount.key == key)).one()


def balance_of(key: str) -> sa.Select[tuple[int]]:
    return sa.select(LedgerAccount.balance_fen).where(LedgerAccount.key == key)


def lock(session: Session, platform_side: list[LedgerAccount], org_held: list[LedgerAccount]) -> None:
    """Lock the accounts about to change, re-reading their balances (see the module docstring for the order)."""
    for group in (platform_side, org_held):
        ids = sorted({a.id for a in group})
        if ids:
            session.scalars(
                sa.select(LedgerAccount).where(LedgerAccount.id.in_(ids)).order_by(LedgerAccount.id)
                .with_for_update().execution_options(populate_existing=True)
            ).all()


# --- transactions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """What a transaction says, apart from its postings: compared on replay by its digest."""

    kind: str
    org_id: str
    amount_fen: int
    service: str | None = None
    memo: str = ""
    body: dict[str, Any] | None = None

    def digest(self) -> str:
        body = {"kind": self.kind, "org_id": self.org_id, "amount_fen": self.amount_fen, "service": self.service, "memo": self.memo, **(self.body or {})}
        digest = audit.digest(body)
        assert digest is not None
        return digest


def replay(session: Session, key: str, entry: Entry) -> LedgerTransaction | None:
    """The transaction already written under `key`, if any; a Conflict if it says something else."""
    existing = session.scalar(sa.select(LedgerTransaction).where(LedgerTransaction.idempotency_key == key))
    if existing is not None and existing.body_digest != entry.digest():
        raise Conflict(
            f"The idempotency key {key!r} was already used for a different request ({existing.kind} {existing.id} of "
            f"{existing.amount_fen} fen for org {existing.org_id}); resend exactly that request to get it back, or use a new key."
        )
    return existing


def post(
    session: Session, actor: Actor | None, key: str, entry: Entry, legs: list[tuple[LedgerAccount, int]], *, detail: dict[str, Any] | None = None,
) -> LedgerTransaction:
    """Write a balanced transaction on locked accounts and apply it to their balances."""
    if sum(amount for _, amount in legs) != 0 or len({a.id for a, _ in legs}) != len(legs):
        raise ValueError(f"unbalanced or repeated postings for {key!r}: {[(a.key, amount) for a, amount in legs]}")
    for held, amount in legs:
        if held.kind in ORG_HELD and held.balance_fen + amount < 0:
            raise InsufficientFunds(
                f"Insufficient funds in {held.key}: it holds {yuan(held.balance_fen)}, {yuan(-amount - held.balance_fen)} short of {yuan(-amount)}.",
                shortfall_fen=-amount - held.balance_fen,
            )
    transaction = LedgerTransaction(
        id=new_id("txn"), idempotency_key=key, body_digest=entry.digest(), kind=entry.kind, org_id=entry.org_id, service=entry.service,
        amount_fen=entry.amount_fen, memo=entry.memo, detail=detail or {}, created_by=actor.user_id if actor else None,
    )
    session.add(transaction)
    session.flush()
    for held, amount in legs:
        session.add(LedgerPosting(transaction_id=transaction.id, account_id=held.id, amount_fen=amount, currency=CURRENCY))
        held.balance_fen += amount
    session.flush()
    audit.record(
        session, actor, f"ledger.{entry.kind}", "ledger_transaction", transaction.id, org_id=entry.org_id,
        after=read_transaction(session, transaction), detail={"idempotency_key": key},
    )
    return transaction


def read_transaction(session: Session, transaction: LedgerTransaction) -> TransactionRead:
    return read_transactions(session, [transaction])[0]


def read_transactions(session: Session, transactions: list[LedgerTransaction]) -> list[TransactionRead]:
    """The transactions with their postings, read in one query whatever their number (a page lists fifty)."""
    postings: dict[str, list[PostingRead]] = {t.id: [] for t in transactions}
    if transactions:
        rows = session.execute(
            sa.select(LedgerPosting, LedgerAccount.key).join(LedgerAccount, LedgerAccount.id == LedgerPosting.account_id)
            .where(LedgerPosting.transaction_id.in_(list(postings))).order_by(LedgerPosting.amount_fen, LedgerAccount.key)
        )
        for p, key in rows:
            postings[p.transaction_id].append(PostingRead(account_id=p.account_id, account_key=key, amount_fen=p.amount_fen, currency=p.currency))
    columns = [c.key for c in LedgerTransaction.__table__.columns if c.key != "body_digest"]
    return [TransactionRead(**{c: getattr(t, c) for c in columns}, postings=postings[t.id]) for t in transactions]


# --- top-ups and reads ------------------------------------------------------------------------------


def topup(session: Session, actor: Actor, spec: TopupCreate) -> TransactionRead:
    """Record money paid into an org's prepaid balance. Officials record top-ups: the operator for
    payments the platform received, a government org for funds it grants."""
    require_official(session, actor, "top up prepaid balances")
    require_org(session, spec.org_id)
    entry = Entry("topup", spec.org_id, spec.amount_fen, memo=spec.memo)
    key = spec.idempotency_key or new_id("topup")
    deposits = account(session, DEPOSITS, DEPOSITS)
    prepaid = account(session, prepaid_key(spec.org_id), "prepaid", spec.org_id)
    lock(session, [deposits], [prepaid])
    existing = replay(session, key, entry)
    if existing is None:
        existing = post(session, actor, key, entry, [(deposits, -spec.amount_fen), (prepaid, spec.amount_fen)])
    return read_transaction(session, existing)


def list_accounts(session: Session, actor: Actor, *, org_id: str | None = None) -> list[AccountRead]:
    """An org's accounts (its own org's by default); officials may name any org, or none for all."""
    stmt = sa.select(LedgerAccount).order_by(LedgerAccount.key)
    if org_id is None and not is_official(session, actor):
        org_id = actor.org_id
    if org_id is not None:
        require_reader(session, actor, org_id)
        stmt = stmt.where(LedgerAccount.org_id == org_id)
    return [AccountRead.model_validate(a) for a in session.scalars(stmt)]


def get_transaction(session: Session, actor: Actor, transaction_id: str) -> TransactionRead:
    transaction = session.get(LedgerTransaction, transaction_id)
    if transaction is None or not (transaction.org_id == actor.org_id or is_official(session, actor)):
        raise not_found("ledger transaction", transaction_id)
    return read_transaction(session, transaction)


def list_transactions(
    session: Session, actor: Actor, *, org_id: str | None = None, kind: str | None = None, limit: int = 50, cursor: str | None = None,
) -> Page[TransactionRead]:
    """Newest first. An org sees the transactions about it; officials see all (or one org's)."""
    stmt = sa.select(LedgerTransaction)
    if org_id is None and not is_official(session, actor):
        org_id = actor.org_id
    if org_id is not None:
        require_reader(session, actor, org_id)
        stmt = stmt.where(LedgerTransaction.org_id == org_id)
    if kind is not None:
        stmt = stmt.where(LedgerTransaction.kind == kind)
    rows, next_cursor = page_rows(session, stmt, LedgerTransaction.id, limit=limit, cursor=cursor, owner="list_transactions")
    return Page[TransactionRead](items=read_transactions(session, rows), next_cursor=next_cursor)
