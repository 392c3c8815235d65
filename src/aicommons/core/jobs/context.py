"""What a running job sees: its parameters, saved state, actor, and ways to report and checkpoint."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from aicommons.core.jobs import queue
from aicommons.core.jobs.types import JobCancelled, LeaseLost
from aicommons.core.permissions import Actor

if TYPE_CHECKING:
    from aicommons.core.runtime import Runtime


class JobContext:
    """Handed to every job function.

    `progress()` and `log()` are cheap (kept in memory, flushed by the heartbeat). `step()` opens
    a transaction that also saves the job's state: a job whose worker dies resumes after the
    last committed step, and the step's own writes commit with it or not at all.
    """

    def __init__(self, runtime: Runtime, claim: queue.Claim, actor: Actor):
        self.runtime = runtime
        self.claim = claim
        self.actor = actor
        self.job_id = claim.job_id
        self.attempt = claim.attempt
        self.params = claim.params
        self.state: dict[str, Any] = dict(claim.state)
        self._lock = threading.Lock()
        self._progress = 0.0
        self._message = "running"
        self._log_lines: list[str] = []
        self.cancel_requested = False
        self.lease_lost = False

    # --- reporting ---

    def progress(self, fraction: float, message: str = "") -> None:
        """Report progress in [0, 1]; also the place where a cancellation is noticed."""
        with self._lock:
            self._progress = min(max(float(fraction), 0.0), 1.0)
            if message:
                self._message = message
        self.check_cancelled()

    def log(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        with self._lock:
            self._log_lines.append(f"{stamp} {message}\n")

    def check_cancelled(self) -> None:
        if self.lease_lost:
            raise LeaseLost(self.job_id)
        if self.cancel_requested:
            raise JobCancelled(self.job_id)

    def snapshot(self) -> tuple[float, str]:
        with self._lock:
            return self._progress, self._message

    def take_log(self) -> str:
        with self._lock:
            text, self._log_lines = "".join(self._log_lines), []
        return text

    # --- checkpoints ---

    @contextmanager
    def step(self, state: dict[str, Any]) -> Iterator[Session]:
        """`with ctx.step({"done": i + 1}) as session:` writes and the new state commit together.

        Do the slow work before the block and only the writes inside it: on SQLite the
        transaction holds the database's write lock until the block ends."""
        self.check_cancelled()
        with self.runtime.session() as session:
            yield session
            queue.save_state(session, self.claim, state)
        self.state = dict(state)

    def checkpoint(self, state: dict[str, Any]) -> None:
        with self.step(state):
            pass
