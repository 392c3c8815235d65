"""Fixtures for ledger tests: `kit`, money moves in one call each (the official is the shared `official`)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from aicommons import compute
from aicommons.core.db import utcnow


class LedgerKit:
    def __init__(self, runtime):
        self.runtime = runtime

    def topup(self, actor, org_id, fen, key=None):
        with self.runtime.session() as session:
            return compute.topup(session, actor, compute.TopupCreate(org_id=org_id, amount_fen=fen, idempotency_key=key))

    def issue(self, actor, org_id, fen, *, kind="compute", share=100, services=None, starts_in=timedelta(0), lasts=timedelta(days=30), key=None):
        now = utcnow()
        spec = compute.VoucherCreate(
            org_id=org_id, kind=kind, face_value_fen=fen, share_percent=share, services=services,
            valid_from=now + starts_in, valid_until=now + lasts, idempotency_key=key,
        )
        with self.runtime.session() as session:
            return compute.issue_voucher(session, actor, spec)

    def charge(self, actor, org_id, fen, key, service="training"):
        with self.runtime.session() as session:
            return compute.charge(session, actor, compute.ChargeCreate(org_id=org_id, service=service, amount_fen=fen, idempotency_key=key))

    def balance(self, actor, org_id):
        with self.runtime.session() as session:
            return compute.get_balance(session, actor, org_id)


@pytest.fixture
def kit(runtime):
    return LedgerKit(runtime)
