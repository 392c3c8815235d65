"""Charges from metered usage: serving metering rows and finished jobs, billed once, reconciled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from support import assert_db_unchanged, db_state

from aicommons import compute, models
from aicommons.compute.prices import PriceList, ServicePrice, load_prices
from aicommons.compute.tables import UsageCharge
from aicommons.core import jobs
from aicommons.core.db import utcnow
from aicommons.core.errors import Forbidden, Invalid
from aicommons.core.ids import new_id
from aicommons.core.jobs.worker import WorkerLoop
from aicommons.core.schemas import JobSubmit
from aicommons.serving.endpoints import UsageDelta, record_usage
from aicommons.serving.metering import Meter
from aicommons.serving.tables import Endpoint

PAST = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


@pytest.fixture
def endpoint_id(runtime, world):
    """An endpoint of org A, stored as serving stores it (its metering rows need one to point at)."""
    with runtime.session() as session:
        model = models.create_model(session, world.a_member.actor, models.ModelCreate(name="digits", task="image-classification"))
        endpoint = Endpoint(id=new_id("ept"), name="digits-api", org_id=world.org_a, model_id=model.id, created_by=world.a_member.actor.user_id)
        session.add(endpoint)
    return endpoint.id


def _meter(runtime, *deltas):
    with runtime.session() as session:
        record_usage(session, list(deltas))


def _yuan_to_fen(yuan: Decimal) -> int:
    return int((yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _run(runtime, world, **options):
    with runtime.session() as session:
        return compute.charge_usage(session, world.operator.actor, **options)


def _reconcile(runtime, actor, **options):
    with runtime.session() as session:
        return compute.reconcile(session, actor, **options)


def test_serving_minutes_are_billed_once_at_the_price_list_and_reconcile_exactly(runtime, world, kit, endpoint_id):
    kit.topup(world.operator.actor, world.org_a, 100_000)
    kit.topup(world.operator.actor, world.org_b, 100_000)
    _meter(
        runtime,
        UsageDelta(endpoint_id, world.org_a, PAST, calls=1_500, rows=1_500, compute_seconds=12.345),
        UsageDelta(endpoint_id, world.org_a, PAST + timedelta(minutes=1), calls=40, rows=40, compute_seconds=0.7),
        UsageDelta(endpoint_id, world.org_b, PAST, calls=9_000, rows=9_000, compute_seconds=88.0),
    )
    price = load_prices().services["serving"]
    expected_a = [_yuan_to_fen(Decimal(c) / 1000 * price.per_thousand_calls + Decimal(s) * price.per_compute_second) for c, s in ((1_500, "12.345"), (40, "0.7"))]
    expected_b = _yuan_to_fen(Decimal(9) * price.per_thousand_calls + Decimal(88) * price.per_compute_second)

    run = _run(runtime, world)
    assert (run.items_seen, run.items_billed, run.refused) == (3, 3, [])
    assert run.billed_fen == sum(expected_a) + expected_b and run.transactions == 2  # one usage charge per org and service
    with runtime.session() as session:
        [for_a] = compute.list_transactions(session, world.a_member.actor, kind="usage_charge").items
    assert (for_a.amount_fen, for_a.service, for_a.detail["items"], for_a.detail["calls"]) == (sum(expected_a), "serving", 2, 1_540)
    assert kit.balance(world.operator.actor, world.org_a).prepaid_fen == 100_000 - sum(expected_a)
    assert kit.balance(world.operator.actor, world.org_b).prepaid_fen == 100_000 - expected_b

    before = db_state(runtime)
    again = _run(runtime, world)
    assert (again.items_billed, again.transactions, again.billed_fen) == (0, 0, 0)
    report = _reconcile(runtime, world.operator.actor)
    lines = {(line.org_id, line.service): line for line in report.lines}
    assert lines[(world.org_a, "serving")].expected_fen == lines[(world.org_a, "serving")].billed_fen == sum(expected_a)
    assert lines[(world.org_b, "serving")].calls == 9_000 and lines[(world.org_b, "serving")].billed_fen == expected_b
    assert report.ok and report.difference_fen == 0 and report.unbalanced_transactions == report.mismatched_accounts == []
    # the audit entry of the second run is its only change
    after = db_state(runtime)
    assert {name for name in before if before[name] != after[name]} == {"audit_entries"}


def test_a_row_that_grows_after_billing_is_billed_only_for_its_growth(runtime, world, kit, endpoint_id):
    kit.topup(world.operator.actor, world.org_a, 100_000)
    _meter(runtime, UsageDelta(endpoint_id, world.org_a, PAST, calls=1_000, rows=1_000, compute_seconds=10.0))
    first = _run(runtime, world)
    _meter(runtime, UsageDelta(endpoint_id, world.org_a, PAST, calls=1_000, rows=1_000, compute_seconds=10.0))  # a late flush
    second = _run(runtime, world)
    whole = load_prices().price_fen("serving", calls=2_000, compute_seconds=20.0)
    assert first.billed_fen + second.billed_fen == whole and second.transactions == 1
    assert _reconcile(runtime, world.a_member.actor).ok


def test_metering_through_the_serving_meter_is_billed_after_its_minute(runtime, world, kit, endpoint_id):
    kit.topup(world.operator.actor, world.org_b, 100_000)
    meter = Meter(runtime, flush_every_s=3600)
    try:
        for _ in range(3):
            meter.add(endpoint_id, world.org_b, rows=10, compute_seconds=0.25)
        meter.flush()
    finally:
        meter.close()
    assert _run(runtime, world, until=utcnow() - timedelta(minutes=5)).items_seen == 0  # not billed before its minute is over
    run = _run(runtime, world, until=utcnow() + timedelta(minutes=2))
    assert run.items_billed == 1 and run.billed_fen == load_prices().price_fen("serving", calls=3, compute_seconds=0.75)


def test_a_charge_the_org_cannot_pay_is_reported_then_billed_after_a_top_up(runtime, world, kit, endpoint_id):
    _meter(runtime, UsageDelta(endpoint_id, world.org_b, PAST, calls=100_000, rows=100_000, compute_seconds=500.0))
    owed = load_prices().price_fen("serving", calls=100_000, compute_seconds=500.0)
    run = _run(runtime, world)
    assert run.items_billed == 0 and [(r.org_id, r.amount_fen, r.shortfall_fen) for r in run.refused] == [(world.org_b, owed, owed)]
    report = _reconcile(runtime, world.b_member.actor)
    assert not report.ok and [(line.difference_fen, line.unbilled_items) for line in report.lines] == [(owed, 1)]
    assert report.lines[0].org_id == world.org_b  # B sees only its own lines
    kit.topup(world.operator.actor, world.org_b, owed)
    assert _run(runtime, world).billed_fen == owed
    assert _reconcile(runtime, world.operator.actor).ok and kit.balance(world.b_member.actor, world.org_b).prepaid_fen == 0


def test_finished_jobs_are_billed_by_their_run_time_and_vouchers_pay_first(runtime, world, kit, official):
    prices = PriceList(services={"training": ServicePrice(per_compute_second=Decimal("0.50"))}, job_services={"diagnostics.sleep": "training"})
    voucher = kit.issue(official.actor, world.org_a, 10_000, share=40, services=["training"])
    kit.topup(world.operator.actor, world.org_a, 10_000)
    with runtime.session() as session:
        job = jobs.submit_job(session, world.a_member.actor, JobSubmit(type="diagnostics.sleep", params={"steps": 1, "seconds": 0.3}))
        jobs.submit_job(session, world.a_member.actor, JobSubmit(type="diagnostics.noop"))  # not a billed type
    worker = WorkerLoop(runtime, "ledger-test-worker")
    while worker.run_one():
        pass
    with runtime.session() as session:
        done = jobs.get_job(session, world.a_member.actor, job.id)
    seconds = (done.finished_at - done.started_at).total_seconds()
    assert done.status == "succeeded" and seconds >= 0.3
    fen = prices.price_fen("training", calls=0, compute_seconds=seconds)

    run = _run(runtime, world, until=utcnow() + timedelta(minutes=1), prices=prices)
    assert (run.items_seen, run.billed_fen) == (1, fen)
    with runtime.session() as session:
        [charged] = compute.list_transactions(session, world.a_member.actor, kind="usage_charge").items
    assert charged.detail["first_item"] == f"job:{job.id}" and charged.detail["compute_seconds"] == round(seconds, 6)
    with runtime.session() as session:
        state = session.get(UsageCharge, ("job", job.id))
    assert (state.compute_seconds, state.billed_fen, state.transaction_id) == (seconds, fen, charged.id)
    assert charged.detail["vouchers"] == [{"voucher_id": voucher.id, "amount_fen": fen * 40 // 100}]
    assert _reconcile(runtime, world.operator.actor, until=utcnow() + timedelta(minutes=1), prices=prices).ok


def test_the_charging_run_is_a_job_and_only_the_operator_may_run_it(runtime, world, kit, endpoint_id):
    kit.topup(world.operator.actor, world.org_a, 10_000)
    _meter(runtime, UsageDelta(endpoint_id, world.org_a, PAST, calls=2_000, rows=2_000, compute_seconds=30.0))
    before = db_state(runtime)
    with pytest.raises(Forbidden, match="Only the platform operator may charge metered usage"), runtime.session() as session:
        compute.charge_usage(session, world.a_admin.actor)
    assert_db_unchanged(before, db_state(runtime))
    with runtime.session() as session:
        job = jobs.submit_job(session, world.operator.actor, JobSubmit(type="compute.charge_usage"))
    worker = WorkerLoop(runtime, "ledger-test-worker")
    while worker.run_one():
        pass
    with runtime.session() as session:
        done = jobs.get_job(session, world.operator.actor, job.id)
    assert done.status == "succeeded", done.error
    assert done.result["billed_fen"] == load_prices().price_fen("serving", calls=2_000, compute_seconds=30.0) and done.result["items_billed"] == 1
    assert _reconcile(runtime, world.operator.actor).ok


def test_a_price_list_with_floats_or_unpriced_services_is_refused(tmp_path):
    bad = tmp_path / "prices.yaml"
    bad.write_text("services:\n  serving: {per_compute_second: 0.002}\n")
    with pytest.raises(Invalid, match="quoted decimal strings"):
        load_prices(bad)
    bad.write_text("services:\n  serving: {per_compute_second: '0.002'}\njob_services: {models.train: training}\n")
    with pytest.raises(Invalid, match="unpriced services"):
        load_prices(bad)
