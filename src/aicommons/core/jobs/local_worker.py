"""Entry point of one local worker process: `python -m aicommons.core.jobs.local_worker WORKER_ID`.

Settings arrive as JSON in the environment; stdin carries wake-ups, and its end means stop.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

from aicommons.core.config import Settings
from aicommons.core.jobs.local import SETTINGS_ENV
from aicommons.core.jobs.worker import WorkerLoop
from aicommons.core.runtime import Runtime


def _listen(stop: threading.Event, wake: threading.Event) -> None:
    while os.read(sys.stdin.fileno(), 64):
        wake.set()
    stop.set()  # the supervisor closed our stdin, or died
    wake.set()


def main(worker_id: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the server, which stops us cleanly
    settings = Settings.model_validate_json(os.environ[SETTINGS_ENV])
    stop, wake = threading.Event(), threading.Event()
    threading.Thread(target=_listen, args=(stop, wake), daemon=True).start()
    runtime = Runtime.from_settings(settings, check=False)
    try:
        WorkerLoop(runtime, worker_id, executor="local").run(stop, wake)
    finally:
        runtime.close()


if __name__ == "__main__":
    main(sys.argv[1])
