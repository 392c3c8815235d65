"""Signing in and out, and choosing the language. Failed sign-ins are rate-limited by the kernel
(per e-mail and per client address); a refused visitor gets the form back with a 429."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from aicommons.console.deps import (
    LANGUAGE_COOKIE,
    SESSION_COOKIE,
    PostingMemberDep,
    PostingVisitorDep,
    SessionDep,
    VisitorDep,
)
from aicommons.console.locales import LANGUAGES
from aicommons.console.pages import ConsoleRoute, redirect, render, set_cookie
from aicommons.core import identity
from aicommons.core.errors import RateLimited, Unauthenticated, invalid_parameter

router = APIRouter(route_class=ConsoleRoute)
_YEAR_S = 365 * 24 * 3600


def _local(url: str) -> str:
    """Only paths on this site, so a crafted `next` cannot send a signed-in visitor elsewhere."""
    return url if url.startswith("/") and not url.startswith("//") and "\\" not in url else "/"


@router.get("/sign-in")
def sign_in_page(request: Request, visitor: VisitorDep, next: str = "/") -> Response:
    return render(request, visitor, "auth/sign_in.html", next=_local(next), email="", error=None)


@router.post("/sign-in")
def sign_in(
    request: Request, session: SessionDep, visitor: PostingVisitorDep,
    email: Annotated[str, Form(max_length=254)] = "", password: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    client = request.client.host if request.client else ""
    try:
        signed_in = identity.sign_in(session, email, password, client=client)
    except RateLimited as refused:
        message = visitor.translator.gettext(identity.SIGN_IN_LOCKED, minutes=math.ceil(refused.retry_after / 60))
        response = render(request, visitor, "auth/sign_in.html", status_code=429, next=_local(next), email=email, error=message)
        response.headers["Retry-After"] = str(math.ceil(refused.retry_after))
        return response
    except Unauthenticated:  # the kernel stored the failure; this transaction commits it
        return render(request, visitor, "auth/sign_in.html", status_code=400, next=_local(next), email=email,
                      error=visitor.translator.gettext(identity.SIGN_IN_REFUSED))
    response = redirect(_local(next))
    set_cookie(response, SESSION_COOKIE, signed_in.secret, max_age=int(identity.CONSOLE_SESSION_LIFETIME.total_seconds()))
    return response


@router.post("/sign-out")
def sign_out(request: Request, session: SessionDep, member: PostingMemberDep) -> Response:
    identity.sign_out(session, request.cookies.get(SESSION_COOKIE, ""))
    response = redirect("/sign-in")
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response


@router.post("/language")
def choose_language(
    visitor: PostingVisitorDep, language: Annotated[str, Form(max_length=10)], next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    if language not in LANGUAGES:
        raise invalid_parameter("language", "choose_language", f"one of {', '.join(LANGUAGES)}", language)
    response = redirect(_local(next))
    set_cookie(response, LANGUAGE_COOKIE, language, max_age=_YEAR_S)
    return response
