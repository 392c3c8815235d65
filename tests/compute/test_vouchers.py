"""Vouchers: issued by officials, spent earliest expiry first, within their share, services and window."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from support import assert_db_unchanged, counted_statements, db_state

from aicommons import compute
from aicommons.core.db import utcnow
from aicommons.core.errors import Forbidden, Invalid, NotFound
from aicommons.compute.tables import Voucher
from aicommons.core.tables import AuditEntry


def _paid_by(transaction):
    return {p.account_key: p.amount_fen for p in transaction.postings}


def test_issuing_a_voucher_moves_its_face_value_from_the_issuer_and_is_audited(runtime, world, kit, official):
    voucher = kit.issue(official.actor, world.org_a, 50_000, share=50)
    assert (voucher.kind, voucher.balance_fen, voucher.status, voucher.services) == ("compute", 50_000, "active", ["compute", "serving", "training"])
    assert voucher.issuer_org_id == official.actor.org_id and voucher.org_id == world.org_a
    with runtime.session() as session:
        accounts = {a.key: a.balance_fen for a in compute.list_accounts(session, official.actor)}
        actions = set(session.scalars(sa.select(AuditEntry.action).where(AuditEntry.org_id == world.org_a)))
    assert accounts == {f"issuer:{official.actor.org_id}": -50_000, f"voucher:{voucher.id}": 50_000}
    assert {"ledger.voucher_issue", "voucher.issue"} <= actions
    spec = compute.VoucherCreate(org_id=world.org_a, kind="evaluation", face_value_fen=700, share_percent=100, valid_until=utcnow() + timedelta(days=9), idempotency_key="v-1")
    with runtime.session() as session:
        first = compute.issue_voucher(session, official.actor, spec)
    with runtime.session() as session:
        assert compute.issue_voucher(session, official.actor, spec) == first
        assert len(compute.list_vouchers(session, official.actor)) == 2


def test_charges_use_the_earliest_expiring_voucher_first_then_the_next_then_prepaid(runtime, world, kit, official):
    late = kit.issue(official.actor, world.org_a, 1_000, lasts=timedelta(days=60))
    early = kit.issue(official.actor, world.org_a, 300, lasts=timedelta(days=10))
    kit.topup(world.operator.actor, world.org_a, 5_000)
    paid = kit.charge(world.operator.actor, world.org_a, 500, "c-1")
    assert _paid_by(paid) == {f"voucher:{early.id}": -300, f"voucher:{late.id}": -200, "revenue": 500}
    assert paid.detail["vouchers"] == [{"voucher_id": early.id, "amount_fen": 300}, {"voucher_id": late.id, "amount_fen": 200}]
    paid = kit.charge(world.operator.actor, world.org_a, 1_000, "c-2")
    assert _paid_by(paid) == {f"voucher:{late.id}": -800, f"prepaid:{world.org_a}": -200, "revenue": 1_000}
    held = kit.balance(world.a_member.actor, world.org_a)
    assert held.prepaid_fen == 4_800 and held.usable_voucher_fen == 0
    assert [v.status for v in held.vouchers] == ["used_up", "used_up"]


def test_a_voucher_covers_at_most_its_share_of_each_charge(runtime, world, kit, official):
    half = kit.issue(official.actor, world.org_a, 10_000, share=50)
    kit.topup(world.operator.actor, world.org_a, 1_000)
    paid = kit.charge(world.operator.actor, world.org_a, 999, "c-1")
    assert _paid_by(paid) == {f"voucher:{half.id}": -499, f"prepaid:{world.org_a}": -500, "revenue": 999}
    before = db_state(runtime)
    with pytest.raises(compute.InsufficientFunds, match=r"¥1\.00 \(100 fen\) short"):
        kit.charge(world.operator.actor, world.org_a, 1_200, "c-2")  # the voucher pays 600, prepaid has 500 of 600
    assert_db_unchanged(before, db_state(runtime))


def test_only_eligible_vouchers_pay_and_an_evaluation_voucher_pays_only_evaluation(runtime, world, kit, official):
    serving_only = kit.issue(official.actor, world.org_a, 1_000, services=["serving"])
    evaluation = kit.issue(official.actor, world.org_a, 1_000, kind="evaluation")
    kit.topup(world.operator.actor, world.org_a, 1_000)
    assert _paid_by(kit.charge(world.operator.actor, world.org_a, 100, "t", service="training")) == {f"prepaid:{world.org_a}": -100, "revenue": 100}
    assert _paid_by(kit.charge(world.operator.actor, world.org_a, 100, "s", service="serving")) == {f"voucher:{serving_only.id}": -100, "revenue": 100}
    assert _paid_by(kit.charge(world.operator.actor, world.org_a, 100, "e", service="evaluation")) == {f"voucher:{evaluation.id}": -100, "revenue": 100}


def test_expired_and_not_yet_valid_vouchers_cover_nothing(runtime, world, kit, official):
    future = kit.issue(official.actor, world.org_a, 1_000, starts_in=timedelta(days=1))
    expiring = kit.issue(official.actor, world.org_a, 1_000, lasts=timedelta(seconds=1))
    kit.topup(world.operator.actor, world.org_a, 1_000)
    time.sleep(1.1)  # past the expiring voucher's end
    assert _paid_by(kit.charge(world.operator.actor, world.org_a, 300, "c")) == {f"prepaid:{world.org_a}": -300, "revenue": 300}
    statuses = {v.id: v.status for v in kit.balance(world.a_member.actor, world.org_a).vouchers}
    assert statuses == {future.id: "not_yet_valid", expiring.id: "expired"}


def test_bad_vouchers_are_refused_with_the_problem_named_and_nothing_stored(runtime, world, kit, official):
    before = db_state(runtime)
    with pytest.raises(ValidationError, match="kind"):
        compute.VoucherCreate(org_id=world.org_a, kind="gpu", face_value_fen=100, share_percent=50, valid_until=utcnow() + timedelta(days=1))
    with pytest.raises(ValidationError, match=r"subset of \['evaluation'\]"):
        compute.VoucherCreate(org_id=world.org_a, kind="evaluation", face_value_fen=100, share_percent=50, services=["serving"], valid_until=utcnow() + timedelta(days=1))
    with pytest.raises(ValidationError, match="greater than 0"):
        compute.VoucherCreate(org_id=world.org_a, kind="compute", face_value_fen=-100, share_percent=50, valid_until=utcnow() + timedelta(days=1))
    with pytest.raises(ValidationError, match="must be after valid_from"):
        kit.issue(official.actor, world.org_a, 100, starts_in=timedelta(days=2), lasts=timedelta(days=1))
    with pytest.raises(Invalid, match="'valid_until' of a voucher must be in the future"):
        kit.issue(official.actor, world.org_a, 100, starts_in=timedelta(days=-3), lasts=timedelta(days=-1))
    with pytest.raises(Forbidden, match="may issue vouchers"):
        kit.issue(world.a_admin.actor, world.org_a, 100)
    with pytest.raises(NotFound):
        kit.issue(official.actor, "org_nobody", 100)
    assert_db_unchanged(before, db_state(runtime))


def test_orgs_see_the_vouchers_they_hold_or_issued_and_officials_see_all(runtime, world, kit, official):
    to_a = kit.issue(official.actor, world.org_a, 100)
    to_b = kit.issue(world.operator.actor, world.org_b, 100, kind="evaluation")
    with runtime.session() as session:
        assert [v.id for v in compute.list_vouchers(session, world.a_member.actor)] == [to_a.id]
        assert {v.id for v in compute.list_vouchers(session, official.actor)} == {to_a.id, to_b.id}
        assert [v.id for v in compute.list_vouchers(session, world.operator.actor, kind="evaluation")] == [to_b.id]
        with pytest.raises(NotFound):
            compute.get_voucher(session, world.a_member.actor, to_b.id)
        assert compute.get_voucher(session, world.b_member.actor, to_b.id).issuer_org_id == world.operator.actor.org_id


def test_a_charge_reads_only_the_vouchers_valid_now_however_many_expired(runtime, world, kit, official):
    current = kit.issue(official.actor, world.org_a, 1_000)
    past = [kit.issue(official.actor, world.org_a, 500).id for _ in range(60)]
    long_ago = utcnow() - timedelta(days=400)
    with runtime.session() as session:  # a year on: those vouchers have expired unspent
        session.execute(sa.update(Voucher).where(Voucher.id.in_(past)).values(valid_from=long_ago, valid_until=long_ago + timedelta(days=30)))
    with counted_statements(runtime.engine) as statements:
        paid = kit.charge(world.operator.actor, world.org_a, 400, "c-1")
    assert _paid_by(paid) == {f"voucher:{current.id}": -400, "revenue": 400}
    assert len(statements) < 25, f"{len(statements)} statements for one charge: {statements[:40]}"
    assert len([v for v in kit.balance(world.a_member.actor, world.org_a).vouchers if v.status == "expired"]) == 60
