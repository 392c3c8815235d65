"""The compute service's public shapes. Every amount is integer fen (分): ¥1 = 100 fen."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from aicommons.core.schemas import Schema

Fen = Annotated[int, Field(gt=0, le=10**13, description="A positive amount in fen (分); ¥1 = 100 fen.")]
IdempotencyKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Memo = Annotated[str, StringConstraints(max_length=500)]
OrgId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]


class VoucherKind(StrEnum):
    compute = "compute"  # AI算力券: compute for training, serving and other jobs
    evaluation = "evaluation"  # 智评券: model testing and evaluation


VOUCHER_SERVICES: dict[VoucherKind, tuple[str, ...]] = {
    VoucherKind.compute: ("compute", "serving", "training"),
    VoucherKind.evaluation: ("evaluation",),
}


class AccountRead(Schema):
    id: str
    key: str
    kind: str
    org_id: str | None
    currency: str
    balance_fen: int
    created_at: datetime


class PostingRead(Schema):
    account_id: str
    account_key: str
    amount_fen: int
    currency: str


class TransactionRead(Schema):
    id: str
    idempotency_key: str
    kind: str
    org_id: str
    service: str | None
    amount_fen: int
    memo: str
    detail: dict[str, Any]
    created_by: str | None
    created_at: datetime
    postings: list[PostingRead]


class TopupCreate(Schema):
    org_id: OrgId
    amount_fen: Fen
    memo: Memo = ""
    idempotency_key: IdempotencyKey | None = Field(None, description="Resend with the same key to get the same transaction.")


class ChargeCreate(Schema):
    org_id: OrgId
    service: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
    amount_fen: Fen
    memo: Memo = ""
    idempotency_key: IdempotencyKey


class VoucherCreate(Schema):
    org_id: OrgId = Field(description="The org the voucher is issued to.")
    kind: VoucherKind = Field(description="`compute` (AI算力券) or `evaluation` (智评券).")
    face_value_fen: Fen
    share_percent: int = Field(ge=1, le=100, description="The most of each charge the voucher may cover, in percent.")
    services: list[str] | None = Field(None, description="Eligible services; every service of the kind when left out.")
    valid_from: datetime | None = Field(None, description="When it starts to cover charges; now when left out.")
    valid_until: datetime
    memo: Memo = ""
    idempotency_key: IdempotencyKey | None = None

    @model_validator(mode="after")
    def _consistent(self) -> VoucherCreate:
        allowed = VOUCHER_SERVICES[self.kind]
        wrong = sorted(set(self.services or ()) - set(allowed))
        if wrong or self.services == []:
            raise ValueError(f"services of a {self.kind.value} voucher must be a non-empty subset of {list(allowed)}; got {self.services!r}")
        for name in ("valid_from", "valid_until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} must carry a timezone, like 2027-01-01T00:00:00+08:00; got {value.isoformat()}")
        if self.valid_from is not None and self.valid_until <= self.valid_from:
            raise ValueError(f"valid_until ({self.valid_until.isoformat()}) must be after valid_from ({self.valid_from.isoformat()})")
        return self

    def eligible_services(self) -> list[str]:
        return sorted(self.services or VOUCHER_SERVICES[self.kind])


class VoucherStatus(StrEnum):
    not_yet_valid = "not_yet_valid"
    active = "active"
    used_up = "used_up"
    expired = "expired"


class VoucherRead(Schema):
    id: str
    kind: VoucherKind
    org_id: str
    issuer_org_id: str
    account_id: str
    face_value_fen: int
    balance_fen: int
    share_percent: int
    services: list[str]
    valid_from: datetime
    valid_until: datetime
    status: VoucherStatus
    memo: str
    created_by: str | None
    created_at: datetime


class OrgBalance(Schema):
    org_id: str
    prepaid_fen: int
    vouchers: list[VoucherRead]
    usable_voucher_fen: int = Field(description="What the org's active vouchers still hold.")


class RefusedCharge(Schema):
    org_id: str
    service: str
    items: int
    amount_fen: int
    shortfall_fen: int


class UsageChargeRun(Schema):
    until: datetime
    items_seen: int
    items_billed: int
    transactions: int
    billed_fen: int
    refused: list[RefusedCharge]


class ReconciliationLine(Schema):
    org_id: str
    service: str
    items: int
    calls: int
    compute_seconds: float
    expected_fen: int = Field(description="Σ over metered items of the price list applied to each.")
    billed_fen: int = Field(description="Σ of the usage charges' postings to platform revenue.")
    difference_fen: int = Field(description="expected − billed: usage not (yet) billed when positive.")
    unbilled_items: int


class ReconciliationReport(Schema):
    until: datetime
    lines: list[ReconciliationLine]
    expected_fen: int
    billed_fen: int
    difference_fen: int
    unbalanced_transactions: list[str] = Field(description="Transactions whose postings do not sum to zero (none, in a sound ledger).")
    mismatched_accounts: list[str] = Field(description="Accounts whose stored balance differs from the sum of their postings.")
    ok: bool
