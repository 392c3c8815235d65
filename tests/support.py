"""Helpers for tests: auth headers and running the real `aicommons` command in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

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
        **extra,
    )
    return env


def run_cli(settings: Settings, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "aicommons.cli", *args],
        env=cli_env(settings, **extra_env), capture_output=True, text=True, timeout=120,
    )
