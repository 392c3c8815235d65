"""The local executor: worker processes on this machine, watched by a supervisor thread.

Workers are separate `python -m aicommons.core.jobs.local_worker` processes (no fork of a
threaded server, no re-import of the caller's main module). Each worker's stdin is its line to
the supervisor: a byte wakes it when jobs are queued, end-of-file tells it to stop. Workers die
with the supervisor (PR_SET_PDEATHSIG), so a killed server leaves no orphans running jobs.

The supervisor respawns a worker that dies and re-queues the job it held at once; jobs whose
heartbeat went silent (a whole server killed, say) are re-queued after `lost_after_s`.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from aicommons.core.jobs import queue
from aicommons.core.jobs.types import executors
from aicommons.core.jobs.worker import new_worker_id
from aicommons.core.runtime import Runtime

SUPERVISE_EVERY_S = 0.5
SETTINGS_ENV = "AICOMMONS_WORKER_SETTINGS"


@dataclass
class _Slot:
    worker_id: str
    process: subprocess.Popen[bytes]


class LocalExecutor:
    def __init__(self, runtime: Runtime, workers: int | None = None):
        self.runtime = runtime
        self.count = runtime.settings.workers if workers is None else workers
        self._slots: list[_Slot] = []
        self._lock = threading.RLock()  # a commit inside the lock may call wake()
        self._halt = threading.Event()
        self._stop_timeout = 10.0
        self._supervisor: threading.Thread | None = None

    def start(self) -> None:
        self._recover_lost()
        self._supervisor = threading.Thread(target=self._supervise, name="job-supervisor", daemon=True)
        self._supervisor.start()
        self.runtime.on_jobs_queued.append(self.wake)

    def wake(self) -> None:
        with self._lock:
            for slot in self._slots:
                try:
                    assert slot.process.stdin is not None
                    slot.process.stdin.write(b"w")
                    slot.process.stdin.flush()
                except (BrokenPipeError, OSError, ValueError):
                    pass  # a dead worker; the supervisor replaces it

    def stop(self, timeout: float = 10.0) -> None:
        """Let running jobs finish for up to `timeout` seconds, then kill them; they are re-queued."""
        if self.wake in self.runtime.on_jobs_queued:
            self.runtime.on_jobs_queued.remove(self.wake)
        self._stop_timeout = timeout
        self._halt.set()
        if self._supervisor is not None:
            self._supervisor.join()

    @property
    def worker_pids(self) -> list[int]:
        with self._lock:
            return [slot.process.pid for slot in self._slots]

    def _spawn(self) -> _Slot:
        worker_id = new_worker_id("local")
        env = dict(os.environ, **{SETTINGS_ENV: self.runtime.settings.model_dump_json()})
        process = subprocess.Popen(
            [sys.executable, "-m", "aicommons.core.jobs.local_worker", worker_id],
            stdin=subprocess.PIPE,
            env=env,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, async-signal-safe
        )
        return _Slot(worker_id, process)

    def _supervise(self) -> None:
        # Spawned from this thread: PR_SET_PDEATHSIG follows the spawning thread, which lives
        # exactly as long as the executor runs.
        with self._lock:
            self._slots = [self._spawn() for _ in range(self.count)]
        last_sweep = time.monotonic()
        while not self._halt.wait(SUPERVISE_EVERY_S):
            with self._lock:
                for index, slot in enumerate(self._slots):
                    if slot.process.poll() is not None:
                        self._release(slot.worker_id)
                        self._slots[index] = self._spawn()
            if time.monotonic() - last_sweep > self.runtime.settings.lost_after_s / 2:
                self._recover_lost()
                last_sweep = time.monotonic()
        self._shut_down()

    def _shut_down(self) -> None:
        # Runs on the supervisor thread: were it to exit first, PR_SET_PDEATHSIG would kill the
        # workers at once instead of letting them finish.
        with self._lock:
            for slot in self._slots:
                _close_quietly(slot.process)
            deadline = time.monotonic() + self._stop_timeout
            for slot in self._slots:
                try:
                    slot.process.wait(max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    slot.process.kill()
                    slot.process.wait()
                self._release(slot.worker_id)
            self._slots = []

    def _release(self, worker_id: str) -> None:
        """A worker died: its job goes back to the queue now, not after the silence timeout."""
        with self.runtime.session() as session:
            if queue.requeue_lost(session, lost_after_s=0, worker_id=worker_id):
                session.info["jobs_queued"] = True
            queue.forget_worker(session, worker_id)

    def _recover_lost(self) -> None:
        lost_after_s = self.runtime.settings.lost_after_s
        with self.runtime.session() as session:
            if queue.requeue_lost(session, lost_after_s=lost_after_s):
                session.info["jobs_queued"] = True
            queue.forget_silent_workers(session, silent_for_s=lost_after_s * 4)


def _close_quietly(process: subprocess.Popen[bytes]) -> None:
    try:
        if process.stdin is not None:
            process.stdin.close()
    except OSError:
        pass


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass  # not Linux: workers still stop when their stdin closes


executors.add("local", LocalExecutor)
