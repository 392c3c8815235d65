"""Passwords, sign-in and sign-out, sessions and CSRF: through the kernel's functions, the
console's forms and the CLI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from consolekit import PASSWORD, csrf_of, give_password, sign_in
from support import assert_db_unchanged, cli_env, db_state

from aicommons.core import identity
from aicommons.core.db import utcnow
from aicommons.core.errors import (
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthenticated,
)
from aicommons.core.tables import ConsoleSession, SignInFailure, User


def test_a_password_is_stored_as_an_argon2id_hash_and_verified(runtime, world):
    with runtime.session() as session:
        identity.set_password(session, world.a_member.actor, world.a_member.actor.user_id, PASSWORD)
    with runtime.session() as session:
        stored = session.get(User, world.a_member.actor.user_id).password_hash
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert identity.verify_password(session, "Member@A.test ", PASSWORD).user_id == world.a_member.actor.user_id
        for email, password in (("member@a.test", PASSWORD + "x"), ("nobody@a.test", PASSWORD), ("admin@a.test", PASSWORD)):
            with pytest.raises(Unauthenticated, match="e-mail or the password is wrong"):
                identity.verify_password(session, email, password)


def test_who_may_set_whose_password(runtime, world):
    with runtime.session() as session:
        identity.set_password(session, world.a_admin.actor, world.a_member.actor.user_id, PASSWORD)  # an org admin
        identity.set_password(session, world.operator.actor, world.b_member.actor.user_id, PASSWORD)  # the operator
    before = db_state(runtime)
    with runtime.session() as session, pytest.raises(Forbidden):
        identity.set_password(session, world.a_member.actor, world.a_admin.actor.user_id, PASSWORD)  # a colleague
    with runtime.session() as session, pytest.raises(NotFound):
        identity.set_password(session, world.b_admin.actor, world.a_member.actor.user_id, PASSWORD)  # another org
    with runtime.session() as session, pytest.raises(Invalid, match="'password' parameter of set_password must be between 10"):
        identity.set_password(session, world.a_member.actor, world.a_member.actor.user_id, "short")
    assert_db_unchanged(before, db_state(runtime))


def test_changing_a_password_ends_the_users_console_sessions(runtime, world, passwords):
    with runtime.session() as session:
        opened = identity.sign_in(session, "member@a.test", PASSWORD)
        assert identity.console_session(session, opened.secret).actor.user_id == world.a_member.actor.user_id
    with runtime.session() as session:
        identity.set_password(session, world.a_admin.actor, world.a_member.actor.user_id, "a new long password")
    with runtime.session() as session, pytest.raises(Unauthenticated):
        identity.console_session(session, opened.secret)


def test_signing_in_sets_a_secure_http_only_lax_session_cookie(anonymous, passwords, runtime):
    response = sign_in(anonymous, "member@a.test")
    assert response.status_code == 200 and response.url.path == "/"
    cookie = response.history[0].headers["set-cookie"]
    assert "aic_session=" in cookie and "HttpOnly" in cookie and "Secure" in cookie and "SameSite=lax" in cookie
    secret = anonymous.cookies["aic_session"]
    with runtime.session() as session:
        row = session.scalar(sa.select(ConsoleSession))
        assert row.secret_hash != secret and len(row.secret_hash) == 64  # only the hash is stored
    assert "member@a.test" in anonymous.get("/profile").text


def test_a_bad_sign_in_says_so_next_to_the_password_and_changes_nothing_but_the_failure_count(anonymous, passwords, runtime):
    before = db_state(runtime)
    response = sign_in(anonymous, "member@a.test", "not the password")
    assert response.status_code == 400
    assert '<p id="password-error" class="field-error" role="alert">电子邮箱或密码错误。</p>' in response.text
    assert 'value="member@a.test"' in response.text and "aic_session" not in anonymous.cookies
    after = db_state(runtime)
    assert after.pop("sign_in_failures")[0] == before.pop("sign_in_failures")[0] + 1  # counted for the rate limit
    assert_db_unchanged(before, after)
    with runtime.session() as session:
        stored = session.scalar(sa.select(SignInFailure))
        assert "member@a.test" not in (stored.email_hash, stored.client_hash)  # digests only, never what was typed


def _fail(client, email: str, times: int) -> None:
    for _ in range(times):
        assert sign_in(client, email, "not the password").status_code == 400


def test_five_failed_sign_ins_for_an_e_mail_lock_it_for_fifteen_minutes(anonymous, passwords, runtime, world):
    _fail(anonymous, "member@a.test", identity.MAX_FAILURES_PER_EMAIL)
    before = db_state(runtime)
    refused = sign_in(anonymous, "member@a.test")  # even the right password, while locked
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 14 * 60
    assert '<p id="password-error" class="field-error" role="alert">登录失败次数过多，请 15 分钟后再试。</p>' in refused.text
    assert "aic_session" not in anonymous.cookies
    assert_db_unchanged(before, db_state(runtime))  # a refused attempt is not counted again
    # Other e-mails from elsewhere still sign in; the lock lifts once the failures age out.
    give_password(runtime, "admin@a.test")
    with runtime.session() as session:
        assert identity.sign_in(session, "admin@a.test", PASSWORD, client="10.0.0.9").actor.email == "admin@a.test"
        session.execute(sa.update(SignInFailure).values(failed_at=utcnow() - identity.SIGN_IN_WINDOW))
    assert sign_in(anonymous, "member@a.test").url.path == "/"


def test_english_visitors_read_the_lock_in_english(anonymous, passwords):
    _fail(anonymous, "member@a.test", identity.MAX_FAILURES_PER_EMAIL)
    anonymous.post("/language", data={"csrf_token": csrf_of(anonymous.get("/sign-in").text), "language": "en", "next": "/sign-in"})
    refused = sign_in(anonymous, "member@a.test")
    assert refused.status_code == 429 and "Too many failed sign-ins: try again in 15 minutes." in refused.text


def test_a_client_address_trying_many_e_mails_is_locked_out(runtime, world, passwords):
    with runtime.session() as session:
        for index in range(identity.MAX_FAILURES_PER_CLIENT):
            with pytest.raises(Unauthenticated):
                identity.sign_in(session, f"guess{index}@a.test", PASSWORD, client="203.0.113.7")
    with runtime.session() as session, pytest.raises(RateLimited, match="try again in 15 minutes") as refused:
        identity.sign_in(session, "member@a.test", PASSWORD, client="203.0.113.7")
    assert 14 * 60 < refused.value.retry_after <= 15 * 60
    with runtime.session() as session:  # the same member from another address is not held up
        assert identity.sign_in(session, "member@a.test", PASSWORD, client="198.51.100.1").actor.email == "member@a.test"


def test_a_successful_sign_in_forgets_the_e_mails_earlier_failures(anonymous, passwords, runtime):
    _fail(anonymous, "member@a.test", identity.MAX_FAILURES_PER_EMAIL - 1)
    assert sign_in(anonymous, "member@a.test").url.path == "/"
    with runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(SignInFailure)) == 0


def test_signing_in_deletes_expired_and_ended_console_sessions(runtime, world, passwords):
    with runtime.session() as session:
        expired = identity.sign_in(session, "member@a.test", PASSWORD)
        ended = identity.sign_in(session, "member@a.test", PASSWORD)
        kept = identity.sign_in(session, "member@a.test", PASSWORD)
        session.execute(sa.update(ConsoleSession).where(ConsoleSession.id == expired.session_id).values(expires_at=utcnow()))
    with runtime.session() as session:
        identity.sign_out(session, ended.secret)
    with runtime.session() as session:
        fresh = identity.sign_in(session, "member@a.test", PASSWORD)
    with runtime.session() as session:
        left = set(session.scalars(sa.select(ConsoleSession.id)))
        assert left == {kept.session_id, fresh.session_id}
        assert identity.delete_expired_console_sessions(session, utcnow() + identity.CONSOLE_SESSION_LIFETIME) == 2


def test_pages_for_members_send_strangers_to_sign_in(anonymous):
    for path in ("/", "/datasets", "/models", "/profile"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == f"/sign-in?next={path}"


def test_next_never_leaves_the_site(anonymous, passwords):
    token = csrf_of(anonymous.get("/sign-in").text)
    response = anonymous.post("/sign-in", data={"csrf_token": token, "email": "member@a.test", "password": PASSWORD,
                                                "next": "//evil.example/x"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_forms_without_the_csrf_token_are_refused_and_change_nothing(console, runtime):
    client, other = console("member@a.test"), console("admin@a.test")
    before = db_state(runtime)
    for data in ({"name": "sneaky"}, {"name": "sneaky", "csrf_token": "forged"}):
        response = client.post("/profile/tokens", data=data)
        assert response.status_code == 403 and "security token" in response.text
    # A token from another visitor's page is no good either: it is bound to that visitor's session.
    response = client.post("/profile/tokens", data={"name": "sneaky", "csrf_token": csrf_of(other.get("/profile").text)})
    assert response.status_code == 403
    assert_db_unchanged(before, db_state(runtime))


def test_signing_in_without_the_csrf_cookie_is_refused(anonymous, passwords, runtime):
    before = db_state(runtime)
    response = anonymous.post("/sign-in", data={"csrf_token": "made-up", "email": "member@a.test", "password": PASSWORD})
    assert response.status_code == 403
    assert_db_unchanged(before, db_state(runtime))


def test_signing_out_ends_the_session_on_the_server(console, runtime):
    client = console("member@a.test")
    secret = client.cookies["aic_session"]
    response = client.post("/sign-out", data={"csrf_token": csrf_of(client.get("/profile").text)})
    assert response.url.path == "/sign-in"
    with runtime.session() as session, pytest.raises(Unauthenticated):
        identity.console_session(session, secret)
    client.cookies.set("aic_session", secret, domain="testserver")  # a copied cookie no longer works
    assert client.get("/profile", follow_redirects=False).status_code == 303


def test_the_cli_sets_a_password(settings, runtime, world):
    from typer.testing import CliRunner

    from aicommons.cli.main import app

    result = CliRunner().invoke(app, ["--as", "admin@a.test", "user", "set-password", "member@a.test", "--password", "cli set password"],
                                env=cli_env(settings))
    assert result.exit_code == 0, result.output
    with runtime.session() as session:
        assert identity.verify_password(session, "member@a.test", "cli set password").user_id == world.a_member.actor.user_id
    refused = CliRunner().invoke(app, ["--as", "member@a.test", "user", "set-password", "admin@a.test", "--password", "cli set password"],
                                 env=cli_env(settings))
    assert refused.exit_code != 0 and "may not admin user" in refused.output

