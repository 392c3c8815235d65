"""The worker loop: claim a job, run its function with a heartbeat beside it, record the outcome.

It is executor-agnostic: the local executor runs it in worker processes, a Ray executor would run
it in Ray actors, with the same job contract.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core.errors import AicommonsError
from aicommons.core.identity import actor_for_user_id
from aicommons.core.jobs import queue
from aicommons.core.jobs.context import JobContext
from aicommons.core.jobs.types import JobCancelled, LeaseLost, job_types
from aicommons.core.registry import load_plugins
from aicommons.core.runtime import Runtime
from aicommons.core.tables import JobLogChunk

IDLE_POLL_S = 1.0


def new_worker_id(executor: str) -> str:
    return f"{executor}:{socket.gethostname()}:{os.urandom(4).hex()}"


class WorkerLoop:
    def __init__(self, runtime: Runtime, worker_id: str, *, executor: str = "local"):
        self.runtime = runtime
        self.worker_id = worker_id
        self.executor = executor
        load_plugins(runtime.settings.plugins)

    def announce(self) -> None:
        with self.runtime.session() as session:
            queue.announce_worker(session, self.worker_id, self.executor, socket.gethostname(), os.getpid())

    def run(self, stop: threading.Event | Any, wake: threading.Event | Any | None = None) -> None:
        """Run jobs until `stop` is set; `wake` (optional) cuts an idle wait short."""
        self.announce()
        threading.Thread(target=self._keep_announcing, args=(stop,), name="worker-announce", daemon=True).start()
        while not stop.is_set():
            if self.run_one():
                continue
            if wake is not None:
                wake.wait(IDLE_POLL_S)
                wake.clear()
            else:
                stop.wait(IDLE_POLL_S)
        with self.runtime.session() as session:
            queue.forget_worker(session, self.worker_id)

    def _keep_announcing(self, stop: threading.Event | Any) -> None:
        # On its own thread, so a worker busy with a long job still counts as alive.
        while not stop.wait(self.runtime.settings.heartbeat_s):
            self.announce()

    def run_one(self) -> bool:
        """Claim and run one job; False when none was ready."""
        with self.runtime.session() as session:
            claim = queue.claim_next(session, self.worker_id)
        if claim is None:
            return False
        self.execute(claim)
        return True

    def execute(self, claim: queue.Claim) -> None:
        with self.runtime.session() as session:
            actor = actor_for_user_id(session, claim.created_by)
        ctx = JobContext(self.runtime, claim, actor)
        beat = _Heartbeat(self.runtime, ctx)
        beat.start()
        outcome: dict[str, Any]
        try:
            spec = job_types.get(claim.type)
            result = spec.function(ctx, spec.parse(claim.params))
            outcome = {"status": "succeeded", "result": result or {}}
        except JobCancelled:
            ctx.log("cancelled")
            outcome = {"status": "cancelled"}
        except LeaseLost:
            beat.stop()
            return  # another worker owns the job now; it records the outcome
        except Exception as exc:  # noqa: BLE001 - any failure of job code is the job's failure
            error = exc.message if isinstance(exc, AicommonsError) else queue.format_error(exc)
            ctx.log(f"attempt {claim.attempt} failed:\n{queue.format_error(exc)}")
            outcome = {"status": "failed", "error": error}
            if claim.attempt < claim.max_attempts:
                backoff = self.runtime.settings.retry_backoff_s * 2 ** (claim.attempt - 1)
                outcome["retry_in_s"] = backoff
        beat.stop()
        try:
            with self.runtime.session() as session:
                flush_log(session, self.runtime, claim.job_id, ctx.take_log())
                queue.finish(session, claim, **outcome)
        except LeaseLost:
            pass


def flush_log(session: Session, runtime: Runtime, job_id: str, text: str) -> None:
    """Store new log text as a blob chunk of the job's log."""
    if not text:
        return
    ref = runtime.blobs.put_bytes(text.encode())
    seq = session.scalar(sa.select(sa.func.coalesce(sa.func.max(JobLogChunk.seq), 0)).where(JobLogChunk.job_id == job_id))
    session.add(JobLogChunk(job_id=job_id, seq=seq + 1, blob_sha256=ref.sha256, size=ref.size))


class _Heartbeat:
    """Beside a running job: records liveness, progress and logs; notices cancellation."""

    def __init__(self, runtime: Runtime, ctx: JobContext):
        self.runtime = runtime
        self.ctx = ctx
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{ctx.job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.runtime.settings.heartbeat_s):
            progress, message = self.ctx.snapshot()
            try:
                with self.runtime.session() as session:
                    flush_log(session, self.runtime, self.ctx.job_id, self.ctx.take_log())
                    if queue.heartbeat(session, self.ctx.claim, progress, message):
                        self.ctx.cancel_requested = True
            except LeaseLost:
                self.ctx.lease_lost = True
                return
