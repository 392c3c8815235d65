"""`aicommons org|user|token …`"""

from __future__ import annotations

from typing import Annotated

import typer

from aicommons.cli import rendering
from aicommons.cli.state import state
from aicommons.core import identity
from aicommons.core.schemas import OrgCreate, OrgKind, OrgRole, TokenCreate, UserCreate, Visibility

orgs = typer.Typer(help="Organisations: enterprises, universities, labs, government, the operator.", no_args_is_help=True)
users = typer.Typer(help="Users and their roles.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens (shown once; only a hash is stored).", no_args_is_help=True)


@orgs.command("create")
def create_org(
    ctx: typer.Context,
    name: str,
    kind: Annotated[OrgKind, typer.Option(help="What kind of organisation.")] = OrgKind.enterprise,
    visibility: Annotated[Visibility, typer.Option(help="private (default) or public.")] = Visibility.private,
) -> None:
    """Create an organisation."""
    with state(ctx).session() as (session, actor):
        org = identity.create_org(session, actor, OrgCreate(name=name, kind=kind, visibility=visibility))
    rendering.out.print(f"Created organisation [bold]{org.name}[/] ({org.kind}) id={org.id}")


@orgs.command("list")
def list_orgs(ctx: typer.Context, limit: int = 50) -> None:
    """List the organisations you can see."""
    with state(ctx).session() as (session, actor):
        page = identity.list_orgs(session, actor, limit=limit)
    rendering.table("Organisations", ["id", "name", "kind", "visibility"], ((o.id, o.name, o.kind, o.visibility) for o in page.items))


@users.command("create")
def create_user(
    ctx: typer.Context,
    email: str,
    org: Annotated[str, typer.Option(help="Organisation name.")],
    role: Annotated[OrgRole, typer.Option(help="Role in the organisation.")] = OrgRole.member,
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Add a user to an organisation."""
    with state(ctx).session() as (session, actor):
        org_id = identity.get_org_by_name(session, actor, org).id
        user = identity.create_user(
            session, actor, UserCreate(email=email, org_id=org_id, org_role=role, display_name=name)
        )
    rendering.out.print(f"Created user [bold]{user.email}[/] ({user.org_role} of {org}) id={user.id}")


@users.command("list")
def list_users(ctx: typer.Context, org: Annotated[str | None, typer.Option(help="Organisation name.")] = None, limit: int = 50) -> None:
    """List users you can see."""
    with state(ctx).session() as (session, actor):
        org_id = identity.get_org_by_name(session, actor, org).id if org else None
        page = identity.list_users(session, actor, org_id=org_id, limit=limit)
    rendering.table(
        "Users", ["id", "email", "org", "role", "platform roles"],
        ((u.id, u.email, u.org_id, u.org_role, ",".join(u.platform_roles)) for u in page.items),
    )


@tokens.command("create")
def create_token(ctx: typer.Context, email: str, name: Annotated[str, typer.Option(help="A label for the token.")] = "cli") -> None:
    """Create an API token for a user and print it (once)."""
    with state(ctx).session() as (session, actor):
        user = identity.get_user_by_email(session, actor, email)
        token = identity.create_token(session, actor, user.id, TokenCreate(name=name))
    rendering.err.print(f"Token {token.id} for {email} (store it now; it is not shown again):")
    print(token.token)


@tokens.command("revoke")
def revoke_token(ctx: typer.Context, token_id: str) -> None:
    """Revoke a token by its id (see `aicommons token list EMAIL`)."""
    with state(ctx).session() as (session, actor):
        token = identity.revoke_token(session, actor, token_id)
    rendering.out.print(f"Revoked token {token.id} ({token.name}, {token.prefix}…)")


@tokens.command("list")
def list_tokens(
    ctx: typer.Context, email: str, json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """List a user's tokens (never their secrets)."""
    with state(ctx).session() as (session, actor):
        user = identity.get_user_by_email(session, actor, email)
        rows = identity.list_tokens(session, actor, user.id)
    if json_out:
        rendering.as_json(rows)
        return
    rendering.table(
        f"Tokens of {email}", ["id", "name", "prefix", "created", "last used", "revoked"],
        ((t.id, t.name, t.prefix + "…", t.created_at, t.last_used_at, t.revoked_at) for t in rows),
    )


@users.command("set-password")
def set_password(
    ctx: typer.Context,
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="At least 10 characters; prompted for when omitted.")],
) -> None:
    """Set a user's console password (your own, or, as an org admin or the operator, your users')."""
    with state(ctx).session() as (session, actor):
        user = identity.get_user_by_email(session, actor, email)
        identity.set_password(session, actor, user.id, password)
    rendering.out.print(f"Set the console password of [bold]{user.email}[/]; their open console sessions are ended.")
