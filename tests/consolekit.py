"""Helpers for console tests: the members' password, CSRF tokens from pages, signing in."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from aicommons.core.identity import get_user_by_email, local_operator, set_password

PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by scripts/ensure-chromium.sh; no browser is ever downloaded


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD):
    token = csrf_of(client.get("/sign-in").text)
    return client.post("/sign-in", data={"csrf_token": token, "email": email, "password": password, "next": "/"})


def give_password(runtime, email: str) -> None:
    """Set PASSWORD for the user with this e-mail, as the platform's own machine does (`aicommons user set-password`)."""
    with runtime.session() as session:
        set_password(session, None, get_user_by_email(session, local_operator(session), email).id, PASSWORD)


def sign_in_page(page, runtime, email: str = "member@a.test") -> None:
    """Sign in through the browser's sign-in form (in Chinese, the default language)."""
    give_password(runtime, email)
    page.goto("/")
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/")
