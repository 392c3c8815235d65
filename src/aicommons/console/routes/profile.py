"""The profile: who the visitor is, and their API tokens (list, create, revoke)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from pydantic import ValidationError

from aicommons.console.deps import MemberDep, PostingMemberDep, SessionDep
from aicommons.console.pages import ConsoleRoute, redirect, render
from aicommons.core import identity
from aicommons.core.schemas import TokenCreate

router = APIRouter(route_class=ConsoleRoute)


def _page(request: Request, session: SessionDep, member: MemberDep, *, status_code: int = 200, **context: object) -> Response:
    user = identity.get_user(session, member.actor, member.actor.user_id)
    org = identity.get_org(session, member.actor, member.actor.org_id)
    tokens = identity.list_tokens(session, member.actor, member.actor.user_id)
    shown = {"created": None, "name_error": None, "name": "", **context}
    return render(request, member, "profile/profile.html", status_code=status_code, user=user, org=org, tokens=tokens, **shown)


@router.get("/profile")
def profile(request: Request, session: SessionDep, member: MemberDep) -> Response:
    return _page(request, session, member)


@router.post("/profile/tokens")
def create_token(request: Request, session: SessionDep, member: PostingMemberDep, name: Annotated[str, Form(max_length=1000)] = "") -> Response:
    try:
        spec = TokenCreate(name=name)
    except ValidationError:
        error = member.translator.gettext("A token's name must be 1 to 100 characters.")
        return _page(request, session, member, status_code=400, name_error=error, name=name)
    created = identity.create_token(session, member.actor, member.actor.user_id, spec)
    return _page(request, session, member, created=created)


@router.post("/profile/tokens/{token_id}/revoke")
def revoke_token(token_id: str, session: SessionDep, member: PostingMemberDep) -> Response:
    identity.revoke_token(session, member.actor, token_id)
    return redirect("/profile")
