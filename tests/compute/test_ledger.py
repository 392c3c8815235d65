"""The ledger: balanced postings, idempotency keys, no negative balance, concurrency, permissions, audit."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from support import assert_db_unchanged, db_state

from aicommons import compute
from aicommons.compute.tables import LedgerAccount, LedgerPosting
from aicommons.core.errors import Conflict, Forbidden, NotFound
from aicommons.core.tables import AuditEntry


def _postings_by_transaction(runtime):
    with runtime.session() as session:
        rows = session.execute(sa.select(LedgerPosting.transaction_id, sa.func.sum(LedgerPosting.amount_fen), sa.func.count()).group_by(LedgerPosting.transaction_id))
        return {txn: (total, legs) for txn, total, legs in rows}


def test_every_transaction_balances_and_balances_are_the_sums_of_postings(runtime, world, kit):
    operator = world.operator.actor
    kit.topup(operator, world.org_a, 10_000)
    kit.topup(operator, world.org_b, 2_500)
    kit.charge(operator, world.org_a, 3_333, "a-1")
    kit.charge(operator, world.org_b, 2_500, "b-1", service="serving")
    sums = _postings_by_transaction(runtime)
    assert len(sums) == 4 and all(total == 0 and legs >= 2 for total, legs in sums.values())
    with runtime.session() as session:
        stored = dict(session.execute(sa.select(LedgerAccount.key, LedgerAccount.balance_fen)).all())
        summed = dict(session.execute(
            sa.select(LedgerAccount.key, sa.func.sum(LedgerPosting.amount_fen)).join(LedgerPosting).group_by(LedgerAccount.key)
        ).all())
    assert stored == summed
    assert stored[f"prepaid:{world.org_a}"] == 6_667 and stored[f"prepaid:{world.org_b}"] == 0
    assert stored["revenue"] == 5_833 and stored["deposits"] == -12_500


def test_the_same_key_returns_the_same_transaction_and_a_different_body_conflicts(runtime, world, kit):
    operator = world.operator.actor
    first = kit.topup(operator, world.org_a, 500, key="bank-ref-1")
    again = kit.topup(operator, world.org_a, 500, key="bank-ref-1")
    assert again == first
    assert kit.balance(operator, world.org_a).prepaid_fen == 500
    before = db_state(runtime)
    with pytest.raises(Conflict, match="bank-ref-1.*already used for a different request"):
        kit.topup(operator, world.org_a, 501, key="bank-ref-1")
    with pytest.raises(Conflict, match="already used"):
        kit.charge(operator, world.org_a, 500, "bank-ref-1")
    assert_db_unchanged(before, db_state(runtime))

    paid = kit.charge(operator, world.org_a, 200, "job-42")
    assert kit.charge(operator, world.org_a, 200, "job-42") == paid
    assert kit.balance(operator, world.org_a).prepaid_fen == 300


def test_a_charge_beyond_the_balance_is_refused_naming_the_shortfall_and_writes_nothing(runtime, world, kit):
    operator = world.operator.actor
    kit.topup(operator, world.org_a, 1_000)
    before = db_state(runtime)
    with pytest.raises(compute.InsufficientFunds, match=r"¥2\.34 \(234 fen\) short") as refused:
        kit.charge(operator, world.org_a, 1_234, "too-much")
    assert refused.value.shortfall_fen == 234 and refused.value.status == 402
    assert_db_unchanged(before, db_state(runtime))
    assert kit.balance(operator, world.org_a).prepaid_fen == 1_000
    with pytest.raises(compute.InsufficientFunds, match="holds ¥0.00"):
        kit.charge(operator, world.org_b, 1, "nothing-there")


def test_concurrent_charges_where_only_one_fits_leave_the_balance_non_negative(runtime, world, kit):
    operator = world.operator.actor
    kit.topup(operator, world.org_a, 1_100)
    kit.charge(operator, world.org_a, 100, "warm-up")  # opens the revenue account, so the race is on the balance alone
    start = threading.Barrier(4)
    outcomes: list[object] = []

    def attempt(key):
        start.wait()
        try:
            outcomes.append(kit.charge(operator, world.org_a, 700, key))
        except compute.InsufficientFunds as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=attempt, args=(f"race-{i}",)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(type(o).__name__ for o in outcomes) == ["InsufficientFunds"] * 3 + ["TransactionRead"]
    assert {o.shortfall_fen for o in outcomes if isinstance(o, compute.InsufficientFunds)} == {400}
    assert kit.balance(operator, world.org_a).prepaid_fen == 300


def test_non_officials_may_not_top_up_or_charge_and_orgs_read_only_their_own_books(runtime, world, kit):
    kit.topup(world.operator.actor, world.org_a, 900)
    kit.charge(world.operator.actor, world.org_a, 100, "a-charge")
    before = db_state(runtime)
    with pytest.raises(Forbidden, match="Only the platform operator or a government org may top up"):
        kit.topup(world.a_admin.actor, world.org_a, 100)
    with pytest.raises(Forbidden, match="Only the platform operator may charge"):
        kit.charge(world.a_admin.actor, world.org_b, 100, "steal")
    with pytest.raises(NotFound):
        kit.balance(world.b_member.actor, world.org_a)
    with runtime.session() as session:
        with pytest.raises(NotFound):
            compute.list_transactions(session, world.b_member.actor, org_id=world.org_a)
        own = compute.list_transactions(session, world.a_member.actor)
        assert {t.org_id for t in own.items} == {world.org_a} and len(own.items) == 2
        assert compute.list_transactions(session, world.b_member.actor).items == []
        with pytest.raises(NotFound):
            compute.get_transaction(session, world.b_member.actor, own.items[0].id)
        assert [a.key for a in compute.list_accounts(session, world.a_member.actor)] == [f"prepaid:{world.org_a}"]
    assert_db_unchanged(before, db_state(runtime))
    assert kit.balance(world.a_member.actor, world.org_a).prepaid_fen == 800


def test_a_government_official_tops_up_reads_every_org_and_each_change_is_audited(runtime, world, kit, official):
    official = official.actor
    paid = kit.topup(official, world.org_b, 5_000, key="grant-2026-11")
    assert kit.balance(official, world.org_b).prepaid_fen == 5_000
    with runtime.session() as session:
        assert [t.id for t in compute.list_transactions(session, official).items] == [paid.id]
        entries = list(session.scalars(sa.select(AuditEntry).where(AuditEntry.resource_id == paid.id)))
    assert [(e.action, e.org_id, e.actor_user_id) for e in entries] == [("ledger.topup", world.org_b, official.user_id)]
    with pytest.raises(NotFound, match="org"):
        kit.topup(official, "org_missing", 100)
