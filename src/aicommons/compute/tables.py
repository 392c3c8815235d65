"""Tables of the compute service: the ledger's accounts, transactions and postings, vouchers, and
what each metered item has been billed so far.

Money is integer fen (分) everywhere; compute-seconds are copies of the metered quantities, not money.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from aicommons.core.db import Base, JSONType, UTCDateTime, utcnow

ID = sa.String(40)


class LedgerAccount(Base):
    """One balance: an org's prepaid balance, one voucher, or a platform-side account (revenue,
    deposits, an issuer's vouchers). `balance_fen` is the sum of the account's postings."""

    __tablename__ = "ledger_accounts"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(120), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    org_id: Mapped[str | None] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")
    balance_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerTransaction(Base):
    """A balanced set of postings, written once under its idempotency key."""

    __tablename__ = "ledger_transactions"
    # The ledger page, newest first: the org's transactions walked in id order, not all of them sorted.
    __table_args__ = (sa.Index("ix_ledger_transactions_org_id_id", "org_id", "id"),)

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(sa.String(200), unique=True)
    body_digest: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(20))
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    service: Mapped[str | None] = mapped_column(sa.String(40))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    memo: Mapped[str] = mapped_column(sa.String(500), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LedgerPosting(Base):
    """One leg of a transaction: a signed amount on one account."""

    __tablename__ = "ledger_postings"

    transaction_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_transactions.id"), primary_key=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_accounts.id"), primary_key=True, index=True)
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    currency: Mapped[str] = mapped_column(sa.String(3), default="CNY")


class Voucher(Base):
    """An AI算力券 (kind `compute`) or 智评券 (kind `evaluation`) held by an org; its remaining value
    is the balance of its own account."""

    __tablename__ = "vouchers"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    issuer_org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    account_id: Mapped[str] = mapped_column(sa.ForeignKey("ledger_accounts.id"), unique=True)
    face_value_fen: Mapped[int] = mapped_column(sa.BigInteger)
    share_percent: Mapped[int] = mapped_column(sa.Integer)
    services: Mapped[list[str]] = mapped_column(JSONType, default=list)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime)
    memo: Mapped[str] = mapped_column(sa.String(500), default="")
    created_by: Mapped[str | None] = mapped_column(ID)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class UsageCharge(Base):
    """What one metered item (a serving minute of an endpoint and calling org, or a finished job)
    has been billed so far, and the quantities that bill was computed from."""

    __tablename__ = "usage_charges"

    source: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    source_key: Mapped[str] = mapped_column(sa.String(120), primary_key=True)
    org_id: Mapped[str] = mapped_column(sa.ForeignKey("orgs.id"), index=True)
    service: Mapped[str] = mapped_column(sa.String(40))
    calls: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    compute_seconds: Mapped[float] = mapped_column(sa.Float, default=0.0)
    billed_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    transaction_id: Mapped[str | None] = mapped_column(sa.ForeignKey("ledger_transactions.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
