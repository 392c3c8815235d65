"""Console fixtures: members with passwords, and signed-in HTTPS test clients (the console's
cookies are Secure, so the clients speak https://testserver)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from consolekit import give_password, sign_in
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
