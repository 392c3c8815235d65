"""Fixtures of the statistics tests: an official of a government org."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from aicommons.core.identity import (
    actor_for_user_id,
    create_org,
    create_token,
    create_user,
)
from aicommons.core.permissions import Actor
from aicommons.core.schemas import OrgCreate, TokenCreate, UserCreate


@dataclass
class Official:
    actor: Actor
    token: str


@pytest.fixture
def official(runtime, world) -> Official:
    """A member of a government org (省经信厅): an official who is not the operator, with an API token."""
    with runtime.session() as session:
        org = create_org(session, world.operator.actor, OrgCreate(name="Zhejiang Economy and IT Department", kind="government"))
        user = create_user(session, world.operator.actor, UserCreate(email="stats@gov.test", org_id=org.id))
        token = create_token(session, world.operator.actor, user.id, TokenCreate(name="test"))
        return Official(actor_for_user_id(session, user.id), token.token)
