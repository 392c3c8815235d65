"""`aicommons audit …`"""

from __future__ import annotations

import typer

from aicommons.cli import rendering
from aicommons.cli.state import state
from aicommons.core import audit

app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)


@app.command("verify")
def verify(ctx: typer.Context) -> None:
    """Recompute the chain; exit 0 when intact, 1 and the first broken entry otherwise."""
    with state(ctx).session() as (session, actor):
        result = audit.verify_chain(session, actor)
    if result.ok:
        rendering.out.print(f"Audit chain intact: {result.checked} entries verified.")
        return
    rendering.error(
        f"Audit chain broken at entry seq={result.first_broken_seq} id={result.first_broken_id}: "
        f"{result.reason} ({result.checked} entries before it verified)."
    )
    raise typer.Exit(1)


@app.command("list")
def list_entries(ctx: typer.Context, limit: int = 50, resource: str | None = None) -> None:
    """Show the newest audit entries."""
    with state(ctx).session() as (session, actor):
        page = audit.list_entries(session, actor, resource_id=resource, limit=limit)
    rendering.table(
        "Audit log", ["seq", "at", "actor", "action", "resource"],
        ((e.seq, e.at.isoformat(timespec="seconds"), e.actor_user_id or "platform", e.action, f"{e.resource_kind} {e.resource_id}") for e in page.items),
    )
