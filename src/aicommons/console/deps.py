"""Who is asking, for console pages: a transaction per request, the visitor behind the session
cookie, and CSRF checks on every form.

CSRF tokens are bound to the console session once signed in (stored with it) and are a
double-submit cookie before that (the sign-in, language and certificate forms); either way a form
must echo the token in its `csrf_token` field, or htmx in an `X-CSRF-Token` header.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from aicommons.console.locales import Translator, chosen
from aicommons.core.errors import Forbidden, Unauthenticated
from aicommons.core.identity import console_session
from aicommons.core.permissions import Actor
from aicommons.core.runtime import Runtime

SESSION_COOKIE = "aic_session"
CSRF_COOKIE = "aic_csrf"
LANGUAGE_COOKIE = "aic_lang"


class SignInRequired(Unauthenticated):
    """A page for members only, asked for without a session: the console sends them to sign in."""


class CsrfRefused(Forbidden):
    """A form posted without the token this visitor was given."""


@dataclass(frozen=True)
class Visitor:
    actor: Actor | None
    csrf_token: str
    translator: Translator
    csrf_cookie_missing: bool  # a fresh double-submit token the response must set


@dataclass(frozen=True)
class Member(Visitor):
    actor: Actor


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime  # type: ignore[no-any-return]


def get_session(runtime: Annotated[Runtime, Depends(get_runtime)]) -> Iterator[Session]:
    """One transaction per request, committed before the response is sent."""
    with runtime.session() as session:
        yield session


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def visitor_of(request: Request, session: Session | None) -> Visitor:
    translator = Translator(chosen(request.cookies.get(LANGUAGE_COOKIE)))
    secret = request.cookies.get(SESSION_COOKIE)
    if secret and session is not None:
        try:
            signed_in = console_session(session, secret)
            return Visitor(signed_in.actor, signed_in.csrf_token, translator, False)
        except Unauthenticated:
            pass
    cookie = request.cookies.get(CSRF_COOKIE)
    return Visitor(None, cookie or secrets.token_urlsafe(32), translator, cookie is None)


def get_visitor(request: Request, session: SessionDep) -> Visitor:
    return visitor_of(request, session)


def get_member(request: Request, visitor: Annotated[Visitor, Depends(get_visitor)]) -> Member:
    if visitor.actor is None:
        raise SignInRequired(f"Sign in to see {request.url.path}.")
    return Member(visitor.actor, visitor.csrf_token, visitor.translator, visitor.csrf_cookie_missing)


async def _checked(request: Request, visitor: Visitor) -> None:
    form = await request.form()
    sent = str(form.get("csrf_token") or request.headers.get("x-csrf-token") or "")
    if visitor.csrf_cookie_missing or not secrets.compare_digest(sent.encode(), visitor.csrf_token.encode()):
        raise CsrfRefused("The form's security token is missing or out of date; reload the page and send it again.")


async def get_posting_visitor(request: Request, visitor: Annotated[Visitor, Depends(get_visitor)]) -> Visitor:
    await _checked(request, visitor)
    return visitor


async def get_posting_member(request: Request, member: Annotated[Member, Depends(get_member)]) -> Member:
    await _checked(request, member)
    return member


VisitorDep = Annotated[Visitor, Depends(get_visitor)]
MemberDep = Annotated[Member, Depends(get_member)]
PostingVisitorDep = Annotated[Visitor, Depends(get_posting_visitor)]
PostingMemberDep = Annotated[Member, Depends(get_posting_member)]
