"""Organisations, users and API tokens, and turning a token into an Actor.

Tokens are random secrets shown once; only their sha256 is stored (a token carries 256 bits of
entropy, so a fast hash is the right tool, unlike passwords). Passwords, which people choose and
reuse, are stored as argon2id hashes (RFC 9106's recommended KDF, memory-hard). A console sign-in
opens a server-side session: the browser's cookie holds a random secret, the table its sha256 and
the session's CSRF token, so signing out or changing the password ends it at once.

Guessing passwords through the sign-in form is rate-limited: failures are stored (so the limit
holds across server workers) and counted per e-mail and per client address over a sliding window.
"""

from __future__ import annotations

import functools
import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthenticated,
    invalid_parameter,
    not_found,
)
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Action, Actor, require
from aicommons.core.schemas import (
    OrgCreate,
    OrgKind,
    OrgRead,
    OrgRole,
    OrgUpdate,
    Page,
    PlatformRole,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
    Visibility,
)
from aicommons.core.tables import ApiToken, ConsoleSession, Org, SignInFailure, User

TOKEN_PREFIX = "aic_"
_LAST_USED_RESOLUTION = timedelta(seconds=30)


# --- actors -----------------------------------------------------------------------------------


def actor_for(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        org_id=user.org_id,
        email=user.email,
        org_role=user.org_role,
        platform_roles=frozenset(user.platform_roles or ()),
    )


def actor_for_user_id(session: Session, user_id: str) -> Actor:
    user = session.get(User, user_id)
    if user is None or user.disabled_at is not None:
        raise Unauthenticated(f"User {user_id!r} does not exist or is disabled.")
    return actor_for(user)


def actor_for_email(session: Session, email: str) -> Actor:
    user = session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None or user.disabled_at is not None:
        raise Unauthenticated(f"No active user with e-mail {email!r}.")
    return actor_for(user)


def local_operator(session: Session) -> Actor:
    """The first active operator: who the CLI acts as on the platform's own machine."""
    for user in session.scalars(sa.select(User).where(User.disabled_at.is_(None)).order_by(User.id)):
        if "operator" in (user.platform_roles or ()):
            return actor_for(user)
    raise Unauthenticated("No operator exists yet; run `aicommons init` first.")


def authenticate(session: Session, secret: str) -> Actor:
    """The actor a bearer token stands for; Unauthenticated if it is unknown or revoked."""
    if not secret.startswith(TOKEN_PREFIX) or len(secret) > 200:
        raise Unauthenticated("The bearer token is malformed; tokens start with 'aic_'.")
    token = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _hash(secret)))
    if token is None or token.revoked_at is not None:
        raise Unauthenticated("The bearer token is unknown or revoked.")
    user = session.get(User, token.user_id)
    if user is None or user.disabled_at is not None:
        raise Unauthenticated("The bearer token's user is disabled.")
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION:
        token.last_used_at = now
    return actor_for(user)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# --- organisations ----------------------------------------------------------------------------


def create_org(session: Session, actor: Actor | None, spec: OrgCreate) -> OrgRead:
    """Only the platform operator creates orgs (`actor=None` is the platform's own bootstrap)."""
    if actor is not None and not actor.is_operator:
        raise Forbidden("Only the platform operator may create organisations.")
    _require_org_visibility(spec.visibility, "create_org")
    _require_unique_org_name(session, spec.name)
    org = Org(id=new_id("org"), name=spec.name, kind=spec.kind.value, visibility=spec.visibility.value)
    session.add(org)
    session.flush()
    result = OrgRead.model_validate(org)
    audit.record(session, actor, "org.create", "org", org.id, org_id=org.id, after=result)
    return result


def _require_unique_org_name(session: Session, name: str) -> None:
    if session.scalar(sa.select(Org.id).where(sa.func.lower(Org.name) == name.lower())):
        raise Conflict(f"An organisation named {name!r} already exists.")


def _require_org_visibility(visibility: Visibility | None, owner: str) -> None:
    if visibility == Visibility.shared:
        raise invalid_parameter(
            "visibility", owner, "'private' or 'public' (an organisation cannot be shared)", visibility.value
        )


def _readable_org(session: Session, actor: Actor, org_id: str, action: Action = Action.read) -> Org:
    org = session.get(Org, org_id)
    # An org is its own owner: its members (and admins, for changes) act on it.
    require(session, actor, action, "org", _OrgAsResource(org) if org else None, org_id)
    assert org is not None
    return org


class _OrgAsResource:
    def __init__(self, org: Org):
        self.id, self.org_id, self.visibility = org.id, org.id, org.visibility


def get_org(session: Session, actor: Actor, org_id: str) -> OrgRead:
    return OrgRead.model_validate(_readable_org(session, actor, org_id))


def get_org_by_name(session: Session, actor: Actor, name: str) -> OrgRead:
    org_id = session.scalar(sa.select(Org.id).where(sa.func.lower(Org.name) == name.strip().lower()))
    if org_id is None:
        raise not_found("organisation", name)
    try:
        return get_org(session, actor, org_id)
    except NotFound:  # visible to nobody but its org: same answer as a name that does not exist
        raise not_found("organisation", name) from None


def list_orgs(session: Session, actor: Actor, *, limit: int = 50, cursor: str | None = None) -> Page[OrgRead]:
    stmt = sa.select(Org)
    if not actor.is_operator:
        stmt = stmt.where(sa.or_(Org.id == actor.org_id, Org.visibility == "public"))
    rows, next_cursor = page_rows(session, stmt, Org.id, limit=limit, cursor=cursor, owner="list_orgs")
    return Page[OrgRead](items=[OrgRead.model_validate(r) for r in rows], next_cursor=next_cursor)


def update_org(session: Session, actor: Actor, org_id: str, change: OrgUpdate) -> OrgRead:
    org = _readable_org(session, actor, org_id, Action.admin)
    before = OrgRead.model_validate(org)
    _require_org_visibility(change.visibility, "update_org")
    if change.name is not None and change.name.lower() != org.name.lower():
        _require_unique_org_name(session, change.name)
    if change.name is not None:
        org.name = change.name
    if change.visibility is not None:
        org.visibility = change.visibility.value
    session.flush()
    after = OrgRead.model_validate(org)
    audit.record(session, actor, "org.update", "org", org.id, org_id=org.id, before=before, after=after)
    return after


# --- users ------------------------------------------------------------------------------------


class _UserAsResource:
    # Users are private to their org: colleagues see each other, org admins manage them.
    def __init__(self, user: User):
        self.id, self.org_id, self.visibility = user.id, user.org_id, "private"


def create_user(session: Session, actor: Actor | None, spec: UserCreate) -> UserRead:
    org = session.get(Org, spec.org_id)
    if actor is not None:
        if org is None or not (actor.is_operator or actor.org_id == org.id):
            raise not_found("organisation", spec.org_id)
        if not (actor.is_operator or actor.is_org_admin):
            raise Forbidden("Only org admins and the platform operator may add users.")
        if spec.platform_roles and not actor.is_operator:
            raise Forbidden("Only the platform operator may grant platform roles.")
    elif org is None:
        raise not_found("organisation", spec.org_id)
    if session.scalar(sa.select(User.id).where(User.email == spec.email)):
        raise Conflict(f"A user with e-mail {spec.email!r} already exists.")
    user = User(
        id=new_id("usr"),
        email=spec.email,
        display_name=spec.display_name,
        org_id=spec.org_id,
        org_role=spec.org_role.value,
        platform_roles=sorted(r.value for r in spec.platform_roles),
    )
    session.add(user)
    session.flush()
    result = UserRead.model_validate(user)
    audit.record(session, actor, "user.create", "user", user.id, org_id=user.org_id, after=result)
    return result


def _readable_user(session: Session, actor: Actor, user_id: str, action: Action = Action.read) -> User:
    user = session.get(User, user_id)
    require(session, actor, action, "user", _UserAsResource(user) if user else None, user_id)
    assert user is not None
    return user


def get_user(session: Session, actor: Actor, user_id: str) -> UserRead:
    return UserRead.model_validate(_readable_user(session, actor, user_id))


def get_user_by_email(session: Session, actor: Actor, email: str) -> UserRead:
    user_id = session.scalar(sa.select(User.id).where(User.email == email.strip().lower()))
    if user_id is None:
        raise not_found("user", email)
    try:
        return get_user(session, actor, user_id)
    except NotFound:  # visible to nobody but its org: same answer as a name that does not exist
        raise not_found("user", email) from None


def list_users(
    session: Session, actor: Actor, *, org_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[UserRead]:
    stmt = sa.select(User)
    if not actor.is_operator:
        stmt = stmt.where(User.org_id == actor.org_id)
    if org_id is not None:
        stmt = stmt.where(User.org_id == org_id)
    rows, next_cursor = page_rows(session, stmt, User.id, limit=limit, cursor=cursor, owner="list_users")
    return Page[UserRead](items=[UserRead.model_validate(r) for r in rows], next_cursor=next_cursor)


def update_user(session: Session, actor: Actor, user_id: str, change: UserUpdate) -> UserRead:
    user = _readable_user(session, actor, user_id, Action.admin)
    if change.platform_roles is not None and not actor.is_operator:
        raise Forbidden("Only the platform operator may change platform roles.")
    before = UserRead.model_validate(user)
    if change.org_role is not None:
        user.org_role = change.org_role.value
    if change.display_name is not None:
        user.display_name = change.display_name
    if change.platform_roles is not None:
        user.platform_roles = sorted(r.value for r in change.platform_roles)
    if change.disabled is not None:
        user.disabled_at = utcnow() if change.disabled else None
    session.flush()
    after = UserRead.model_validate(user)
    audit.record(session, actor, "user.update", "user", user.id, org_id=user.org_id, before=before, after=after)
    return after


# --- tokens -----------------------------------------------------------------------------------


def _require_token_manager(session: Session, actor: Actor | None, user: User | None, ident: str) -> None:
    """A user manages their own tokens; org admins and the operator manage their users' tokens."""
    if actor is None or (user is not None and user.id == actor.user_id):
        if user is None:
            raise not_found("user", ident)
        return
    require(session, actor, Action.admin, "user", _UserAsResource(user) if user else None, ident)


def create_token(session: Session, actor: Actor | None, user_id: str, spec: TokenCreate) -> TokenCreated:
    user = session.get(User, user_id)
    _require_token_manager(session, actor, user, user_id)
    assert user is not None
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        id=new_id("tok"), user_id=user.id, name=spec.name, token_hash=_hash(secret), prefix=secret[:12]
    )
    session.add(token)
    session.flush()
    result = TokenRead.model_validate(token)
    audit.record(session, actor, "token.create", "token", token.id, org_id=user.org_id, after=result)
    return TokenCreated(**result.model_dump(), token=secret)


def list_tokens(session: Session, actor: Actor, user_id: str) -> list[TokenRead]:
    user = session.get(User, user_id)
    _require_token_manager(session, actor, user, user_id)
    rows = session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
    return [TokenRead.model_validate(r) for r in rows]


def revoke_token(session: Session, actor: Actor | None, token_id: str) -> TokenRead:
    token = session.get(ApiToken, token_id)
    user = session.get(User, token.user_id) if token else None
    if token is None or user is None:
        raise not_found("token", token_id)
    try:
        _require_token_manager(session, actor, user, token_id)
    except (Forbidden, NotFound):
        # Someone else's token is reported as a token that does not exist, not as a user.
        raise not_found("token", token_id) from None
    before = TokenRead.model_validate(token)
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    after = TokenRead.model_validate(token)
    audit.record(session, actor, "token.revoke", "token", token.id, org_id=user.org_id, before=before, after=after)
    return after


def revoke_tokens_named(session: Session, actor: Actor | None, user_id: str, name: str) -> int:
    ids = session.scalars(
        sa.select(ApiToken.id).where(
            ApiToken.user_id == user_id, ApiToken.name == name, ApiToken.revoked_at.is_(None)
        )
    ).all()
    for token_id in ids:
        revoke_token(session, actor, token_id)
    return len(ids)


# --- passwords and console sessions -----------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200
CONSOLE_SESSION_LIFETIME = timedelta(hours=12)
_passwords = PasswordHasher()  # argon2id with RFC 9106's low-memory parameters (64 MiB, 3 passes)
SIGN_IN_REFUSED = "The e-mail or the password is wrong."
# Failed sign-ins allowed per e-mail, and per client address (higher: an office behind one NAT
# address shares it), within the sliding window; then sign-in is refused until failures age out.
SIGN_IN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
SIGN_IN_LOCKED = "Too many failed sign-ins: try again in {minutes} minutes."


def set_password(session: Session, actor: Actor | None, user_id: str, password: str) -> UserRead:
    """A user sets their own password; org admins and the operator set their users' (`actor=None`:
    the platform's own machine). Ends the user's console sessions."""
    user = session.get(User, user_id)
    _require_token_manager(session, actor, user, user_id)
    assert user is not None
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise invalid_parameter(
            "password", "set_password", f"between {MIN_PASSWORD_LENGTH} and {MAX_PASSWORD_LENGTH} characters",
            f"{len(password)} characters",
        )
    user.password_hash = _passwords.hash(password)
    _end_sessions_of(session, user.id)
    session.flush()
    audit.record(session, actor, "user.set_password", "user", user.id, org_id=user.org_id)
    return UserRead.model_validate(user)


def _end_sessions_of(session: Session, user_id: str) -> None:
    session.execute(
        sa.update(ConsoleSession)
        .where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


@functools.cache
def _decoy_hash() -> str:
    """Verified against when the e-mail is unknown, so a wrong e-mail costs as long as a wrong password."""
    return _passwords.hash(secrets.token_urlsafe(16))


def verify_password(session: Session, email: str, password: str) -> Actor:
    """The actor whose e-mail and password these are; Unauthenticated (one message for every
    cause, so the answer never tells which e-mails exist) otherwise."""
    if len(password) > MAX_PASSWORD_LENGTH or len(email) > 254:
        raise Unauthenticated(SIGN_IN_REFUSED)
    user = session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    stored = user.password_hash if user is not None and user.disabled_at is None else None
    try:
        _passwords.verify(stored or _decoy_hash(), password)
    except (VerificationError, InvalidHashError):
        raise Unauthenticated(SIGN_IN_REFUSED) from None
    if user is None or stored is None:
        raise Unauthenticated(SIGN_IN_REFUSED)
    if _passwords.check_needs_rehash(stored):
        user.password_hash = _passwords.hash(password)
    return actor_for(user)


@dataclass(frozen=True)
class ConsoleSignIn:
    """A signed-in browser: `secret` goes into its cookie once and is never stored."""

    actor: Actor
    session_id: str
    secret: str
    csrf_token: str
    expires_at: datetime


def sign_in(session: Session, email: str, password: str, *, client: str = "") -> ConsoleSignIn:
    """Check the password and open a console session for a browser at address `client`.

    Refused with RateLimited, before the password is even checked, while the e-mail or the client
    address has too many recent failures. A wrong password is stored as a failure and raises
    Unauthenticated: the caller catches it inside its transaction so that the failure is kept.
    Each attempt also deletes expired sessions and failures older than the window.
    """
    now = utcnow()
    delete_expired_console_sessions(session, now)
    email_key, client_key = _hash(email.strip().lower()), _hash(client)
    _refuse_while_limited(session, email_key, client_key, now)
    try:
        actor = verify_password(session, email, password)
    except Unauthenticated:
        session.add(SignInFailure(id=new_id("sif"), email_hash=email_key, client_hash=client_key, failed_at=now))
        session.flush()
        raise
    # The right password shows the earlier failures for this e-mail were the owner's typos.
    session.execute(sa.delete(SignInFailure).where(SignInFailure.email_hash == email_key))
    secret = secrets.token_urlsafe(32)
    row = ConsoleSession(
        id=new_id("ses"), secret_hash=_hash(secret), user_id=actor.user_id, csrf_token=secrets.token_urlsafe(32),
        expires_at=now + CONSOLE_SESSION_LIFETIME,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "session.start", "console_session", row.id, org_id=actor.org_id)
    return ConsoleSignIn(actor, row.id, secret, row.csrf_token, row.expires_at)


def _refuse_while_limited(session: Session, email_key: str, client_key: str, now: datetime) -> None:
    """RateLimited, saying when to try again, while either count has reached its limit in the window."""
    waits = []
    for column, key, limit in (
        (SignInFailure.email_hash, email_key, MAX_FAILURES_PER_EMAIL),
        (SignInFailure.client_hash, client_key, MAX_FAILURES_PER_CLIENT),
    ):
        recent = session.scalars(
            sa.select(SignInFailure.failed_at)
            .where(column == key, SignInFailure.failed_at > now - SIGN_IN_WINDOW)
            .order_by(SignInFailure.failed_at.desc())
            .limit(limit)
        ).all()
        if len(recent) >= limit:  # the limit lifts when the oldest of these leaves the window
            waits.append((recent[-1] + SIGN_IN_WINDOW - now).total_seconds())
    if waits:
        retry_after = max(1.0, max(waits))
        raise RateLimited(SIGN_IN_LOCKED.format(minutes=math.ceil(retry_after / 60)), retry_after=retry_after)


def delete_expired_console_sessions(session: Session, now: datetime | None = None) -> int:
    """Delete console sessions that expired or were ended, and sign-in failures past the rate
    limit's window; how many sessions went. Called on every sign-in; safe to call periodically."""
    now = now or utcnow()
    session.execute(sa.delete(SignInFailure).where(SignInFailure.failed_at <= now - SIGN_IN_WINDOW))
    deleted = session.execute(
        sa.delete(ConsoleSession).where(sa.or_(ConsoleSession.expires_at <= now, ConsoleSession.ended_at.is_not(None)))
    )
    return int(deleted.rowcount or 0)


def console_session(session: Session, secret: str) -> ConsoleSignIn:
    """The open session a cookie's secret stands for; Unauthenticated when unknown, ended or expired."""
    row = session.scalar(sa.select(ConsoleSession).where(ConsoleSession.secret_hash == _hash(secret))) if len(secret) <= 100 else None
    if row is None or row.ended_at is not None or row.expires_at <= utcnow():
        raise Unauthenticated("The console session is unknown, ended or expired; sign in again.")
    return ConsoleSignIn(actor_for_user_id(session, row.user_id), row.id, secret, row.csrf_token, row.expires_at)


def sign_out(session: Session, secret: str) -> None:
    """End the session the secret stands for; nothing happens for an unknown one."""
    row = session.scalar(sa.select(ConsoleSession).where(ConsoleSession.secret_hash == _hash(secret)))
    if row is None or row.ended_at is not None:
        return
    row.ended_at = utcnow()
    session.flush()
    user = session.get(User, row.user_id)
    audit.record(session, actor_for(user) if user else None, "session.end", "console_session", row.id,
                 org_id=user.org_id if user else None)


# --- bootstrap --------------------------------------------------------------------------------

OPERATOR_ORG_NAME = "aicommons"
INIT_TOKEN_NAME = "init"


def bootstrap_operator(session: Session, admin_email: str) -> tuple[UserRead, TokenCreated]:
    """Create the operator org and its admin if absent; rotate the admin's `init` token."""
    org = session.scalar(sa.select(Org).where(Org.kind == OrgKind.operator.value).order_by(Org.id).limit(1))
    org_id = org.id if org else create_org(
        session, None, OrgCreate(name=OPERATOR_ORG_NAME, kind=OrgKind.operator, visibility="public")
    ).id
    user = session.scalar(sa.select(User).where(User.email == admin_email.strip().lower()))
    if user is None:
        admin = create_user(
            session,
            None,
            UserCreate(
                email=admin_email,
                org_id=org_id,
                org_role=OrgRole.admin,
                display_name="Platform administrator",
                platform_roles=[PlatformRole.operator],
            ),
        )
    else:
        admin = UserRead.model_validate(user)
    revoke_tokens_named(session, None, admin.id, INIT_TOKEN_NAME)
    token = create_token(session, None, admin.id, TokenCreate(name=INIT_TOKEN_NAME))
    return admin, token
