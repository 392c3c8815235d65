"""Subsidy rules of 002 三 and applications under them: items, quotes, applications, decisions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aicommons.api.deps import ActorDep, SessionDep
from aicommons.core.schemas import Page
from aicommons.observatory import subsidies

router = APIRouter(prefix="/observatory/subsidies", tags=["observatory"])


@router.get("/policy", response_model=subsidies.Catalogue)
def policy() -> subsidies.Catalogue:
    """All of 002 三 as shipped: clause texts, items, the overlap rule and what is not a payment."""
    return subsidies.policy()


@router.get("/items", response_model=list[subsidies.ItemRead])
def list_items() -> list[subsidies.ItemRead]:
    """Every subsidy item with its clause, quoted text and rule."""
    return subsidies.list_items()


@router.get("/items/{item_id}", response_model=subsidies.ItemRead)
def get_item(item_id: str) -> subsidies.ItemRead:
    return subsidies.get_item(item_id)


@router.post("/quote", response_model=subsidies.Quote)
def quote(request: subsidies.SubsidyRequest, session: SessionDep, actor: ActorDep) -> subsidies.Quote:
    """What your org would be paid, with the arithmetic; nothing is stored."""
    return subsidies.quote_subsidy(session, actor, request)


@router.post("/applications", response_model=subsidies.ApplicationRead, status_code=201)
def apply(request: subsidies.SubsidyRequest, session: SessionDep, actor: ActorDep) -> subsidies.ApplicationRead:
    """Apply for your org; 422 for a bad item, level or base, 409 when nothing would be payable."""
    return subsidies.apply_for_subsidy(session, actor, request)


@router.get("/applications", response_model=Page[subsidies.ApplicationRead])
def list_applications(
    session: SessionDep,
    actor: ActorDep,
    status: str | None = None,
    item: str | None = None,
    year: int | None = None,
    org_id: Annotated[str | None, Query(description="Officials only: one org's applications.")] = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[subsidies.ApplicationRead]:
    """Officials see every org's applications; others their own org's."""
    return subsidies.list_applications(session, actor, status=status, item=item, year=year, org_id=org_id, limit=limit, cursor=cursor)


@router.get("/applications/{application_id}", response_model=subsidies.ApplicationRead)
def get_application(application_id: str, session: SessionDep, actor: ActorDep) -> subsidies.ApplicationRead:
    return subsidies.get_application(session, actor, application_id)


@router.post("/applications/{application_id}/approve", response_model=subsidies.ApplicationRead)
def approve(application_id: str, approval: subsidies.Approval, session: SessionDep, actor: ActorDep) -> subsidies.ApplicationRead:
    """Officials only: approve at the amount payable now (or a lower one), which is then fixed."""
    return subsidies.approve_application(session, actor, application_id, approval)


@router.post("/applications/{application_id}/reject", response_model=subsidies.ApplicationRead)
def reject(application_id: str, rejection: subsidies.Rejection, session: SessionDep, actor: ActorDep) -> subsidies.ApplicationRead:
    """Officials only: reject with a reason."""
    return subsidies.reject_application(session, actor, application_id, rejection)
