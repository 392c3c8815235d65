"""The home page: what the visitor's org holds and what the platform offers."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aicommons.console.deps import MemberDep, SessionDep
from aicommons.console.overview import overview
from aicommons.console.pages import ConsoleRoute, render

router = APIRouter(route_class=ConsoleRoute)


@router.get("/")
def home(request: Request, session: SessionDep, member: MemberDep) -> Response:
    return render(request, member, "home/home.html", overview=overview(session, member.actor))
