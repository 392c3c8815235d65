"""Helpers for tests: auth headers and running the real `aicommons` command in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from aicommons.core.config import Settings


def auth(member: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {member.token}"}


def cli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """Environment for running `aicommons` in a subprocess against the test's home and database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AICOMMONS_")}
    env.update(
        AICOMMONS_HOME=str(settings.home),
        AICOMMONS_DATABASE_URL=settings.resolved_database_url,
        AICOMMONS_BLOB_URL=settings.resolved_blob_url,
        AICOMMONS_HEARTBEAT_S=str(settings.heartbeat_s),
        AICOMMONS_LOST_AFTER_S=str(settings.lost_after_s),
        AICOMMONS_RETRY_BACKOFF_S=str(settings.retry_backoff_s),
        AICOMMONS_BUILTIN_DATASETS=str(settings.builtin_datasets).lower(),
        **extra,
    )
    return env


def run_cli(settings: Settings, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aicommons.cli", *args],
        env=cli_env(settings, **extra_env), capture_output=True, text=True, timeout=120,
    )


def db_state(runtime: Any) -> dict[str, tuple[int, str]]:
    """Every kernel table's row count and a digest of its rows, to show a request changed nothing.

    `api_tokens.last_used_at` is left out: authenticating a request may touch it by design.
    """
    import hashlib

    import sqlalchemy as sa

    from aicommons.core import tables  # noqa: F401  registers the kernel's tables on Base.metadata
    from aicommons.core.db import Base

    state: dict[str, tuple[int, str]] = {}
    with runtime.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.c if not (table.name == "api_tokens" and c.name == "last_used_at")]
            rows = sorted(repr(tuple(row)) for row in connection.execute(sa.select(*columns)))
            state[table.name] = (len(rows), hashlib.sha256("\n".join(rows).encode()).hexdigest())
    missing = {"orgs", "users", "api_tokens", "jobs", "audit_entries", "shares"} - set(state)
    assert not missing, f"db_state does not see tables {sorted(missing)}"
    return state


def assert_db_unchanged(before: dict[str, tuple[int, str]], after: dict[str, tuple[int, str]]) -> None:
    counts = {name: count for name, (count, _) in before.items()}
    assert {name: count for name, (count, _) in after.items()} == counts, "row counts changed"
    changed = sorted(name for name in before if before[name][1] != after[name][1])
    assert not changed, f"rows changed in {changed}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(settings: Settings, port: int, *options: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    """A real `aicommons serve` on `port` with `options`, in its own session (so a test can kill
    it with all its children), once `/healthz` answers; its output goes to `log`, if given."""
    with open(log, "ab") if log else open(os.devnull, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "aicommons.cli", "serve", "--port", str(port), *options],
            env=cli_env(settings), stdout=output, stderr=output, start_new_session=True,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)
    raise AssertionError("the server did not start")


@contextmanager
def counted_statements(engine) -> Iterator[list[str]]:
    """The SQL statements the engine sends while the block runs."""
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
