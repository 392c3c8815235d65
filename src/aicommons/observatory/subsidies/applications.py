"""Subsidy applications under 002 三: quote, apply, list, read, approve, reject.

An org applies for itself (the actor's org). What is payable is worked out in four steps, each
written into the arithmetic the quote shows:

1. the item's own entitlement (`formulas.entitlement`);
2. 从高、从优、不重复 (the closing paragraph of 002): applications of one org with one project key are
   one project, which receives the single best entitlement among its items, never the sum. With
   T already approved for the project, an entitlement E pays max(0, E − T): a better item tops the
   project up to E, a worse or equal one pays nothing. Items paid year by year (`per_year`) are a
   project's support for that year, so they meet the project's other applications of the same year
   only; one-off items meet the project's other one-off items of every year;
3. years: an item paid for at most N years (三.5 三年) pays nothing in a further year of the project;
4. the yearly cap per entity (三.9, 三.11): the org's approved amounts under the item that year count.

Only approved applications count, so a quote can change until a decision: approval recomputes the
quote against what is approved then, fixes that amount (or a lower one the official gives, for
items that say 最高), and refuses when nothing is payable any more. An official of the platform
operator or a government org decides, never for their own org; every change is audited.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import Conflict, Forbidden, Invalid, invalid_parameter, not_found
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Actor
from aicommons.core.schemas import Page
from aicommons.core.tables import Org
from aicommons.core.officials import is_official, require_official
from aicommons.observatory.subsidies.formulas import entitlement, parse_inputs, round_fen, yuan
from aicommons.observatory.subsidies.rules import Item, find_item
from aicommons.observatory.subsidies.schemas import Approval, ApplicationRead, PriorPayment, Quote, Rejection, Status, SubsidyRequest
from aicommons.observatory.subsidies.tables import SubsidyApplication

KIND = "subsidy_application"


def to_fen(amount: Decimal) -> int:
    return int(round_fen(amount) * 100)


def from_fen(fen: int) -> Decimal:
    return round_fen(Decimal(fen) / 100)


def to_read(row: SubsidyApplication) -> ApplicationRead:
    return ApplicationRead(
        id=row.id, org_id=row.org_id, item=row.item, clause=find_item(row.item).clause, level=row.level, year=row.year,
        project_key=row.project_key, bases={k: Decimal(v) for k, v in row.bases.items()}, evidence=row.evidence,
        status=Status(row.status), quoted=from_fen(row.quoted_fen), quote=list(row.quote),
        amount=None if row.amount_fen is None else from_fen(row.amount_fen), decision=row.decision, reason=row.reason,
        created_by=row.created_by, created_at=row.created_at, decided_by=row.decided_by, decided_at=row.decided_at,
    )  # fmt: skip


def _approved(session: Session, org_id: str, *conditions: Any) -> list[SubsidyApplication]:
    stmt = sa.select(SubsidyApplication).where(
        SubsidyApplication.org_id == org_id, SubsidyApplication.status == Status.approved.value, *conditions
    )
    return list(session.scalars(stmt.order_by(SubsidyApplication.id)))


def _prior(row: SubsidyApplication) -> PriorPayment:
    return PriorPayment(application_id=row.id, item=row.item, year=row.year, project_key=row.project_key, amount=from_fen(row.amount_fen or 0))


def _same_project(session: Session, org_id: str, item: Item, year: int, project_key: str) -> list[SubsidyApplication]:
    rows = _approved(session, org_id, SubsidyApplication.project_key == project_key)
    return [r for r in rows if r.year == year or not (item.per_year or find_item(r.item).per_year)]


def compute_quote(session: Session, org_id: str, request: SubsidyRequest) -> Quote:
    """The quote for `org_id`: the item's entitlement, then the overlap rule, years and the yearly cap."""
    item = find_item(request.item)
    level, bases = parse_inputs(item, request.level, request.bases)
    result = entitlement(item, level, bases)
    steps = list(result.steps)
    payable = result.amount
    same_project = _same_project(session, org_id, item, request.year, request.project_key)
    if result.eligible and same_project:
        paid = sum((from_fen(r.amount_fen or 0) for r in same_project), Decimal(0))
        listed = "; ".join(f"{r.item} {r.year} {yuan(from_fen(r.amount_fen or 0))} ({r.id})" for r in same_project)
        payable = max(Decimal(0), result.amount - paid)
        steps.append(
            f"从高、从优、不重复: project {request.project_key!r} already has {yuan(paid)} approved ({listed}); "
            f"it receives its best single entitlement, so max(0, {yuan(result.amount)} − {yuan(paid)}) = {yuan(payable)}"
        )
    if result.eligible and item.max_years is not None:
        years = sorted({r.year for r in _approved(session, org_id, SubsidyApplication.item == item.id, SubsidyApplication.project_key == request.project_key)} - {request.year})
        if len(years) >= item.max_years:
            payable = Decimal(0)
            steps.append(f"Paid for at most {item.max_years} years per project; already paid for {', '.join(map(str, years))} → 0.00")
    cap_left = None
    if item.yearly_cap is not None:
        used = sum((from_fen(r.amount_fen or 0) for r in _approved(session, org_id, SubsidyApplication.item == item.id, SubsidyApplication.year == request.year)), Decimal(0))
        cap_left = max(Decimal(0), item.yearly_cap - used)
        if result.eligible:
            capped = min(payable, cap_left)
            steps.append(
                f"Yearly cap per entity {yuan(item.yearly_cap)}: {yuan(used)} approved under {item.id} in {request.year}, "
                f"{yuan(cap_left)} left → min({yuan(payable)}, {yuan(cap_left)}) = {yuan(capped)}"
            )
            payable = capped
    steps.append(f"Payable: {yuan(payable)} yuan")
    return Quote(
        org_id=org_id, item=item.id, clause=item.clause, level=result.level, year=request.year, project_key=request.project_key,
        eligible=result.eligible, entitlement=round_fen(result.amount), same_project=[_prior(r) for r in same_project],
        yearly_cap_left=None if cap_left is None else round_fen(cap_left), payable=round_fen(payable), arithmetic=steps,
    )  # fmt: skip


def quote_subsidy(session: Session, actor: Actor, request: SubsidyRequest) -> Quote:
    """What the actor's org would be paid for `request` now; nothing is stored."""
    return compute_quote(session, actor.org_id, request)


def apply_for_subsidy(session: Session, actor: Actor, request: SubsidyRequest) -> ApplicationRead:
    """Store the actor's org's application, pending review; refused when nothing could be paid."""
    quote = compute_quote(session, actor.org_id, request)
    if not quote.eligible:
        raise Invalid(f"The application does not meet the conditions of item {quote.item!r} ({quote.clause}): {' | '.join(quote.arithmetic)}")
    if quote.payable == 0:
        raise Conflict(f"Nothing is payable for this application: {' | '.join(quote.arithmetic)}")
    item = find_item(request.item)
    _, bases = parse_inputs(item, request.level, request.bases)
    row = SubsidyApplication(
        id=new_id("sub"), org_id=actor.org_id, created_by=actor.user_id, item=item.id, level=quote.level, year=request.year,
        project_key=request.project_key, bases={name: str(value) for name, value in bases.items()}, evidence=request.evidence,
        status=Status.pending.value, quoted_fen=to_fen(quote.payable), quote=quote.arithmetic, created_at=utcnow(),
    )  # fmt: skip
    session.add(row)
    session.flush()
    after = to_read(row)
    audit.record(session, actor, "subsidy.apply", KIND, row.id, org_id=row.org_id, after=after, detail={"item": item.id, "quoted": str(quote.payable)})
    return after


def _row(session: Session, actor: Actor, application_id: str, *, lock: bool = False) -> SubsidyApplication:
    stmt = sa.select(SubsidyApplication).where(SubsidyApplication.id == application_id)
    row = session.scalar(stmt.with_for_update() if lock else stmt)
    if row is None or (row.org_id != actor.org_id and not is_official(session, actor)):
        raise not_found(KIND, application_id)
    return row


def get_application(session: Session, actor: Actor, application_id: str) -> ApplicationRead:
    """Officials read every application; an org reads its own."""
    return to_read(_row(session, actor, application_id))


def list_applications(
    session: Session,
    actor: Actor,
    *,
    status: str | None = None,
    item: str | None = None,
    year: int | None = None,
    org_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ApplicationRead]:
    """Newest first. Officials see every org's (or `org_id`'s); others their own org's only."""
    stmt = sa.select(SubsidyApplication)
    if is_official(session, actor):
        if org_id is not None:
            stmt = stmt.where(SubsidyApplication.org_id == org_id)
    elif org_id is not None and org_id != actor.org_id:
        raise Forbidden(f"Only officials may list another org's subsidy applications; {actor.email} asked for {org_id!r}.")
    else:
        stmt = stmt.where(SubsidyApplication.org_id == actor.org_id)
    if status is not None:
        if status not in Status.__members__:
            raise invalid_parameter("status", "list_applications", f"one of {', '.join(Status.__members__)}", status)
        stmt = stmt.where(SubsidyApplication.status == status)
    if item is not None:
        stmt = stmt.where(SubsidyApplication.item == find_item(item).id)
    if year is not None:
        stmt = stmt.where(SubsidyApplication.year == year)
    rows, next_cursor = page_rows(session, stmt, SubsidyApplication.id, limit=limit, cursor=cursor, owner="list_applications")
    return Page[ApplicationRead](items=[to_read(r) for r in rows], next_cursor=next_cursor)


def _pending_for_decision(session: Session, actor: Actor, application_id: str, action: str) -> SubsidyApplication:
    require_official(session, actor, f"{action} subsidy applications")
    row = _row(session, actor, application_id, lock=True)
    if row.org_id == actor.org_id:
        raise Forbidden(f"An official may not {action} an application of their own org; {row.id!r} is {row.org_id!r}'s.")
    if row.status != Status.pending.value:
        raise Conflict(f"Application {row.id!r} was already {row.status}; only pending applications can be decided.")
    return row


def approve_application(session: Session, actor: Actor, application_id: str, decision: Approval) -> ApplicationRead:
    """Approve at the amount payable now (or the lower `decision.amount`), which is then fixed."""
    row = _pending_for_decision(session, actor, application_id, "approve")
    # Lock the org's row so two approvals for one org cannot both spend the same cap (PostgreSQL).
    session.execute(sa.select(Org.id).where(Org.id == row.org_id).with_for_update())
    request = SubsidyRequest(
        item=row.item, level=row.level, bases={k: Decimal(v) for k, v in row.bases.items()}, year=row.year, project_key=row.project_key
    )
    quote = compute_quote(session, row.org_id, request)
    if quote.payable == 0:
        raise Conflict(f"Nothing is payable for application {row.id!r} any more; reject it instead: {' | '.join(quote.arithmetic)}")
    steps = list(quote.arithmetic)
    amount = quote.payable
    if decision.amount is not None:
        if decision.amount > quote.payable:
            raise Invalid(f"The 'amount' of an approval may not exceed what is payable, {yuan(quote.payable)}; got {yuan(decision.amount)} instead.")
        amount = decision.amount
        steps.append(f"Fixed by the official at {yuan(amount)} (at most {yuan(quote.payable)})")
    before = to_read(row)
    row.status, row.amount_fen, row.decision = Status.approved.value, to_fen(amount), steps
    row.reason, row.decided_by, row.decided_at = decision.reason, actor.user_id, utcnow()
    session.flush()
    after = to_read(row)
    audit.record(session, actor, "subsidy.approve", KIND, row.id, org_id=row.org_id, before=before, after=after, detail={"amount": str(amount)})
    return after


def reject_application(session: Session, actor: Actor, application_id: str, decision: Rejection) -> ApplicationRead:
    row = _pending_for_decision(session, actor, application_id, "reject")
    before = to_read(row)
    row.status, row.reason, row.decided_by, row.decided_at = Status.rejected.value, decision.reason, actor.user_id, utcnow()
    session.flush()
    after = to_read(row)
    audit.record(session, actor, "subsidy.reject", KIND, row.id, org_id=row.org_id, before=before, after=after, detail={"reason": decision.reason})
    return after
