"""City Brain runs: one signal controller on one network and route file, simulated for each seed.

The network and routes are blobs (content-addressed), so a run names exactly what it simulated and
two runs of different controllers on the same files compare like with like. A run is refused
before anything is queued when it cannot run: an unknown controller or bad controller parameters,
missing files, a network with no signalised junction, a duration or seed count out of range. The
job materialises the two files into a scratch folder, simulates one episode per seed and saves
each finished episode in its own transaction, so a run whose worker dies resumes after the last
finished seed. The summary is mean ± std over seeds (sample std; 0 for a single seed).

An episode record may carry a `queue_timeline` (signal-control's do, see `simulation`): it is kept
out of the episode and stored beside the episodes under the results' `timelines`, by seed, so
the console can replay queue lengths over the network (`get_queue_timeline`, `get_network_map`)
while the episodes keep their metrics only.

A run has a **kind** (`run_kinds`): "signal-control" measures the controller alone; other kinds
("green-wave", "incidents") simulate something beside it, described by the run's `scenario`
parameters, and keep their own per-seed results and summary. Every kind shares the table, the
job, the listing and the refusals above.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import statistics
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, defer

from aicommons.core import audit
from aicommons.core.blobs import BlobStore, spool
from aicommons.core.db import utcnow
from aicommons.core.errors import Invalid, not_found, refusals_name
from aicommons.core.ids import new_id
from aicommons.core.jobs import JobContext, job_type, submit_job
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Actor
from aicommons.core.registry import Registry
from aicommons.core.schemas import JobSubmit, Page
from aicommons.core.tables import Job
from aicommons.scenarios.citybrain.controllers import Controller, Timing, controllers
from aicommons.scenarios.citybrain.network import read_network
from aicommons.scenarios.citybrain.policies import (
    LEARNED,
    controller_arguments,
    resolve_learned_params,
)
from aicommons.scenarios.citybrain.schemas import (
    SUMMARY_METRICS,
    ControllerRead,
    FileRead,
    MetricSummary,
    RunCreate,
    RunRead,
)
from aicommons.scenarios.citybrain.tables import CityBrainRun

KIND = "citybrain run"
JOB_TYPE = "citybrain.run"
MIN_DURATION, MAX_DURATION = 60.0, 86400.0
MAX_SEEDS = 10
NET_NAME, ROUTES_NAME = "network.net.xml", "routes.rou.xml"
MAX_FILE_BYTES = 512 << 20  # a city's hour of routes is tens of MiB; this leaves room without inviting abuse


# --- kinds -------------------------------------------------------------------------------------

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class SeedRun:
    """Everything one seed of a run needs; `controller()` builds a fresh controller each call."""

    net_file: Path
    route_file: Path
    controller: Callable[[], Controller]
    timing: Timing
    seed: int
    duration: float
    scenario: dict[str, Any]
    progress: Progress


def _fits_any_network(scenario: dict[str, Any], net_file: Path, duration: float) -> None:
    """A kind whose scenario does not depend on the network accepts every network."""


@dataclass(frozen=True)
class RunKind:
    """What a run simulates per seed, and how its seeds sum up."""

    name: str
    description: str
    check: Callable[[dict[str, Any]], dict[str, Any]]  # the scenario parameters checked, defaults filled in; Invalid if bad
    run_seed: Callable[[SeedRun], dict[str, Any]]  # one seed simulated → a JSON-able episode record
    summarise: Callable[[list[dict[str, Any]]], dict[str, dict[str, float]]]  # metric → {"mean", "std"}
    headline: str = "average_travel_time"  # the summary metric the job's final message and the CLI lead with
    columns: tuple[str, ...] = ()  # the episode fields `citybrain show` tabulates (every number when empty)
    # the checked scenario against the network and the duration (edges, routes, times); Invalid if it cannot run there
    check_network: Callable[[dict[str, Any], Path, float], None] = _fits_any_network


run_kinds: Registry[RunKind] = Registry("citybrain run kind")


def summarise_metrics(episodes: Sequence[dict[str, Any]], metrics: Sequence[str]) -> dict[str, dict[str, float]]:
    """Mean ± sample std over episodes of each named metric (std 0 for one episode); missing values are skipped."""
    summary = {}
    for metric in metrics:
        values = [float(e[metric]) for e in episodes if e.get(metric) is not None]
        if values:
            summary[metric] = {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}
    return summary


def _no_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    if scenario:
        raise Invalid(f"A signal-control run takes no scenario parameters; got {sorted(scenario)}.")
    return {}


def _signal_control_seed(run: SeedRun) -> dict[str, Any]:
    # Imported here: it needs SUMO, which only a worker that runs simulations must have.
    from aicommons.scenarios.citybrain.simulation import run_episode

    result = run_episode(
        run.net_file, run.route_file, run.controller(), timing=run.timing, seed=run.seed, duration=run.duration, progress=run.progress
    )
    return dataclasses.asdict(result)


def summarise(episodes: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean ± sample std over episodes of the headline metrics of signal control."""
    return summarise_metrics(episodes, SUMMARY_METRICS)


run_kinds.add("signal-control", RunKind(
    "signal-control", "The controller alone: travel time, throughput, queue and delay.", _no_scenario, _signal_control_seed, summarise,
))  # fmt: skip


# --- files ------------------------------------------------------------------------------------


def store_network(blobs: BlobStore, net_path: Path, routes_path: Path) -> tuple[str, str]:
    """Store a SUMO network and its route file as blobs; return their sha256 digests."""
    for label, path in (("network", net_path), ("routes", routes_path)):
        if not Path(path).is_file():
            raise Invalid(f"The {label} file {str(path)!r} does not exist.")
    return blobs.put_file(net_path).sha256, blobs.put_file(routes_path).sha256


def store_upload(blobs: BlobStore, stream: Any, filename: str) -> FileRead:
    """Store one uploaded network or route file as a blob; refuse an empty or oversized one."""
    with tempfile.TemporaryDirectory(prefix="citybrain-upload-") as folder:
        path = Path(folder) / "upload"
        size = spool(stream, path, max_bytes=MAX_FILE_BYTES)
        if size == 0:
            raise Invalid(f"The file {filename!r} is empty.")
        ref = blobs.put_file(path)
    return FileRead(sha256=ref.sha256, size=ref.size)


def materialise(blobs: BlobStore, net_sha256: str, routes_sha256: str, folder: Path) -> tuple[Path, Path]:
    """Copy the two blobs into `folder` under the names SUMO expects (.net.xml, .rou.xml)."""
    net_file, route_file = Path(folder) / NET_NAME, Path(folder) / ROUTES_NAME
    blobs.copy_to(net_sha256, net_file)
    blobs.copy_to(routes_sha256, route_file)
    return net_file, route_file


def describe_controllers() -> list[ControllerRead]:
    """The registered controllers, each with the first paragraph of its documentation."""
    described = []
    for name in controllers.names():
        doc = (getattr(controllers.get(name), "__doc__", None) or "").strip()
        first_paragraph = " ".join(line.strip() for line in doc.split("\n\n")[0].splitlines())
        described.append(ControllerRead(name=name, description=first_paragraph))
    return described


# --- starting ---------------------------------------------------------------------------------


def start_run(session: Session, blobs: BlobStore, actor: Actor, spec: RunCreate) -> RunRead:
    """Check the request and queue its job; refuse before queueing anything that cannot run."""
    _check_range(spec)
    with refusals_name("kind"):
        kind = run_kinds.get(spec.kind)  # an unknown kind fails here, naming the known ones
    with refusals_name("scenario"):
        scenario = kind.check(dict(spec.scenario))
    with refusals_name("params"):
        params = _controller_params(session, blobs, actor, spec)
    timing = _timing(spec)

    def scenario_fits(net_file: Path) -> None:
        with refusals_name("scenario"):
            kind.check_network(scenario, net_file, float(spec.duration))

    check_files(blobs, spec.net_sha256, spec.routes_sha256, scenario_fits)
    run_id = new_id("cbr")
    job = submit_job(session, actor, JobSubmit(type=JOB_TYPE, params={"run_id": run_id}))
    row = CityBrainRun(
        id=run_id, org_id=actor.org_id, created_by=actor.user_id, name=spec.name, kind=spec.kind, scenario=scenario, net_sha256=spec.net_sha256,
        routes_sha256=spec.routes_sha256, controller=spec.controller, params=params,
        timing=dataclasses.asdict(timing), seeds=list(spec.seeds), duration=float(spec.duration), job_id=job.id, results={},
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "citybrain.run", KIND, row.id, org_id=row.org_id, detail={"kind": spec.kind, "controller": spec.controller, "seeds": list(spec.seeds), "duration": spec.duration})
    return _read(session, row)


def _check_range(spec: RunCreate) -> None:
    if not MIN_DURATION <= spec.duration <= MAX_DURATION:
        raise Invalid(f"duration must be {MIN_DURATION:g} to {MAX_DURATION:g} simulated seconds; got {spec.duration!r}.", field="duration")
    if not 1 <= len(spec.seeds) <= MAX_SEEDS:
        raise Invalid(f"seeds must list 1 to {MAX_SEEDS} seeds; got {len(spec.seeds)}.", field="seeds")
    if len(set(spec.seeds)) != len(spec.seeds):
        raise Invalid(f"seeds must not repeat; got {spec.seeds!r}.", field="seeds")


def _controller_params(session: Session, blobs: BlobStore, actor: Actor, spec: RunCreate) -> dict[str, Any]:
    """The params the run stores: a learned controller's hub model resolved now (see `policies`);
    any other controller is built once, so bad parameters are refused before queueing."""
    if spec.controller == LEARNED:
        return resolve_learned_params(session, blobs, actor, dict(spec.params))
    build_controller(spec.controller, spec.params)
    return dict(spec.params)


def build_controller(name: str, params: dict[str, Any]) -> Controller:
    """The named controller built with `params`; unknown names and bad parameters are Invalid."""
    with refusals_name("controller"):
        factory = controllers.get(name)  # an unknown name fails here, naming the known ones
    try:
        return factory(**params)
    except TypeError as exc:  # an unknown or missing keyword argument
        raise Invalid(f"Bad parameters for controller {name!r}: {exc}.") from None


def _timing(spec: RunCreate) -> Timing:
    return Timing(action_interval=spec.timing.action_interval, yellow=spec.timing.yellow, min_green=spec.timing.min_green)


def check_files(blobs: BlobStore, net_sha256: str, routes_sha256: str, check_network: Callable[[Path], None] | None = None) -> None:
    """Both blobs exist, the network has signalised junctions and suits the run's scenario; parsing it
    once here is cheap next to the simulation and spares a queued job that could only fail."""
    for label, sha256 in (("net_sha256", net_sha256), ("routes_sha256", routes_sha256)):
        if not blobs.exists(sha256):
            raise Invalid(f"{label} {sha256!r} names no stored file; upload it first (POST /api/v1/citybrain/files).", field=label)
    with tempfile.TemporaryDirectory(prefix="citybrain-check-") as scratch:
        net_file = Path(scratch) / NET_NAME
        blobs.copy_to(net_sha256, net_file)
        try:
            with refusals_name("net_sha256"):
                intersections = read_network(net_file)
        except Invalid:
            raise
        except Exception as exc:  # sumolib reports unreadable XML as parser errors
            raise Invalid(f"net_sha256 {net_sha256!r} is not a readable SUMO .net.xml network: {exc}", field="net_sha256") from None
        if not intersections:
            raise Invalid(f"net_sha256 {net_sha256!r} is a network with no signalised junction; there is nothing to control.",
                          field="net_sha256")
        if check_network is not None:
            check_network(net_file)


# --- reading ----------------------------------------------------------------------------------


def _row(session: Session, actor: Actor, run_id: str) -> CityBrainRun:
    row = session.get(CityBrainRun, run_id)
    if row is None or not (actor.is_operator or row.org_id == actor.org_id):
        raise not_found(KIND, run_id)
    return row


def get_run(session: Session, actor: Actor, run_id: str) -> RunRead:
    return _read(session, _row(session, actor, run_id))


def list_runs(
    session: Session, actor: Actor, *, controller: str | None = None, kind: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[RunRead]:
    stmt = sa.select(CityBrainRun)
    if not actor.is_operator:
        stmt = stmt.where(CityBrainRun.org_id == actor.org_id)
    if kind:
        stmt = stmt.where(CityBrainRun.kind == kind)
    if controller:
        stmt = stmt.where(CityBrainRun.controller == controller)
    # A run's results hold each seed's queue timeline too: up to a megabyte for a day simulated over
    # ten seeds, and a list shows none of it. So the rows come without their results, and the
    # database picks out the page's episodes and summaries in one more statement.
    rows, next_cursor = page_rows(
        session, stmt.options(defer(CityBrainRun.results)), CityBrainRun.id, limit=limit, cursor=cursor, owner="list_runs"
    )
    if not rows:
        return Page[RunRead](items=[], next_cursor=next_cursor)
    picked = {
        run_id: {"episodes": episodes or [], "summary": summary or {}}
        for run_id, episodes, summary in session.execute(
            sa.select(CityBrainRun.id, CityBrainRun.results["episodes"], CityBrainRun.results["summary"])
            .where(CityBrainRun.id.in_([r.id for r in rows]))
        )
    }
    # The page's jobs in one query, held here while `_read` finds each in the session (its identity
    # map keeps only weak references): not one query per run.
    jobs = session.scalars(sa.select(Job).where(Job.id.in_([r.job_id for r in rows]))).all()
    items = [_read(session, r, picked[r.id]) for r in rows]
    del jobs
    return Page[RunRead](items=items, next_cursor=next_cursor)


def _read(session: Session, row: CityBrainRun, results: dict[str, Any] | None = None) -> RunRead:
    """The run as read; `results` in place of the row's own where a list picked out only what it shows."""
    job = session.get(Job, row.job_id)
    results = (row.results if results is None else results) or {}
    return RunRead(
        id=row.id, org_id=row.org_id, created_by=row.created_by, name=row.name, kind=row.kind, scenario=row.scenario or {}, net_sha256=row.net_sha256,
        routes_sha256=row.routes_sha256, controller=row.controller, params=row.params, timing=row.timing, seeds=row.seeds,
        duration=row.duration, job_id=row.job_id, status=job.status if job else "failed", progress=job.progress if job else 0.0,
        message=(job.error or job.message or "") if job else "", episodes=list(results.get("episodes", [])),
        summary={k: MetricSummary(**v) for k, v in results.get("summary", {}).items()},
        created_at=row.created_at, finished_at=row.finished_at,
    )


def headline(run: RunRead) -> tuple[str, MetricSummary | None]:
    """The summary metric a run of its kind leads with, and its mean ± std (None until the run has one)."""
    metric = run_kinds.get(run.kind).headline
    return metric, run.summary.get(metric)


EPISODE_NUMBERS = ("average_travel_time", "throughput", "average_queue", "average_delay", "vehicles", "teleports")


def episode_columns(kind: str) -> tuple[str, ...]:
    """The per-seed numbers worth a column for a run of `kind`: the kind's own, or signal control's."""
    return run_kinds.get(kind).columns or EPISODE_NUMBERS


# --- replay: the network's geometry and the queues over time ------------------------------------


@dataclass(frozen=True)
class MapIntersection:
    """A signalised intersection where the map draws it: the mean position of the junctions its light controls."""

    id: str  # the traffic-light id, as in the episodes' per_intersection and the queue timeline
    x: float
    y: float


@dataclass(frozen=True)
class NetworkMap:
    """A network's geometry in SUMO's metres (y grows northwards): junctions, roads between them, signalised intersections."""

    junctions: dict[str, tuple[float, float]]
    roads: tuple[tuple[str, str], ...]  # junction id pairs, each road once whatever its directions
    intersections: tuple[MapIntersection, ...]


@dataclass(frozen=True)
class QueueTimeline:
    """One seed's halting vehicles per intersection, sampled every `interval` simulated seconds."""

    seed: int
    interval: float
    times: list[float]
    queues: dict[str, list[int]]  # intersection id → one count per time


def read_network_map(net_file: Path) -> NetworkMap:
    """The geometry of a SUMO .net.xml: every junction, every road (internal edges left out), every signalised intersection."""
    import sumolib  # imported here so the package imports without the citybrain extra

    net = sumolib.net.readNet(str(net_file))
    junctions = {node.getID(): tuple(float(c) for c in node.getCoord()[:2]) for node in net.getNodes()}
    roads = dict.fromkeys(
        tuple(sorted((edge.getFromNode().getID(), edge.getToNode().getID()))) for edge in net.getEdges()
    )  # fmt: skip
    lights = {tls.getID(): tls for tls in net.getTrafficLights()}
    intersections = []
    for controlled in read_network(net_file):  # the lights a controller drives, as the runs measure them
        nodes = {lane.getEdge().getToNode().getID() for lane, _, _ in lights[controlled.id].getConnections()}
        points = [junctions[node] for node in sorted(nodes)]
        intersections.append(MapIntersection(
            controlled.id, sum(x for x, _ in points) / len(points), sum(y for _, y in points) / len(points),
        ))  # fmt: skip
    return NetworkMap(junctions=junctions, roads=tuple(roads), intersections=tuple(intersections))  # type: ignore[arg-type]


_MAPS: dict[str, NetworkMap] = {}  # net sha256 → its map: a blob never changes, so neither does its map
_MAPS_KEPT = 32


def get_network_map(session: Session, blobs: BlobStore, actor: Actor, run_id: str) -> NetworkMap | None:
    """The geometry of the network a run simulated (readable by whoever may read the run); None
    where this process cannot read SUMO networks (installed without the citybrain extra)."""
    row = _row(session, actor, run_id)
    if importlib.util.find_spec("sumolib") is None:
        return None
    if row.net_sha256 not in _MAPS:
        with tempfile.TemporaryDirectory(prefix="citybrain-map-") as scratch:
            net_file = Path(scratch) / NET_NAME
            blobs.copy_to(row.net_sha256, net_file)
            if len(_MAPS) >= _MAPS_KEPT:
                _MAPS.pop(next(iter(_MAPS)))
            _MAPS[row.net_sha256] = read_network_map(net_file)
    return _MAPS[row.net_sha256]


def get_queue_timeline(session: Session, actor: Actor, run_id: str, seed: int) -> QueueTimeline | None:
    """A finished seed's queue timeline; None while the seed has not finished or when its kind records none."""
    row = _row(session, actor, run_id)
    if seed not in row.seeds:
        raise Invalid(f"Run {run_id!r} simulated seeds {row.seeds!r}; it has no seed {seed!r}.")
    found = (row.results or {}).get("timelines", {}).get(str(seed))
    if not found:
        return None
    return QueueTimeline(seed=seed, interval=float(found["interval"]), times=list(found["times"]), queues=dict(found["queues"]))


# --- comparing controllers ----------------------------------------------------------------------


@dataclass(frozen=True)
class ControllerResult:
    """One controller's finished signal-control runs on a network: means over all their seeds."""

    controller: str
    runs: int
    seeds: int
    average_travel_time: float
    throughput: float


def compare_controllers(session: Session, actor: Actor, run_id: str) -> list[ControllerResult]:
    """Every controller's finished signal-control runs on the same network, routes and duration as
    `run_id` that the actor may read, pooled over their seeds; shortest travel time first."""
    row = _row(session, actor, run_id)
    stmt = sa.select(CityBrainRun).where(
        CityBrainRun.kind == "signal-control", CityBrainRun.net_sha256 == row.net_sha256, CityBrainRun.routes_sha256 == row.routes_sha256,
        CityBrainRun.duration == row.duration, CityBrainRun.finished_at.is_not(None),
    )  # fmt: skip
    if not actor.is_operator:
        stmt = stmt.where(CityBrainRun.org_id == actor.org_id)
    pooled: dict[str, tuple[int, list[dict[str, Any]]]] = {}
    for run in session.scalars(stmt.order_by(CityBrainRun.id)):
        runs_counted, episodes = pooled.get(run.controller, (0, []))
        pooled[run.controller] = (runs_counted + 1, episodes + list((run.results or {}).get("episodes", [])))
    results = [
        ControllerResult(
            controller=name, runs=count, seeds=len(episodes),
            average_travel_time=statistics.fmean(float(e["average_travel_time"]) for e in episodes),
            throughput=statistics.fmean(float(e["throughput"]) for e in episodes),
        )
        for name, (count, episodes) in pooled.items() if episodes
    ]  # fmt: skip
    return sorted(results, key=lambda r: (r.average_travel_time, r.controller))


# --- the job ----------------------------------------------------------------------------------


class RunParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_id: str = Field(max_length=40)


@job_type(JOB_TYPE, params=RunParams)
def run_simulation(ctx: JobContext, params: RunParams) -> dict[str, Any]:
    """Simulate one episode per seed, saving each as it finishes; then the summary over seeds."""
    with ctx.runtime.session() as session:
        row = _row(session, ctx.actor, params.run_id)
        spec = {c: getattr(row, c) for c in ("kind", "scenario", "net_sha256", "routes_sha256", "controller", "params", "timing", "seeds", "duration")}
    kind = run_kinds.get(spec["kind"])
    seeds = list(spec["seeds"])
    episodes: list[dict[str, Any]] = list(ctx.state.get("episodes", []))
    timelines: dict[str, dict[str, Any]] = dict(ctx.state.get("timelines", {}))
    with tempfile.TemporaryDirectory(prefix="citybrain-run-") as scratch:
        ctx.progress(0.01, "materialising the network and routes")
        net_file, route_file = materialise(ctx.runtime.blobs, spec["net_sha256"], spec["routes_sha256"], Path(scratch))
        arguments = controller_arguments(ctx.runtime.blobs, spec["controller"], spec["params"], Path(scratch))
        for index, seed in enumerate(seeds):
            if index < len(episodes):
                continue  # finished before a restart

            def progress(fraction: float, message: str, index: int = index, seed: int = seed) -> None:
                share = (index + min(max(fraction, 0.0), 1.0)) / len(seeds)
                ctx.progress(0.02 + 0.96 * share, f"seed {seed} ({index + 1}/{len(seeds)}): {message}" if message else f"seed {seed}")

            progress(0.0, "starting")
            episode = kind.run_seed(SeedRun(
                net_file=net_file, route_file=route_file, controller=lambda: build_controller(spec["controller"], arguments),
                timing=Timing(**spec["timing"]), seed=seed, duration=spec["duration"], scenario=dict(spec["scenario"] or {}), progress=progress,
            ))  # fmt: skip
            timeline = episode.pop("queue_timeline", None)
            if timeline:
                timelines[str(seed)] = timeline
            episodes.append(episode)
            ctx.log(f"seed {seed}: " + ", ".join(f"{k} {v:.4g}" for k, v in episode.items() if isinstance(v, float | int) and not isinstance(v, bool))[:400])
            with ctx.step({"episodes": episodes, "timelines": timelines}) as session:
                session.get(CityBrainRun, params.run_id).results = {"episodes": list(episodes), "timelines": dict(timelines)}
    summary = kind.summarise(episodes)
    with ctx.step({"episodes": episodes, "timelines": timelines, "finished": True}) as session:
        row = session.get(CityBrainRun, params.run_id)
        row.results = {"episodes": list(episodes), "summary": summary, "timelines": dict(timelines)}
        row.finished_at = utcnow()
    headline = summary.get(kind.headline, {"mean": float("nan"), "std": 0.0})
    ctx.progress(1.0, f"{kind.headline.replace('_', ' ')} {headline['mean']:.4g} ± {headline['std']:.2g} over {len(seeds)} seed(s)")
    return {"run_id": params.run_id, "kind": kind.name, kind.headline: headline["mean"]}
