"""Officials: the platform operator and members of government orgs.

Officials keep the public books: they register enterprises, record statistics, run regional
evaluations, decide subsidy applications (the observatory), top up prepaid balances and issue
vouchers (compute). Everyone else reads what is public and acts for their own org.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from aicommons.core.errors import Forbidden
from aicommons.core.permissions import Actor
from aicommons.core.schemas import OrgKind
from aicommons.core.tables import Org


def is_official(session: Session, actor: Actor) -> bool:
    if actor.is_operator:
        return True
    org = session.get(Org, actor.org_id)
    return org is not None and org.kind == OrgKind.government


def require_official(session: Session, actor: Actor, action: str) -> None:
    """Refuse `action` (e.g. "register enterprises") unless the actor is an official."""
    if not is_official(session, actor):
        raise Forbidden(f"Only the platform operator or a government org may {action}; {actor.email} is neither.")
