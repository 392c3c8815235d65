"""`aicommons observatory subsidies …`: Subsidy rules of 002 三 and applications under them."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from aicommons.cli import rendering
from aicommons.cli.state import state
from aicommons.core.errors import Invalid
from aicommons.observatory import subsidies

app = typer.Typer(help="Subsidy rules of 002 三 and applications under them.", no_args_is_help=True)

_LEVEL = "The level or tier (national, provincial, …); see `items ITEM`."
_BASE = "A base amount NAME=VALUE the item's formula needs (yuan, count or m²); repeat."
_PROJECT = "The project key: one org's applications with one key are one project (从高、从优、不重复)."


def parse_bases(items: list[str]) -> dict[str, str]:
    """`actual_investment=6000000` items into {"actual_investment": "6000000"} (the service checks the values)."""
    bases: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise Invalid(f"The '--base' option must be NAME=VALUE like actual_investment=6000000; got {item!r}.")
        bases[name.strip()] = value.strip().replace(",", "")
    return bases


def _request(item: str, level: str | None, base: list[str] | None, year: int, project: str, evidence: str = "") -> subsidies.SubsidyRequest:
    return subsidies.SubsidyRequest.model_validate(
        {"item": item, "level": level, "bases": parse_bases(base or []), "year": year, "project_key": project, "evidence": evidence}
    )


def _arithmetic(title: str, steps: list[str]) -> None:
    rendering.table(title, ["step", "rule and arithmetic"], ((n, escape(step)) for n, step in enumerate(steps, 1)))


@app.command("items")
def items(item: Annotated[str | None, typer.Argument(help="Show this item in full.")] = None) -> None:
    """List the subsidy items of 002 三, or show one with its Chinese text, bases and conditions."""
    if item is None:
        rendering.table("Subsidy items of 002 三", ["id", "clause", "title", "rule"], ((i.id, i.clause, i.title, i.rule) for i in subsidies.list_items()))
        return
    found = subsidies.get_item(item)
    rendering.out.print(f"[bold]{found.id}[/] ({found.clause}) {escape(found.title)}")
    rendering.out.print(f"原文: {found.text}", highlight=False)
    rendering.out.print(f"Rule: {escape(found.rule)}")
    if found.levels:
        rendering.table("Levels", ["level", "label"], found.levels.items())
    if found.bases:
        rendering.table("Base amounts (--base NAME=VALUE)", ["name", "unit", "meaning"], ((n, b.unit, b.label) for n, b in found.bases.items()))
    rendering.out.print(f"The reviewer checks: {escape(found.review)}")


@app.command("quote")
def quote(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="The item id, e.g. key-lab.")],
    year: Annotated[int, typer.Option(help="The year applied for.")],
    project: Annotated[str, typer.Option(help=_PROJECT)],
    level: Annotated[str | None, typer.Option(help=_LEVEL)] = None,
    base: Annotated[list[str] | None, typer.Option("--base", help=_BASE)] = None,
) -> None:
    """Compute what your org would be paid, with the arithmetic; nothing is stored."""
    request = _request(item, level, base, year, project)
    with state(ctx).session() as (session, actor):
        found = subsidies.quote_subsidy(session, actor, request)
    _arithmetic(f"Quote: {found.item} ({found.clause}) {found.year}, project {found.project_key!r}", found.arithmetic)
    rendering.out.print(f"[bold]Payable: {found.payable:,.2f} yuan[/]")


@app.command("apply")
def apply(
    ctx: typer.Context,
    item: Annotated[str, typer.Argument(help="The item id, e.g. key-lab.")],
    year: Annotated[int, typer.Option(help="The year applied for.")],
    project: Annotated[str, typer.Option(help=_PROJECT)],
    level: Annotated[str | None, typer.Option(help=_LEVEL)] = None,
    base: Annotated[list[str] | None, typer.Option("--base", help=_BASE)] = None,
    evidence: Annotated[str, typer.Option(help="Evidence notes for the reviewer.")] = "",
) -> None:
    """Apply for your org; the application waits for an official's decision."""
    request = _request(item, level, base, year, project, evidence)
    with state(ctx).session() as (session, actor):
        created = subsidies.apply_for_subsidy(session, actor, request)
    _arithmetic(f"Application {created.id}: {created.item} ({created.clause}) {created.year}", created.quote)
    rendering.out.print(f"[bold]{created.id}[/] pending; payable now {created.quoted:,.2f} yuan")


@app.command("list")
def list_applications(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending, approved or rejected.")] = None,
    item: Annotated[str | None, typer.Option(help="Only this item.")] = None,
    year: Annotated[int | None, typer.Option(help="Only this year.")] = None,
    org: Annotated[str | None, typer.Option(help="Officials only: this org's applications.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (1 to 200).")] = 50,
    cursor: Annotated[str | None, typer.Option(help="The next_cursor of the previous page.")] = None,
) -> None:
    """List applications: officials see every org's, others their own org's."""
    with state(ctx).session() as (session, actor):
        page = subsidies.list_applications(session, actor, status=status, item=item, year=year, org_id=org, limit=limit, cursor=cursor)
    rendering.table(
        "Subsidy applications", ["id", "org", "item", "level", "year", "project", "status", "quoted (yuan)", "approved (yuan)"],
        ((a.id, a.org_id, a.item, a.level, a.year, escape(a.project_key), a.status.value, f"{a.quoted:,.2f}",
          "" if a.amount is None else f"{a.amount:,.2f}") for a in page.items),
    )  # fmt: skip
    if page.next_cursor:
        rendering.out.print(f"More: --cursor {page.next_cursor}")


def _print(application: subsidies.ApplicationRead) -> None:
    rendering.record(application.model_copy(update={"quote": [], "decision": None}))
    _arithmetic("When applied for", application.quote)
    if application.decision:
        _arithmetic(f"At the decision ({application.status.value})", application.decision)


@app.command("show")
def show(ctx: typer.Context, application_id: str, json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show one application with its arithmetic."""
    with state(ctx).session() as (session, actor):
        found = subsidies.get_application(session, actor, application_id)
    if json_out:
        rendering.as_json(found)
    else:
        _print(found)


@app.command("approve")
def approve(
    ctx: typer.Context,
    application_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept with the decision).")],
    amount: Annotated[str | None, typer.Option(help="A lower amount than payable, in yuan (for 最高 items).")] = None,
) -> None:
    """Approve a pending application (officials only): the amount payable now is fixed."""
    approval = subsidies.Approval.model_validate({"reason": reason, "amount": amount})
    with state(ctx).session() as (session, actor):
        decided = subsidies.approve_application(session, actor, application_id, approval)
    _arithmetic(f"Approved {decided.id}", decided.decision or [])
    rendering.out.print(f"[bold]Approved: {decided.amount:,.2f} yuan[/]")


@app.command("reject")
def reject(ctx: typer.Context, application_id: str, reason: Annotated[str, typer.Option(help="Why (kept with the decision).")]) -> None:
    """Reject a pending application (officials only)."""
    rejection = subsidies.Rejection.model_validate({"reason": reason})
    with state(ctx).session() as (session, actor):
        decided = subsidies.reject_application(session, actor, application_id, rejection)
    rendering.out.print(f"Rejected {decided.id}: {escape(decided.reason or '')}")
