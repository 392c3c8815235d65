"""The ledger, vouchers (算力券, 智评券) and charges from metered usage. Amounts are integer fen (分)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter

from aicommons import compute
from aicommons.api.deps import ActorDep, SessionDep
from aicommons.core.schemas import Page

router = APIRouter(prefix="/ledger", tags=["compute"])


@router.get("/balance", response_model=compute.OrgBalance)
def balance(session: SessionDep, actor: ActorDep, org_id: str | None = None) -> compute.OrgBalance:
    """An org's prepaid balance and vouchers: your own org's, or (officials) any org's."""
    return compute.get_balance(session, actor, org_id)


@router.get("/accounts", response_model=list[compute.AccountRead])
def accounts(session: SessionDep, actor: ActorDep, org_id: str | None = None) -> list[compute.AccountRead]:
    return compute.list_accounts(session, actor, org_id=org_id)


@router.get("/transactions", response_model=Page[compute.TransactionRead])
def transactions(
    session: SessionDep, actor: ActorDep, org_id: str | None = None, kind: str | None = None, limit: int = 50, cursor: str | None = None,
) -> Page[compute.TransactionRead]:
    """Newest first, with their postings."""
    return compute.list_transactions(session, actor, org_id=org_id, kind=kind, limit=limit, cursor=cursor)


@router.get("/transactions/{transaction_id}", response_model=compute.TransactionRead)
def transaction(transaction_id: str, session: SessionDep, actor: ActorDep) -> compute.TransactionRead:
    return compute.get_transaction(session, actor, transaction_id)


@router.post("/topups", response_model=compute.TransactionRead, status_code=201)
def topup(spec: compute.TopupCreate, session: SessionDep, actor: ActorDep) -> compute.TransactionRead:
    """Record money paid into an org's prepaid balance (officials only)."""
    return compute.topup(session, actor, spec)


@router.post("/charges", response_model=compute.TransactionRead, status_code=201)
def charge(spec: compute.ChargeCreate, session: SessionDep, actor: ActorDep) -> compute.TransactionRead:
    """Charge an org for a service: vouchers first, then its prepaid balance (the operator only)."""
    return compute.charge(session, actor, spec)


@router.get("/vouchers", response_model=list[compute.VoucherRead])
def vouchers(session: SessionDep, actor: ActorDep, org_id: str | None = None, kind: compute.VoucherKind | None = None) -> list[compute.VoucherRead]:
    return compute.list_vouchers(session, actor, org_id=org_id, kind=kind)


@router.post("/vouchers", response_model=compute.VoucherRead, status_code=201)
def issue_voucher(spec: compute.VoucherCreate, session: SessionDep, actor: ActorDep) -> compute.VoucherRead:
    """Issue an AI算力券 (`compute`) or 智评券 (`evaluation`) from your (official) org to an org."""
    return compute.issue_voucher(session, actor, spec)


@router.get("/vouchers/{voucher_id}", response_model=compute.VoucherRead)
def voucher(voucher_id: str, session: SessionDep, actor: ActorDep) -> compute.VoucherRead:
    return compute.get_voucher(session, actor, voucher_id)


@router.get("/prices", response_model=compute.PriceList)
def prices() -> compute.PriceList:
    """The price list metered usage is billed at."""
    return compute.load_prices()


@router.post("/usage-charges", response_model=compute.UsageChargeRun)
def charge_usage(session: SessionDep, actor: ActorDep, until: datetime | None = None) -> compute.UsageChargeRun:
    """Bill every metered item before `until` (default: the start of this minute) not billed yet (the operator only)."""
    return compute.charge_usage(session, actor, until=until)


@router.get("/reconciliation", response_model=compute.ReconciliationReport)
def reconciliation(session: SessionDep, actor: ActorDep, org_id: str | None = None, until: datetime | None = None) -> compute.ReconciliationReport:
    """Ledger usage charges against metered usage × price, per org and service."""
    return compute.reconcile(session, actor, org_id=org_id, until=until)
