"""Models: the hub list with search, a model's rendered card, its lineage graph (dataset to
deployment), two versions compared (metrics, size, latency), and its aliases, which the owner
moves through the hub (which audits each move)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from aicommons import models
from aicommons.console.deps import Member, MemberDep, PostingMemberDep, SessionDep
from aicommons.console.lineage_graph import draw_lineage, gather_lineage
from aicommons.console.markdown import card_html, split_front_matter
from aicommons.console.pages import ConsoleRoute, form_refusal, redirect, render
from aicommons.console.version_comparison import (
    BATCH_SIZES,
    compare_versions,
    comparison_charts,
)
from aicommons.core.errors import Invalid
from aicommons.core.permissions import Action, can
from aicommons.models.hub import KIND as MODEL
from aicommons.models.schemas import AliasName

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
_ALIAS_NAME = TypeAdapter(AliasName)


@router.get("/models")
def model_list(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    q: Annotated[str, Query(max_length=100)] = "",
    task: models.Task | Literal[""] = "",  # "": the form's "all"
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page = models.list_models(
        session,
        member.actor,
        query=q or None,
        task=task or None,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    return render(
        request,
        member,
        "models/list.html",
        page=page,
        q=q,
        task=task,
        tasks=[t.value for t in models.Task],
    )


@router.get("/models/{model_id}")
def model_page(
    request: Request,
    model_id: str,
    session: SessionDep,
    member: MemberDep,
    version: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    model = models.get_model(session, member.actor, model_id)
    versions = models.list_versions(session, member.actor, model_id)
    shown = (
        models.resolve_version(session, member.actor, model_id, version)
        if versions
        else None
    )
    card = models.get_card(session, member.actor, shown.id) if shown else ""
    return render(
        request,
        member,
        "models/model.html",
        model=model,
        versions=versions,
        shown=shown,
        card=card_html(card),
        card_header=split_front_matter(card)[0],
        section="card",
        may_write=can(session, member.actor, Action.write, MODEL, model),
    )


@router.get("/models/{model_id}/lineage")
def lineage_page(
    request: Request, model_id: str, session: SessionDep, member: MemberDep
) -> Response:
    lineage = gather_lineage(session, member.actor, model_id, member.translator)
    return render(
        request,
        member,
        "models/lineage.html",
        model=models.get_model(session, member.actor, model_id),
        lineage=lineage,
        graph=draw_lineage(lineage),
        section="lineage",
    )


@router.get("/models/{model_id}/compare")
def compare_page(
    request: Request,
    model_id: str,
    session: SessionDep,
    member: MemberDep,
    base: Annotated[int | None, Query(ge=1)] = None,
    other: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    model = models.get_model(session, member.actor, model_id)
    versions = models.list_versions(session, member.actor, model_id)
    comparison = charts = None
    if len(versions) >= 2:
        other = other or versions[-1].number
        base = base or _default_base(versions, other)
        comparison = compare_versions(session, member.actor, model_id, base, other)
        charts = comparison_charts(comparison, member.translator)
    return render(
        request,
        member,
        "models/compare.html",
        model=model,
        versions=versions,
        comparison=comparison,
        charts=charts,
        batch_sizes=BATCH_SIZES,
        section="compare",
    )


def _default_base(versions: list[models.ModelVersionRead], other: int) -> int:
    """What a version is naturally compared with: its parent in this model, else the one before it."""
    by_number = {v.number: v for v in versions}
    parent_id = by_number[other].parent_version_id if other in by_number else None
    parent = next((v for v in versions if v.id == parent_id), None)
    if parent is not None:
        return parent.number
    earlier = [v.number for v in versions if v.number < other]
    return earlier[-1] if earlier else versions[0].number


# --- aliases ----------------------------------------------------------------------------------


def _aliases_page(
    request: Request,
    session: Session,
    member: Member,
    model_id: str,
    *,
    status_code: int = 200,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    model = models.get_model(session, member.actor, model_id)
    versions = models.list_versions(session, member.actor, model_id)
    return render(
        request,
        member,
        "models/aliases.html",
        status_code=status_code,
        model=model,
        versions=versions,
        version_of={v.number: v for v in versions},
        may_write=can(session, member.actor, Action.write, MODEL, model),
        form={
            "alias": "",
            "version_id": versions[-1].id if versions else "",
            **(form or {}),
        },
        errors=errors or {},
        section="aliases",
    )


@router.get("/models/{model_id}/aliases")
def aliases_page(
    request: Request, model_id: str, session: SessionDep, member: MemberDep
) -> Response:
    return _aliases_page(request, session, member, model_id)


@router.post("/models/{model_id}/aliases")
def set_alias(
    request: Request,
    model_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    alias: Annotated[str, Form(max_length=1000)] = "",
    version_id: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Point an alias at a version (moving it if it exists): the hub checks the member may write and audits it."""
    form = {"alias": alias, "version_id": version_id}
    _ = member.translator.gettext
    refused = form_refusal(_aliases_page, request, session, member, model_id, form=form)
    try:
        name = _ALIAS_NAME.validate_python(alias)
    except ValidationError:
        return refused(
            "alias",
            _("An alias is 1 to 40 lower-case letters, digits, - or _, starting with a letter."),
        )
    if version_id not in {
        v.id for v in models.list_versions(session, member.actor, model_id)
    }:
        return refused("version_id", _("Choose one of this model's versions."))
    try:
        models.set_alias(session, member.actor, model_id, name, version_id)
    except Invalid:  # the one name the hub keeps for itself
        return refused(
            "alias", _("'latest' always means the newest version; choose another name.")
        )
    return redirect(f"/models/{model_id}/aliases")


@router.post("/models/{model_id}/aliases/{alias}/delete")
def delete_alias(
    model_id: str, alias: str, session: SessionDep, member: PostingMemberDep
) -> Response:
    models.delete_alias(session, member.actor, model_id, alias)
    return redirect(f"/models/{model_id}/aliases")
