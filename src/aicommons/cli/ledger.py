"""`aicommons ledger …`: The ledger, vouchers (算力券, 智评券) and charges from metered usage.

Amounts are typed in yuan (`100`, `99.50`) and stored as integer fen; times are ISO 8601, read as
China Standard Time (+08:00) when they carry no offset.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated

import typer

from aicommons import compute
from aicommons.cli import rendering
from aicommons.cli.state import state
from aicommons.compute.ledger import yuan
from aicommons.core.errors import Invalid

app = typer.Typer(help="The ledger, vouchers (算力券, 智评券) and charges from metered usage.", no_args_is_help=True)

CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
OrgOption = Annotated[str | None, typer.Option("--org", help="An org id; your own org when left out (officials may name any).")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
PricesOption = Annotated[Path | None, typer.Option("--prices", help="A price list YAML instead of the shipped one.")]


def parse_fen(text: str, option: str) -> int:
    """`99.50` (yuan) into 9950 fen; refuses negatives, zero and fractions of a fen."""
    try:
        amount = Decimal(text)
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
        raise Invalid(f"The {option!r} option must be a positive amount in yuan with at most two decimals, like 100 or 99.50; got {text!r} instead.")
    return int(amount * 100)


def parse_time(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise Invalid(f"The {option!r} option must be an ISO 8601 date or time, like 2027-06-30 or 2027-06-30T18:00+08:00; got {text!r} instead.") from None
    return value if value.tzinfo else value.replace(tzinfo=CHINA_STANDARD_TIME)


def _vouchers_table(title: str, rows: list[compute.VoucherRead]) -> None:
    rendering.table(
        title, ["id", "kind", "holder", "issuer", "balance", "face value", "share", "services", "valid from", "valid until", "status"],
        ((v.id, v.kind.value, v.org_id, v.issuer_org_id, yuan(v.balance_fen), yuan(v.face_value_fen), f"{v.share_percent}%", ",".join(v.services),
          f"{v.valid_from:%Y-%m-%d %H:%M}", f"{v.valid_until:%Y-%m-%d %H:%M}", v.status.value) for v in rows),
    )


def _transaction(found: compute.TransactionRead) -> None:
    rendering.out.print(f"Transaction [bold]{found.id}[/] ({found.kind}, {yuan(found.amount_fen)}, org {found.org_id}, key {found.idempotency_key})")
    rendering.table("Postings", ["account", "amount"], ((p.account_key, yuan(p.amount_fen)) for p in found.postings))


@app.command("balance")
def balance(ctx: typer.Context, org: OrgOption = None, json_out: JsonOption = False) -> None:
    """An org's prepaid balance and vouchers."""
    with state(ctx).session() as (session, actor):
        found = compute.get_balance(session, actor, org)
    if json_out:
        rendering.as_json(found)
        return
    rendering.out.print(f"Org {found.org_id}: prepaid {yuan(found.prepaid_fen)}, active vouchers {yuan(found.usable_voucher_fen)}")
    if found.vouchers:
        _vouchers_table("Vouchers", found.vouchers)


@app.command("transactions")
def transactions(
    ctx: typer.Context, org: OrgOption = None,
    kind: Annotated[str | None, typer.Option(help="topup, voucher_issue, charge or usage_charge.")] = None, limit: int = 50,
) -> None:
    """Transactions, newest first: your org's, or (officials) every org's."""
    with state(ctx).session() as (session, actor):
        page = compute.list_transactions(session, actor, org_id=org, kind=kind, limit=limit)
    rendering.table(
        "Ledger transactions", ["id", "kind", "org", "service", "amount", "postings", "at"],
        ((t.id, t.kind, t.org_id, t.service or "", yuan(t.amount_fen), "; ".join(f"{p.account_key} {yuan(p.amount_fen)}" for p in t.postings),
          f"{t.created_at:%Y-%m-%d %H:%M:%S}") for t in page.items),
    )


@app.command("topup")
def topup(
    ctx: typer.Context,
    org: Annotated[str, typer.Argument(help="The org id to credit.")],
    amount: Annotated[str, typer.Argument(help="Yuan, e.g. 500 or 99.50.")],
    memo: str = "",
    key: Annotated[str | None, typer.Option(help="An idempotency key: repeating the command with it changes nothing.")] = None,
) -> None:
    """Record money paid into an org's prepaid balance (officials)."""
    spec = compute.TopupCreate(org_id=org, amount_fen=parse_fen(amount, "amount"), memo=memo, idempotency_key=key)
    with state(ctx).session() as (session, actor):
        _transaction(compute.topup(session, actor, spec))


@app.command("vouchers")
def vouchers(
    ctx: typer.Context, org: Annotated[str | None, typer.Option("--org", help="Only the vouchers this org holds.")] = None,
    kind: Annotated[compute.VoucherKind | None, typer.Option(help="compute (AI算力券) or evaluation (智评券).")] = None,
) -> None:
    """Vouchers you hold or issued (officials: all), earliest expiry first."""
    with state(ctx).session() as (session, actor):
        rows = compute.list_vouchers(session, actor, org_id=org, kind=kind)
    _vouchers_table("Vouchers", rows)


@app.command("issue-voucher")
def issue_voucher(
    ctx: typer.Context,
    org: Annotated[str, typer.Argument(help="The org id the voucher is issued to.")],
    kind: Annotated[str, typer.Option(help="compute (AI算力券) or evaluation (智评券).")],
    value: Annotated[str, typer.Option(help="Face value in yuan.")],
    valid_until: Annotated[str, typer.Option(help="End of validity (exclusive), ISO 8601.")],
    share: Annotated[int, typer.Option(help="The most of each charge it may cover, in percent (1 to 100).")] = 100,
    services: Annotated[str | None, typer.Option(help="Comma-separated eligible services; all of the kind's when left out.")] = None,
    valid_from: Annotated[str | None, typer.Option(help="Start of validity, ISO 8601; now when left out.")] = None,
    memo: str = "",
    key: Annotated[str | None, typer.Option(help="An idempotency key.")] = None,
) -> None:
    """Issue a voucher from your (official) org."""
    if kind not in {k.value for k in compute.VoucherKind}:
        raise Invalid(f"The '--kind' option must be one of {[k.value for k in compute.VoucherKind]}; got {kind!r} instead.")
    spec = compute.VoucherCreate(
        org_id=org, kind=kind, face_value_fen=parse_fen(value, "value"), share_percent=share,
        services=[s.strip() for s in services.split(",") if s.strip()] if services is not None else None,
        valid_from=parse_time(valid_from, "valid-from") if valid_from else None, valid_until=parse_time(valid_until, "valid-until"),
        memo=memo, idempotency_key=key,
    )
    with state(ctx).session() as (session, actor):
        issued = compute.issue_voucher(session, actor, spec)
    rendering.out.print(f"Issued voucher [bold]{issued.id}[/] to {issued.org_id}: {yuan(issued.face_value_fen)}, {issued.status.value}")


@app.command("charge-usage")
def charge_usage(
    ctx: typer.Context,
    until: Annotated[str | None, typer.Option(help="Bill metered items before this time (default: the start of this minute).")] = None,
    prices: PricesOption = None, json_out: JsonOption = False,
) -> None:
    """Bill every metered item not billed yet (the operator)."""
    price_list = compute.load_prices(prices)
    with state(ctx).session() as (session, actor):
        run = compute.charge_usage(session, actor, until=parse_time(until, "until") if until else None, prices=price_list)
    if json_out:
        rendering.as_json(run)
        return
    rendering.out.print(
        f"Billed {run.items_billed} of {run.items_seen} metered item(s) before {run.until:%Y-%m-%d %H:%M} UTC: "
        f"{run.transactions} transaction(s), {yuan(run.billed_fen)}; {len(run.refused)} refused"
    )
    if run.refused:
        rendering.table(
            "Refused for insufficient funds", ["org", "service", "items", "amount", "short"],
            ((r.org_id, r.service, r.items, yuan(r.amount_fen), yuan(r.shortfall_fen)) for r in run.refused),
        )


@app.command("reconcile")
def reconcile(
    ctx: typer.Context, org: OrgOption = None,
    until: Annotated[str | None, typer.Option(help="Metered items before this time (default: the start of this minute).")] = None,
    prices: PricesOption = None, json_out: JsonOption = False,
) -> None:
    """Ledger usage charges against metered usage × price, per org and service; exits 1 on a difference."""
    price_list = compute.load_prices(prices)
    with state(ctx).session() as (session, actor):
        report = compute.reconcile(session, actor, org_id=org, until=parse_time(until, "until") if until else None, prices=price_list)
    if json_out:
        rendering.as_json(report)
    else:
        rendering.table(
            f"Reconciliation up to {report.until:%Y-%m-%d %H:%M} UTC", ["org", "service", "items", "calls", "compute s", "expected", "billed", "difference", "unbilled"],
            ((line.org_id, line.service, line.items, line.calls, f"{line.compute_seconds:.3f}", yuan(line.expected_fen), yuan(line.billed_fen),
              yuan(line.difference_fen), line.unbilled_items) for line in report.lines),
        )
        verdict = "[green]balanced[/]" if report.ok else "[red]differences found[/]"
        rendering.out.print(
            f"Expected {yuan(report.expected_fen)}, billed {yuan(report.billed_fen)}, difference {yuan(report.difference_fen)}; "
            f"unbalanced transactions {len(report.unbalanced_transactions)}, mismatched accounts {len(report.mismatched_accounts)}: {verdict}"
        )
    if not report.ok:
        raise typer.Exit(1)
