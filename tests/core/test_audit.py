"""The audit chain: every change is recorded, and any edit of a stored entry is detected and named."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support import run_cli

from aicommons.core import audit
from aicommons.core.errors import Forbidden
from aicommons.core.identity import create_org
from aicommons.core.schemas import OrgCreate
from aicommons.core.tables import AuditEntry


def _verify(runtime, world):
    with runtime.session() as session:
        return audit.verify_chain(session, world.operator.actor)


def _tamper(runtime, seq, **values):
    with runtime.engine.begin() as connection:
        connection.execute(sa.update(AuditEntry).where(AuditEntry.seq == seq).values(**values))


def test_changes_are_recorded_with_actor_and_digests(runtime, world):
    with runtime.session() as session:
        org = create_org(
            session, world.operator.actor, OrgCreate(name="Audited", kind="lab")
        )
        entry = session.scalar(sa.select(AuditEntry).where(AuditEntry.resource_id == org.id))
    assert entry.action == "org.create"
    assert entry.actor_user_id == world.operator.actor.user_id
    assert entry.after_digest == audit.digest(org) and entry.before_digest is None


def test_an_untouched_chain_verifies(runtime, world):
    result = _verify(runtime, world)
    assert result.ok and result.checked > 10


@pytest.mark.parametrize(
    "change",
    [
        {"action": "org.delete"},
        {"actor_user_id": "usr_forged"},
        {"org_id": None},
        {"resource_id": "org_other"},
        {"after_digest": "0" * 64},
        {"detail": {"forged": True}},
        {"hash": "f" * 64},
        {"prev_hash": "e" * 64},
    ],
    ids=lambda change: next(iter(change)),
)
def test_editing_any_field_of_a_stored_entry_breaks_the_chain_there(runtime, world, change):
    _tamper(runtime, 5, **change)
    result = _verify(runtime, world)
    assert not result.ok
    assert result.first_broken_seq in (5, 6)  # a rewritten hash shows up as the next entry's broken link
    if "hash" not in change:
        assert result.first_broken_seq == 5


def test_deleting_an_entry_is_detected(runtime, world):
    with runtime.engine.begin() as connection:
        connection.execute(sa.delete(AuditEntry).where(AuditEntry.seq == 3))
    result = _verify(runtime, world)
    assert not result.ok and result.first_broken_seq == 4 and "missing" in result.reason


def test_cli_audit_verify_exits_zero_when_intact_and_names_the_broken_entry(runtime, world, settings):
    intact = run_cli(settings, "audit", "verify")
    assert intact.returncode == 0, intact.stderr
    assert "intact" in intact.stdout
    _tamper(runtime, 4, action="user.delete")
    broken = run_cli(settings, "audit", "verify")
    assert broken.returncode != 0
    assert "seq=4" in broken.stderr and "do not match" in broken.stderr


def test_only_the_operator_verifies_and_members_cannot_read_the_log(runtime, world):
    with runtime.session() as session:
        with pytest.raises(Forbidden):
            audit.verify_chain(session, world.a_admin.actor)
        with pytest.raises(Forbidden):
            audit.list_entries(session, world.a_member.actor)
        own = audit.list_entries(session, world.a_admin.actor, limit=200).items
    assert own and all(world.org_a in (e.org_id, e.actor_org_id) for e in own)
