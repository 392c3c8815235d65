"""Who am I, organisations, users and API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from aicommons.api.deps import ActorDep, SessionDep
from aicommons.core import identity
from aicommons.core.schemas import (
    OrgCreate,
    OrgRead,
    OrgUpdate,
    Page,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)

router = APIRouter(tags=["identity"])

Limit = Annotated[int, Query(ge=1, le=200)]
Cursor = Annotated[str | None, Query(max_length=40)]


class Me(BaseModel):
    user: UserRead
    org: OrgRead


@router.get("/me", response_model=Me)
def me(session: SessionDep, actor: ActorDep) -> Me:
    return Me(user=identity.get_user(session, actor, actor.user_id), org=identity.get_org(session, actor, actor.org_id))


@router.get("/orgs", response_model=Page[OrgRead])
def list_orgs(session: SessionDep, actor: ActorDep, limit: Limit = 50, cursor: Cursor = None) -> Page[OrgRead]:
    return identity.list_orgs(session, actor, limit=limit, cursor=cursor)


@router.post("/orgs", response_model=OrgRead, status_code=201)
def create_org(spec: OrgCreate, session: SessionDep, actor: ActorDep) -> OrgRead:
    return identity.create_org(session, actor, spec)


@router.get("/orgs/{org_id}", response_model=OrgRead)
def get_org(org_id: str, session: SessionDep, actor: ActorDep) -> OrgRead:
    return identity.get_org(session, actor, org_id)


@router.patch("/orgs/{org_id}", response_model=OrgRead)
def update_org(org_id: str, change: OrgUpdate, session: SessionDep, actor: ActorDep) -> OrgRead:
    return identity.update_org(session, actor, org_id, change)


@router.get("/users", response_model=Page[UserRead])
def list_users(
    session: SessionDep,
    actor: ActorDep,
    org_id: Annotated[str | None, Query(max_length=40)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[UserRead]:
    return identity.list_users(session, actor, org_id=org_id, limit=limit, cursor=cursor)


@router.post("/users", response_model=UserRead, status_code=201)
def create_user(spec: UserCreate, session: SessionDep, actor: ActorDep) -> UserRead:
    return identity.create_user(session, actor, spec)


@router.get("/users/{user_id}", response_model=UserRead)
def get_user(user_id: str, session: SessionDep, actor: ActorDep) -> UserRead:
    return identity.get_user(session, actor, user_id)


@router.patch("/users/{user_id}", response_model=UserRead)
def update_user(user_id: str, change: UserUpdate, session: SessionDep, actor: ActorDep) -> UserRead:
    return identity.update_user(session, actor, user_id, change)


@router.get("/users/{user_id}/tokens", response_model=list[TokenRead])
def list_user_tokens(user_id: str, session: SessionDep, actor: ActorDep) -> list[TokenRead]:
    return identity.list_tokens(session, actor, user_id)


@router.post("/users/{user_id}/tokens", response_model=TokenCreated, status_code=201)
def create_user_token(user_id: str, spec: TokenCreate, session: SessionDep, actor: ActorDep) -> TokenCreated:
    return identity.create_token(session, actor, user_id, spec)


@router.get("/tokens", response_model=list[TokenRead])
def list_my_tokens(session: SessionDep, actor: ActorDep) -> list[TokenRead]:
    return identity.list_tokens(session, actor, actor.user_id)


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_my_token(spec: TokenCreate, session: SessionDep, actor: ActorDep) -> TokenCreated:
    return identity.create_token(session, actor, actor.user_id, spec)


@router.delete("/tokens/{token_id}", response_model=TokenRead)
def revoke_token(token_id: str, session: SessionDep, actor: ActorDep) -> TokenRead:
    return identity.revoke_token(session, actor, token_id)
