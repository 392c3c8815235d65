"""Metering: calls, rows and compute-seconds per endpoint, calling org and minute.

Requests add to an in-memory tally (cheap, under a lock); a background thread writes it to the
database every few seconds and at shutdown. A failed write keeps the tally for the next try, so
usage is late rather than lost; a crash of the process loses at most the last few seconds.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from aicommons.core.runtime import Runtime
from aicommons.serving.endpoints import UsageDelta, record_usage

log = logging.getLogger("aicommons.serving")


class Meter:
    def __init__(self, runtime: Runtime, *, flush_every_s: float = 2.0):
        self.runtime = runtime
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, datetime], UsageDelta] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, args=(flush_every_s,), name="aicommons-meter", daemon=True)
        self._thread.start()

    def add(self, endpoint_id: str, org_id: str, *, rows: int, compute_seconds: float, error: bool = False) -> None:
        minute = datetime.now(UTC).replace(second=0, microsecond=0)
        key = (endpoint_id, org_id, minute)
        with self._lock:
            delta = self._pending.get(key)
            if delta is None:
                delta = self._pending[key] = UsageDelta(endpoint_id, org_id, minute)
            delta.calls += 1
            delta.rows += rows
            delta.errors += int(error)
            delta.compute_seconds += compute_seconds

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return
        try:
            with self.runtime.session() as session:
                record_usage(session, list(pending.values()))
        except Exception:
            log.exception("metering write failed; keeping %d rows for the next flush", len(pending))
            with self._lock:
                for key, delta in pending.items():
                    kept = self._pending.setdefault(key, UsageDelta(delta.endpoint_id, delta.org_id, delta.minute))
                    kept.calls += delta.calls
                    kept.rows += delta.rows
                    kept.errors += delta.errors
                    kept.compute_seconds += delta.compute_seconds

    def _loop(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.flush()
