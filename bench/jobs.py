"""Job throughput and queue latency: aicommons' local executor vs a plain ProcessPoolExecutor.

Both run a no-op with 2 worker processes on this machine, in the same run.
- throughput: a burst of N no-op jobs, from the first submission to the last completion;
- queue latency: jobs submitted one at a time at a steady pace well below capacity, from
  submission to the moment a worker starts it (p50 and p99).

Ours is durable (every job is a row: queued, claimed, finished, each audited and committed to
SQLite or PostgreSQL, surviving a crash); the peer is an in-memory pipe. The ratio says what
that durability costs.

    python bench/jobs.py [--jobs 500] [--paced 200] [--database-url URL] [--json FILE]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
from reporting import Figure, arguments, report  # noqa: E402

from aicommons.core import db, jobs  # noqa: E402
from aicommons.core.config import Settings  # noqa: E402
from aicommons.core.identity import actor_for_user_id, bootstrap_operator  # noqa: E402
from aicommons.core.jobs.local import LocalExecutor  # noqa: E402
from aicommons.core.registry import load_plugins  # noqa: E402
from aicommons.core.runtime import Runtime  # noqa: E402
from aicommons.core.schemas import JobSubmit  # noqa: E402
from aicommons.core.tables import Job  # noqa: E402

WORKERS = 2


def _noop_started_at() -> float:
    return time.time()


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


# --- the peer ---------------------------------------------------------------------------------


def peer_figures(burst: int, paced: int, pace_s: float) -> tuple[float, list[float]]:
    with ProcessPoolExecutor(max_workers=WORKERS) as pool:
        for future in [pool.submit(_noop_started_at) for _ in range(WORKERS * 2)]:
            future.result()  # processes up and warm before timing, as ours are
        start = time.perf_counter()
        futures = [pool.submit(_noop_started_at) for _ in range(burst)]
        for future in futures:
            future.result()
        throughput = burst / (time.perf_counter() - start)
        latencies = []
        for _ in range(paced):
            submitted = time.time()
            latencies.append(pool.submit(_noop_started_at).result() - submitted)
            time.sleep(pace_s)
    return throughput, latencies


# --- ours -------------------------------------------------------------------------------------


def _wait_all(runtime: Runtime, ids: list[str]) -> None:
    while True:
        with runtime.session() as session:
            open_jobs = session.scalar(
                sa.select(sa.func.count()).select_from(Job).where(Job.id.in_(ids), Job.status.in_(("queued", "running")))
            )
        if not open_jobs:
            return
        time.sleep(0.01)


def _queue_latencies(runtime: Runtime, ids: list[str]) -> list[float]:
    with runtime.session() as session:
        rows = session.execute(sa.select(Job.created_at, Job.started_at).where(Job.id.in_(ids))).all()
    return [(started - created).total_seconds() for created, started in rows]


@contextmanager
def scratch_database(server_url: str, home: Path) -> Iterator[str]:
    """A new empty database: SQLite in `home`, or a throw-away database on the given server."""
    if not server_url:
        yield f"sqlite:///{home / 'aicommons.db'}"
        return
    server = make_url(server_url)
    name = f"aic_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def our_figures(database_url: str, burst: int, paced: int, pace_s: float) -> tuple[float, list[float]]:
    home = Path(tempfile.mkdtemp(prefix="aicommons-bench-"))
    with scratch_database(database_url, home) as url:
        return _run_ours(home, url, burst, paced, pace_s)


def _run_ours(home: Path, url: str, burst: int, paced: int, pace_s: float) -> tuple[float, list[float]]:
    db.upgrade(url)
    load_plugins()
    runtime = Runtime.from_settings(Settings(home=home, database_url=url, workers=WORKERS))
    with runtime.session() as session:
        admin, _ = bootstrap_operator(session, "bench@aicommons.local")
        actor = actor_for_user_id(session, admin.id)
    executor = LocalExecutor(runtime)
    executor.start()

    def submit() -> str:
        with runtime.session() as session:
            return jobs.submit_job(session, actor, JobSubmit(type="diagnostics.noop")).id

    try:
        _wait_all(runtime, [submit() for _ in range(WORKERS * 2)])  # workers up and warm
        start = time.perf_counter()
        ids = [submit() for _ in range(burst)]
        _wait_all(runtime, ids)
        throughput = burst / (time.perf_counter() - start)
        paced_ids = []
        for _ in range(paced):
            paced_ids.append(submit())
            _wait_all(runtime, paced_ids[-1:])
            time.sleep(pace_s)
        latencies = _queue_latencies(runtime, paced_ids)
    finally:
        executor.stop()
        runtime.close()
    return throughput, latencies


def main() -> None:
    parser = arguments(__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500, help="Jobs in the throughput burst.")
    parser.add_argument("--paced", type=int, default=200, help="Jobs in the paced latency run.")
    parser.add_argument("--pace-ms", type=float, default=20.0, help="Pause between paced jobs.")
    parser.add_argument("--database-url", default="", help="A PostgreSQL server to bench on (a scratch database is made); default SQLite.")
    args = parser.parse_args()
    pace_s = args.pace_ms / 1000

    ours_tp, ours_lat = our_figures(args.database_url, args.jobs, args.paced, pace_s)
    peer_tp, peer_lat = peer_figures(args.jobs, args.paced, pace_s)
    backend = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    figures = [
        Figure(f"no-op job throughput ({backend})", "jobs/s", ours_tp, peer_tp, ">= 100"),
        Figure(f"queue latency p50 ({backend})", "ms", 1000 * percentile(ours_lat, 50), 1000 * percentile(peer_lat, 50), "<= 50", False),
        Figure(f"queue latency p99 ({backend})", "ms", 1000 * percentile(ours_lat, 99), 1000 * percentile(peer_lat, 99), "<= 250", False),
    ]
    report("Jobs: aicommons local executor vs concurrent.futures.ProcessPoolExecutor", "ProcessPoolExecutor", figures, args.json)


if __name__ == "__main__":
    main()
