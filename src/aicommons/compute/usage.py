"""Charges from metered usage: every metered item billed exactly once, at the price list's rate.

Metered items come from two sources:

- `serving`: a row of serving's metering table, i.e. the calls and compute-seconds of one calling
  org on one endpoint in one minute, billed to the calling org as service `serving`.
- `job`: a finished job (succeeded, failed or cancelled after it started) of a type the price list
  names under `job_services`, billed to the job's org as that service. Its compute-seconds are
  `finished_at − started_at`: one job runs in one worker process, and `started_at` is its first
  start, so a job retried after failing is billed from its first start to its last finish.

A charging run prices each item as a whole and bills the difference from what the item has
been billed before (recorded per item in `usage_charges`). It writes one usage charge per org
and service, covering all of that org's unbilled items of the service, under an idempotency key
derived from those items and the quantities they were priced from. So a rerun bills nothing
twice, a metering row that grew after a late flush is billed only for its growth, and the
ledger's total for an item always equals the price of its metered quantities. A charge the org
cannot pay is left out of the run with all its items (reported, with its shortfall) and billed
by a later run once the org has topped up.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from pydantic import BaseModel
from sqlalchemy.orm import Session

from aicommons.compute import charges, ledger
from aicommons.compute.ledger import InsufficientFunds
from aicommons.compute.prices import PriceList, load_prices
from aicommons.compute.schemas import RefusedCharge, UsageChargeRun
from aicommons.compute.tables import UsageCharge
from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.ids import new_id
from aicommons.core.jobs import JobContext, job_type
from aicommons.core.permissions import Actor
from aicommons.core.schemas import JobStatus
from aicommons.core.tables import Job
from aicommons.serving.tables import EndpointUsage

JOB_TYPE = "compute.charge_usage"
_RUN_LOCK_KEY = 0x41494C47  # "AILG": one charging run at a time on PostgreSQL
_BILLED_STATUSES = (JobStatus.succeeded.value, JobStatus.failed.value, JobStatus.cancelled.value)


@dataclass(frozen=True)
class MeteredItem:
    source: str
    source_key: str
    org_id: str
    service: str
    calls: int
    compute_seconds: float

    @property
    def idempotency_key(self) -> str:
        """The item and the quantities it is priced from: what a charge covering it is keyed by."""
        return f"{self.source}:{self.source_key}:{self.calls}:{self.compute_seconds!r}"


def default_until() -> datetime:
    """The start of the current minute: a charging run bills the minutes already over."""
    return utcnow().replace(second=0, microsecond=0)


def metered_items(session: Session, prices: PriceList, *, until: datetime, org_id: str | None = None) -> Iterator[MeteredItem]:
    """Every metered item before `until`: serving minutes, then finished jobs of billed types."""
    rows = sa.select(EndpointUsage).where(EndpointUsage.minute < until).order_by(EndpointUsage.minute, EndpointUsage.endpoint_id, EndpointUsage.org_id)
    if org_id is not None:
        rows = rows.where(EndpointUsage.org_id == org_id)
    for row in session.scalars(rows):
        key = f"{row.endpoint_id}/{row.org_id}/{row.minute:%Y-%m-%dT%H:%MZ}"
        yield MeteredItem("serving", key, row.org_id, "serving", row.calls, row.compute_seconds)
    jobs = (
        sa.select(Job).where(
            Job.type.in_(list(prices.job_services)), Job.status.in_(_BILLED_STATUSES), Job.started_at.is_not(None), Job.finished_at < until,
        ).order_by(Job.finished_at, Job.id)
    )
    if org_id is not None:
        jobs = jobs.where(Job.org_id == org_id)
    for job in session.scalars(jobs):
        assert job.started_at is not None and job.finished_at is not None
        seconds = max((job.finished_at - job.started_at) / timedelta(seconds=1), 0.0)
        yield MeteredItem("job", job.id, job.org_id, prices.job_services[job.type], 0, seconds)


@dataclass(frozen=True)
class _Unbilled:
    item: MeteredItem
    state: UsageCharge | None
    delta_fen: int  # what the item's price now adds to what it was billed before (never below zero)


def charge_usage(session: Session, actor: Actor, *, until: datetime | None = None, prices: PriceList | None = None) -> UsageChargeRun:
    """Bill every metered item before `until` (default: the start of this minute) not billed yet:
    one usage charge per org and service, covering all of that org's unbilled items of the service."""
    ledger.require_operator(actor, "charge metered usage")
    prices = prices or load_prices()
    until = until or default_until()
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(_RUN_LOCK_KEY)))
    billed = {(c.source, c.source_key): c for c in session.scalars(sa.select(UsageCharge))}
    groups: dict[tuple[str, str], list[_Unbilled]] = defaultdict(list)
    seen = 0
    for item in metered_items(session, prices, until=until):
        seen += 1
        state = billed.get((item.source, item.source_key))
        if state is None or (state.calls, state.compute_seconds) != (item.calls, item.compute_seconds):
            expected = prices.price_fen(item.service, calls=item.calls, compute_seconds=item.compute_seconds)
            groups[(item.org_id, item.service)].append(_Unbilled(item, state, max(expected - (state.billed_fen if state else 0), 0)))
    billed_items = transactions = billed_fen = 0
    refused: list[RefusedCharge] = []
    for (org_id, service), group in sorted(groups.items()):
        amount = sum(u.delta_fen for u in group)
        transaction_id = None
        if amount > 0:
            try:
                transaction_id = _charge_group(session, actor, org_id, service, amount, group)
            except InsufficientFunds as exc:
                refused.append(RefusedCharge(org_id=org_id, service=service, items=len(group), amount_fen=amount, shortfall_fen=exc.shortfall_fen))
                continue
            transactions += 1
            billed_fen += amount
        for unbilled in group:
            _record_billed(session, unbilled, transaction_id)
        billed_items += len(group)
    session.flush()
    result = UsageChargeRun(until=until, items_seen=seen, items_billed=billed_items, transactions=transactions, billed_fen=billed_fen, refused=refused)
    # Recorded after the charges: each of them locked its accounts before taking the audit lock.
    audit.record(session, actor, "ledger.charge_usage", "usage_charge_run", new_id("chg"), org_id=None, after=result)
    return result


def _charge_group(session: Session, actor: Actor, org_id: str, service: str, amount: int, group: list[_Unbilled]) -> str:
    """One usage charge for a group of items, keyed by the items and the quantities priced."""
    items_digest = hashlib.sha256("\n".join(u.item.idempotency_key for u in group).encode()).hexdigest()
    entry = ledger.Entry("usage_charge", org_id, amount, service=service, body={"items_sha256": items_digest})
    first, last = group[0].item, group[-1].item
    detail = {
        "items": len(group), "first_item": f"{first.source}:{first.source_key}", "last_item": f"{last.source}:{last.source_key}",
        "calls": sum(u.item.calls for u in group), "compute_seconds": round(sum(u.item.compute_seconds for u in group), 6),
    }
    return charges.post_charge(session, actor, f"usage:{org_id}:{service}:{items_digest[:40]}", entry, detail=detail).id


def _record_billed(session: Session, unbilled: _Unbilled, transaction_id: str | None) -> None:
    item, state = unbilled.item, unbilled.state
    if state is None:
        state = UsageCharge(source=item.source, source_key=item.source_key, org_id=item.org_id, service=item.service, billed_fen=0)
        session.add(state)
    state.calls, state.compute_seconds, state.updated_at = item.calls, item.compute_seconds, utcnow()
    state.billed_fen += unbilled.delta_fen
    state.transaction_id = transaction_id or state.transaction_id


class ChargeUsageParams(BaseModel):
    until: datetime | None = None


@job_type(JOB_TYPE, params=ChargeUsageParams)
def charge_usage_job(ctx: JobContext, params: ChargeUsageParams) -> dict:
    """The charging run as a job, for a scheduler: one step, so it commits all of it or nothing."""
    ctx.progress(0.0, "charging metered usage")
    with ctx.step({"finished": True}) as session:
        result = charge_usage(session, ctx.actor, until=params.until)
    ctx.progress(1.0, f"billed {result.items_billed} item(s), {result.billed_fen} fen; {len(result.refused)} refused")
    return result.model_dump(mode="json")
