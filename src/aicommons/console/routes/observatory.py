"""Observatory: policy targets, the regional ranking, the enterprise registry, subsidies, vouchers and the ledger.

Who sees what is the services' rule, as in the API: every member reads targets, progress and the
ranking; officials (the operator and government orgs) search the enterprise registry and read every
org's subsidy applications, vouchers and ledger, and decide applications; any other member sees
its own org's records, and another org's record is a 404 page.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError

from aicommons import compute
from aicommons.console import charts
from aicommons.console.deps import Member, MemberDep, PostingMemberDep, SessionDep
from aicommons.console.locales import Translator
from aicommons.console.money import fen_formatter, yuan_formatter
from aicommons.console.pages import ConsoleRoute, redirect, render
from aicommons.core.errors import Invalid, NotFound
from aicommons.core.officials import is_official
from aicommons.observatory import enterprises, statistics, subsidies
from aicommons.observatory.enterprises.vocabulary import FIELD_LABELS, TIER_LABELS

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
Text = Annotated[str, Query(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=40)]


def _render(
    request: Request,
    session: SessionDep,
    member: Member,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """An observatory page: every one knows whether the visitor is an official and writes money for their locale."""
    return render(request, member, template, status_code=status_code, official=is_official(session, member.actor),
                  yuan=yuan_formatter(member.translator), fen=fen_formatter(member.translator), **context)  # fmt: skip


# --- policy targets and the ranking ---------------------------------------------------------------


@router.get("/observatory")
def targets(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    document: Annotated[str, Query(max_length=10)] = "",
    as_of: Annotated[str, Query(max_length=10)] = "",
) -> Response:
    documents = sorted({t.document for t in statistics.list_targets()})
    shown = {
        "documents": documents,
        "document": document,
        "as_of": as_of,
        "as_of_error": None,
    }
    try:
        progress = statistics.list_progress(
            session, member.actor, as_of=as_of or None, document=document or None
        )
    except Invalid as error:  # a quarter that is not one: say so beside the field
        message = (
            member.translator.gettext("Give a quarter like 2026Q3.")
            if as_of
            else error.message
        )
        return _render(
            request,
            session,
            member,
            "observatory/targets.html",
            status_code=422,
            progress=[],
            **{**shown, "as_of_error": message},
        )
    return _render(
        request, session, member, "observatory/targets.html", progress=progress, **shown
    )


@router.get("/observatory/ranking")
def ranking(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    year: Annotated[int | None, Query(ge=1900, le=2200)] = None,
) -> Response:
    evaluations = statistics.list_evaluations(session, member.actor, limit=200).items
    years = sorted({e.year for e in evaluations}, reverse=True)
    chosen = year if year is not None else (years[0] if years else None)
    evaluation = None
    if chosen is not None:
        try:
            evaluation = statistics.get_ranking(session, member.actor, chosen)
        except NotFound:
            evaluation = None  # the page says no ranking of that year has been run
    chart = None
    if evaluation is not None:
        chart = charts.bar_chart(
            [f"{row.rank}. {row.region_name}" for row in evaluation.rows], [row.score for row in evaluation.rows],
            title=member.translator.gettext("Composite index by region, {year}", year=evaluation.year), fmt=member.translator.number,
        )  # fmt: skip
    return _render(
        request,
        session,
        member,
        "observatory/ranking.html",
        years=years,
        year=chosen,
        evaluation=evaluation,
        chart=chart,
    )


# --- the enterprise registry ----------------------------------------------------------------------


@router.get("/observatory/enterprises")
def enterprise_list(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    name: Text = "",
    city: Text = "",
    tier: Text = "",
    ai_field: Text = "",
    cursor: Cursor = None,
) -> Response:
    if not is_official(
        session, member.actor
    ):  # an enterprise sees the records linked to its own org
        return _render(request, session, member, "observatory/enterprises.html", page=None, own=enterprises.own_enterprises(session, member.actor),
                       vocabulary=enterprises.vocabulary(), tier_labels=TIER_LABELS, field_labels=FIELD_LABELS)  # fmt: skip
    page = enterprises.list_enterprises(session, member.actor, name=name or None, city=city or None, tier=tier or None,
                                        ai_field=ai_field or None, limit=PAGE_SIZE, cursor=cursor)  # fmt: skip
    return _render(request, session, member, "observatory/enterprises.html", page=page, own=None, vocabulary=enterprises.vocabulary(),
                   tier_labels=TIER_LABELS, field_labels=FIELD_LABELS, name=name, city=city, tier=tier, ai_field=ai_field)  # fmt: skip


@router.get("/observatory/enterprises/{credit_code}")
def enterprise_page(
    request: Request, credit_code: str, session: SessionDep, member: MemberDep
) -> Response:
    enterprise = enterprises.get_enterprise(session, member.actor, credit_code)
    return _render(
        request,
        session,
        member,
        "observatory/enterprise.html",
        enterprise=enterprise,
        tier_labels=TIER_LABELS,
        field_labels=FIELD_LABELS,
    )


# --- subsidy applications --------------------------------------------------------------------------


@router.get("/observatory/subsidies")
def subsidy_list(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    status: Annotated[str, Query(max_length=20)] = "",
    cursor: Cursor = None,
) -> Response:
    page = subsidies.list_applications(
        session, member.actor, status=status or None, limit=PAGE_SIZE, cursor=cursor
    )
    return _render(
        request,
        session,
        member,
        "observatory/subsidies.html",
        page=page,
        status=status,
        statuses=[s.value for s in subsidies.Status],
    )


def _subsidy_page(
    request: Request,
    session: SessionDep,
    member: Member,
    application_id: str,
    *,
    status_code: int = 200,
    **form: Any,
) -> Response:
    application = subsidies.get_application(session, member.actor, application_id)
    decidable = (application.status == subsidies.Status.pending and application.org_id != member.actor.org_id
                 and is_official(session, member.actor))  # fmt: skip
    shown = {
        "approve_reason": "",
        "approve_amount": "",
        "reject_reason": "",
        "errors": {},
        **form,
    }
    return _render(request, session, member, "observatory/subsidy.html", status_code=status_code, application=application,
                   item=subsidies.get_item(application.item), decidable=decidable, **shown)  # fmt: skip


@router.get("/observatory/subsidies/{application_id}")
def subsidy_page(
    request: Request, application_id: str, session: SessionDep, member: MemberDep
) -> Response:
    return _subsidy_page(request, session, member, application_id)


def _reason_rule(translator: Translator) -> str:
    """Approval and rejection share the schemas' `Reason`, so one message says what it accepts."""
    return translator.gettext("Give the reason for the decision, at most 2,000 characters.")


def _amount(text: str) -> Decimal | None:
    """The approval's amount as typed: None when left empty; InvalidOperation when it is not a number."""
    return Decimal(text.strip().replace(",", "")) if text.strip() else None


@router.post("/observatory/subsidies/{application_id}/approve")
def approve_subsidy(
    request: Request,
    application_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    reason: Annotated[str, Form(max_length=5000)] = "",
    amount: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    gettext = member.translator.gettext
    messages = {
        "reason": _reason_rule(member.translator),
        "amount": gettext(
            "Give an amount in yuan above zero with at most two decimals, or leave it empty."
        ),
    }
    errors: dict[str, str] = {}
    try:
        approval = subsidies.Approval(reason=reason, amount=_amount(amount))
    except InvalidOperation:
        errors["approve-amount"] = messages["amount"]
        if not reason.strip():
            errors["approve-reason"] = messages["reason"]
    except ValidationError as error:
        errors = {
            f"approve-{e['loc'][0]}": messages[str(e["loc"][0])]
            for e in error.errors()
            if e["loc"] and e["loc"][0] in messages
        }
    else:
        try:
            subsidies.approve_application(
                session, member.actor, application_id, approval
            )
            return redirect(f"/observatory/subsidies/{application_id}")
        except Invalid:  # more than is payable now
            errors["approve-amount"] = gettext(
                "The amount may not exceed what is payable now."
            )
    return _subsidy_page(
        request,
        session,
        member,
        application_id,
        status_code=422,
        errors=errors,
        approve_reason=reason,
        approve_amount=amount,
    )


@router.post("/observatory/subsidies/{application_id}/reject")
def reject_subsidy(
    request: Request,
    application_id: str,
    session: SessionDep,
    member: PostingMemberDep,
    reason: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    try:
        rejection = subsidies.Rejection(reason=reason)
    except ValidationError:
        error = _reason_rule(member.translator)
        return _subsidy_page(
            request,
            session,
            member,
            application_id,
            status_code=422,
            errors={"reject-reason": error},
            reject_reason=reason,
        )
    subsidies.reject_application(session, member.actor, application_id, rejection)
    return redirect(f"/observatory/subsidies/{application_id}")


# --- vouchers and the ledger ------------------------------------------------------------------------


@router.get("/observatory/ledger")
def ledger(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    org: Annotated[str, Query(max_length=40)] = "",
    cursor: Cursor = None,
    voucher_cursor: Cursor = None,
) -> Response:
    official = is_official(session, member.actor)
    chosen = org.strip() or None
    balance = None
    if (
        chosen or not official
    ):  # an official's own org holds no balance worth showing until they choose one
        try:
            balance = compute.get_balance(session, member.actor, chosen)
        except NotFound:
            if not official:
                raise  # another org's books: not found, as in the API
            message = member.translator.gettext("No organisation has this id.")
            return _render(request, session, member, "observatory/ledger.html", status_code=422, org=org, org_error=message,
                           balance=None, vouchers=None, transactions=None)  # fmt: skip
    # Officials see every org's vouchers and transactions until they choose one; others see their own org's.
    vouchers = compute.page_vouchers(session, member.actor, org_id=chosen, limit=PAGE_SIZE, cursor=voucher_cursor)
    transactions = compute.list_transactions(
        session, member.actor, org_id=chosen, limit=PAGE_SIZE, cursor=cursor
    )
    return _render(request, session, member, "observatory/ledger.html", org=org, org_error=None, balance=balance,
                   vouchers=vouchers, transactions=transactions)  # fmt: skip


@router.get("/observatory/vouchers/{voucher_id}")
def voucher_page(
    request: Request, voucher_id: str, session: SessionDep, member: MemberDep
) -> Response:
    voucher = compute.get_voucher(session, member.actor, voucher_id)
    return _render(
        request, session, member, "observatory/voucher.html", voucher=voucher
    )


@router.get("/observatory/ledger/transactions/{transaction_id}")
def transaction_page(
    request: Request, transaction_id: str, session: SessionDep, member: MemberDep
) -> Response:
    transaction = compute.get_transaction(session, member.actor, transaction_id)
    return _render(
        request,
        session,
        member,
        "observatory/transaction.html",
        transaction=transaction,
    )
