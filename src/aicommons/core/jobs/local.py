"""The local executor: worker processes on this machine, watched by a supervisor thread.

The supervisor respawns a worker that dies and re-queues the job it held at once; jobs whose
heartbeat went silent (a whole server killed, say) are re-queued after `lost_after_s`. Workers
are spawned (not forked) and die with their parent, so a killed server leaves no orphans
running jobs nobody watches.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from typing import Any

from aicommons.core.config import Settings
from aicommons.core.jobs import queue
from aicommons.core.jobs.types import executors
from aicommons.core.jobs.worker import WorkerLoop, new_worker_id
from aicommons.core.runtime import Runtime

SUPERVISE_EVERY_S = 0.5


@dataclass
class _Slot:
    worker_id: str
    process: BaseProcess


class LocalExecutor:
    def __init__(self, runtime: Runtime, workers: int | None = None):
        self.runtime = runtime
        self.count = runtime.settings.workers if workers is None else workers
        self._mp = multiprocessing.get_context("spawn")
        self._stop = self._mp.Event()
        self._wake = self._mp.Event()
        self._slots: list[_Slot] = []
        self._supervisor: threading.Thread | None = None
        self._halt = threading.Event()

    def start(self) -> None:
        self._recover_lost()
        self._slots = [self._spawn() for _ in range(self.count)]
        self.runtime.on_jobs_queued.append(self.wake)
        self._supervisor = threading.Thread(target=self._supervise, name="job-supervisor", daemon=True)
        self._supervisor.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._halt.set()
        self._stop.set()
        self._wake.set()
        if self._supervisor is not None:
            self._supervisor.join()
        deadline = time.monotonic() + timeout
        for slot in self._slots:
            slot.process.join(max(0.0, deadline - time.monotonic()))
        for slot in self._slots:
            if slot.process.is_alive():
                slot.process.kill()
                slot.process.join()
                self._release(slot.worker_id)
        if self.wake in self.runtime.on_jobs_queued:
            self.runtime.on_jobs_queued.remove(self.wake)

    @property
    def worker_pids(self) -> list[int]:
        return [slot.process.pid for slot in self._slots if slot.process.pid]

    def _spawn(self) -> _Slot:
        worker_id = new_worker_id("local")
        settings = self.runtime.settings.model_dump(mode="json")
        process = self._mp.Process(
            target=_worker_main,
            args=(settings, worker_id, self._stop, self._wake, os.getpid()),
            name=f"aicommons-worker-{worker_id}",
            daemon=True,
        )
        process.start()
        return _Slot(worker_id, process)

    def _supervise(self) -> None:
        last_sweep = time.monotonic()
        while not self._halt.wait(SUPERVISE_EVERY_S):
            for index, slot in enumerate(self._slots):
                if not slot.process.is_alive() and not self._halt.is_set():
                    self._release(slot.worker_id)
                    self._slots[index] = self._spawn()
            if time.monotonic() - last_sweep > self.runtime.settings.lost_after_s / 2:
                self._recover_lost()
                last_sweep = time.monotonic()

    def _release(self, worker_id: str) -> None:
        """A worker died: its job goes back to the queue now, not after the silence timeout."""
        with self.runtime.session() as session:
            if queue.requeue_lost(session, lost_after_s=0, worker_id=worker_id):
                session.info["jobs_queued"] = True
            queue.forget_worker(session, worker_id)

    def _recover_lost(self) -> None:
        with self.runtime.session() as session:
            if queue.requeue_lost(session, lost_after_s=self.runtime.settings.lost_after_s):
                session.info["jobs_queued"] = True


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: the kernel kills us when the parent dies
    except OSError:
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _worker_main(settings: dict[str, Any], worker_id: str, stop: Any, wake: Any, parent_pid: int) -> None:
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server, which stops us cleanly
    runtime = Runtime.from_settings(Settings(**settings), check=False)
    try:
        WorkerLoop(runtime, worker_id, executor="local").run(stop, wake)
    finally:
        runtime.close()


executors.add("local", LocalExecutor)
