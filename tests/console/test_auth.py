"""Passwords, sign-in and sign-out, sessions and CSRF: through the kernel's functions, the
console's forms and the CLI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from consolekit import PASSWORD, csrf_of, sign_in
from support import assert_db_unchanged, cli_env, db_state

from aicommons.core import identity
from aicommons.core.errors import Forbidden, Invalid, NotFound, Unauthenticated
from aicommons.core.tables import ConsoleSession, User


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


def test_a_bad_sign_in_says_so_next_to_the_password_and_changes_nothing(anonymous, passwords, runtime):
    before = db_state(runtime)
    response = sign_in(anonymous, "member@a.test", "not the password")
    assert response.status_code == 400
    assert '<p id="password-error" class="field-error" role="alert">电子邮箱或密码错误。</p>' in response.text
    assert 'value="member@a.test"' in response.text and "aic_session" not in anonymous.cookies
    assert_db_unchanged(before, db_state(runtime))


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

