"""Console fixtures: members with passwords, and signed-in HTTPS test clients (the console's
cookies are Secure, so the clients speak https://testserver)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import uvicorn
from consolekit import CHROMIUM, give_password, sign_in
from fastapi.testclient import TestClient


@pytest.fixture
def passwords(runtime, world) -> None:
    """member@a.test can sign in with PASSWORD (argon2id is slow by design: one hash, not five)."""
    give_password(runtime, "member@a.test")


@pytest.fixture
def console(runtime, world) -> Iterator[Callable[[str], TestClient]]:
    """`console(email)`: a fresh client signed in as that member of the world, given PASSWORD."""
    from aicommons.api.app import create_app

    app = create_app(runtime)
    clients: list[TestClient] = []

    def signed_in(email: str) -> TestClient:
        give_password(runtime, email)
        client = TestClient(app, base_url="https://testserver")
        client.__enter__()
        clients.append(client)
        response = sign_in(client, email)
        assert response.status_code == 200 and response.url.path == "/", response.text[:500]
        return client

    yield signed_in
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def anonymous(runtime) -> Iterator[TestClient]:
    from aicommons.api.app import create_app

    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        yield client


# --- a real browser against a live server (tests marked `browser`) ---------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium under Playwright (browser tests mark themselves `browser` and skip without it)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("console-screenshots")
    print(f"\nconsole screenshots: {folder}")
    return folder


@pytest.fixture
def server(runtime, world) -> Iterator[str]:
    """The platform's app served over HTTP on a free port; `localhost`, where browsers keep Secure cookies."""
    from aicommons.api.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    live = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not live.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the console server did not start"
        time.sleep(0.05)
    yield f"http://localhost:{port}"
    live.should_exit = True
    thread.join(10)


@pytest.fixture
def page(browser, server):
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 860})
    opened = context.new_page()
    yield opened
    context.close()
