"""Who may do what: one decision for every resource of every service.

A resource has an owner org and a visibility (`private`, `shared` with named orgs, `public`).
Members of the owner org may read, run and write it; org admins may also administer it (delete,
change visibility); other orgs may read and run it when it is public or shared with them; the
platform operator may do everything, and platform reviewers may read every model. A resource the actor may not read is reported as not found,
so its existence never leaks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core.errors import Conflict, Forbidden, not_found
from aicommons.core.tables import Share


class Action(StrEnum):
    read = "read"
    run = "run"
    write = "write"
    admin = "admin"


@dataclass(frozen=True)
class Actor:
    """Who is asking. Every service function takes one explicitly."""

    user_id: str
    org_id: str
    email: str
    org_role: str = "member"
    platform_roles: frozenset[str] = frozenset()

    @property
    def is_operator(self) -> bool:
        return "operator" in self.platform_roles

    @property
    def is_reviewer(self) -> bool:
        return "reviewer" in self.platform_roles

    @property
    def is_org_admin(self) -> bool:
        return self.org_role == "admin"


class Owned(Protocol):
    id: str
    org_id: str
    visibility: str


# What platform reviewers may read in every org: the models they are asked to file. Their data
# stays private; a reviewer judges a model by its card, lineage and evaluation, not its records.
REVIEWER_READABLE = frozenset({"model"})


def can(session: Session, actor: Actor, action: Action, kind: str, resource: Owned) -> bool:
    if actor.is_operator:
        return True
    if actor.is_reviewer and action == Action.read and kind in REVIEWER_READABLE:
        return True
    if resource.org_id == actor.org_id:
        return action != Action.admin or actor.is_org_admin
    if action not in (Action.read, Action.run):
        return False
    if resource.visibility == "public":
        return True
    if resource.visibility == "shared":
        return session.get(Share, (kind, resource.id, actor.org_id)) is not None
    return False


def require(session: Session, actor: Actor, action: Action, kind: str, resource: Owned | None, ident: str) -> None:
    """Raise NotFound when the actor may not even read the resource, Forbidden when it may read only."""
    if resource is None or not can(session, actor, Action.read, kind, resource):
        raise not_found(kind, ident)
    if not can(session, actor, action, kind, resource):
        raise Forbidden(f"You may not {action.value} {kind} {ident!r}.")


def visible_clause(actor: Actor, kind: str, table: type) -> sa.ColumnElement[bool]:
    """A WHERE clause selecting the rows of `table` that `actor` may read, for list queries."""
    if actor.is_operator or (actor.is_reviewer and kind in REVIEWER_READABLE):
        return sa.true()
    shared_with_me = sa.exists().where(
        Share.resource_kind == kind, Share.resource_id == table.id, Share.org_id == actor.org_id
    )
    return sa.or_(
        table.org_id == actor.org_id,
        table.visibility == "public",
        sa.and_(table.visibility == "shared", shared_with_me),
    )


def set_shares(session: Session, kind: str, resource_id: str, org_ids: list[str]) -> None:
    session.execute(sa.delete(Share).where(Share.resource_kind == kind, Share.resource_id == resource_id))
    for org_id in sorted(set(org_ids)):
        session.add(Share(resource_kind=kind, resource_id=resource_id, org_id=org_id))


def find_visible_by_name(session: Session, actor: Actor, kind: str, table: type, name: str) -> Any:
    """The row named `name` (case-insensitively) that the actor may see: their own org's first,
    then any other if exactly one is visible. NotFound when none, Conflict when ambiguous."""
    stmt = sa.select(table).where(visible_clause(actor, kind, table), sa.func.lower(table.name) == name.lower())
    matches = list(session.scalars(stmt))
    own = [row for row in matches if row.org_id == actor.org_id]
    if len(own) == 1 or len(matches) == 1:
        return (own or matches)[0]
    if not matches:
        raise not_found(kind, name)
    ids = ", ".join(row.id for row in matches)
    raise Conflict(f"{len(matches)} visible {kind}s are named {name!r}; use the id ({ids}).")
