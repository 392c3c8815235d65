"""Models: the hub list with search, and a model's rendered card."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from aicommons import models
from aicommons.console.deps import MemberDep, SessionDep
from aicommons.console.markdown import card_html, split_front_matter
from aicommons.console.pages import ConsoleRoute, render

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50


@router.get("/models")
def model_list(
    request: Request, session: SessionDep, member: MemberDep,
    q: Annotated[str, Query(max_length=100)] = "", task: models.Task | Literal[""] = "",  # "": the form's "all"
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page = models.list_models(session, member.actor, query=q or None, task=task or None, limit=PAGE_SIZE, cursor=cursor)
    return render(request, member, "models/list.html", page=page, q=q, task=task,
                  tasks=[t.value for t in models.Task])


@router.get("/models/{model_id}")
def model_page(
    request: Request, model_id: str, session: SessionDep, member: MemberDep, version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    model = models.get_model(session, member.actor, model_id)
    versions = models.list_versions(session, member.actor, model_id)
    shown = models.resolve_version(session, member.actor, model_id, version) if versions else None
    card = models.get_card(session, member.actor, shown.id) if shown else ""
    return render(request, member, "models/model.html", model=model, versions=versions, shown=shown,
                  card=card_html(card), card_header=split_front_matter(card)[0])
