"""Helpers for console tests: the members' password, CSRF tokens from pages, signing in, counting a
page's SQL statements, the marks and Playwright of browser tests, a finished City Brain run."""

from __future__ import annotations

import gc
import os
import re
import time

import numpy as np
import pytest
from datakit import DataKit
from support import counted_statements
from fastapi.testclient import TestClient

from aicommons.core.identity import get_user_by_email, local_operator, set_password

PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by scripts/ensure-chromium.sh; no browser is ever downloaded

# A browser test module's `pytestmark`: skipped without Debian's Chromium.
BROWSER = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="no /usr/bin/chromium: run scripts/ensure-chromium.sh"),
]


def browser_test(test):
    """BROWSER's marks on one test, for a module whose other tests need no browser."""
    for mark in BROWSER:
        test = mark(test)
    return test


# The iris endpoint's records (the `iris` fixture) and the labels its model answers with.
IRIS_FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_SPECIES = np.array(["setosa", "versicolor", "virginica"])


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


def playwright_expect():
    """Playwright's `expect`; called at a browser test module's top, it skips the module where Playwright is not installed."""
    return pytest.importorskip("playwright.sync_api").expect


def submit_sign_in(page, email: str, password: str) -> None:
    """Fill in the browser's sign-in form (in Chinese, the default language) and send it."""
    page.get_by_label("电子邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def sign_in_page(page, runtime, email: str = "member@a.test") -> None:
    """Sign in through the browser's sign-in form."""
    give_password(runtime, email)
    page.goto("/")
    submit_sign_in(page, email, PASSWORD)
    page.wait_for_url("**/")


def counted_page(client: TestClient, engine, path: str, **params) -> tuple[str, int, float]:
    """GET a page twice, the first to warm up (templates compiled, connection pooled); the second must
    answer 200: its text, how many SQL statements it took and how many seconds.

    The garbage collector is paused while the second is timed, as `timeit` does: a full collection
    of the test process's heap (gigabytes after the model and browser tests) can take seconds, and
    is not the page's cost."""
    params = params or None  # no {}: it would drop a query string in `path`
    client.get(path, params=params)
    gc.collect()
    gc.disable()
    try:
        with counted_statements(engine) as statements:
            started = time.perf_counter()
            response = client.get(path, params=params)
            elapsed = time.perf_counter() - started
    finally:
        gc.enable()
    assert response.status_code == 200, response.text[:300]
    return response.text, len(statements), elapsed


def finished_run(runtime, actor, grid, **spec) -> str:
    """The id of a City Brain run over `grid` (its network and routes files), the rest of its RunCreate
    in `spec`, simulated to the end in this process."""
    from aicommons.scenarios.citybrain import runs
    from aicommons.scenarios.citybrain.schemas import RunCreate

    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, *grid)
    with runtime.session() as session:
        queued = runs.start_run(
            session, runtime.blobs, actor, RunCreate(net_sha256=net_sha256, routes_sha256=routes_sha256, **spec)
        )
    job = DataKit(runtime, actor).run(type("Job", (), {"id": queued.job_id}))
    assert job.status == "succeeded", job.error
    return queued.id
