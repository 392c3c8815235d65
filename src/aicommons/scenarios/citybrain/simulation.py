"""Run one SUMO episode with a signal controller in charge of every intersection, and measure it.

The controller, not SUMO's signal program, drives the lights: every `timing.action_interval`
seconds the runner observes each intersection's lanes and asks `controller.decide` which green
phase to show; a switch asked for before `timing.min_green` has elapsed is ignored, and an
accepted switch shows `timing.yellow` seconds of yellow before the new green. Every controller
therefore runs under the same timing, so comparisons are fair.

Choices, made to match the literature this scenario is compared with (CityFlow results):

- **Travel time** counts from a vehicle's *scheduled* departure, so time spent waiting to enter a
  jammed network counts too. Vehicles that arrived count with their full trip; vehicles still
  driving at the end, and vehicles whose departure time has passed but that could not yet enter,
  count with their time so far (CityFlow's convention: a controller cannot look better by leaving
  vehicles stuck or outside the network).
- **Teleports are off** by default (`time_to_teleport=-1`): CityFlow never teleports, and SUMO's
  default (jammed vehicles jump ahead after 300 s) would hide exactly the gridlock a bad controller
  causes. `EpisodeResult.teleports` counts those that still happen: jam teleports when switched
  on, and SUMO's default handling of a collision (the colliding vehicle is teleported), which
  `-1` does not switch off — rare (one in an hour of Hangzhou under a 15 s fixed cycle).
- **Delay** is SUMO's time loss (time lost against driving at the desired speed) plus the wait to
  enter the network, per vehicle, for the same vehicles as travel time.
- **Queue** is the number of halting vehicles (speed < 0.1 m/s) per incoming lane, averaged over
  decision steps. For replaying an episode, `EpisodeResult.queue_timeline` also samples, every
  `TIMELINE_INTERVAL` simulated seconds from the start, each intersection's halting vehicles summed
  over its incoming lanes (whole vehicles, so a city's hour stays a few numbers per junction). Per intersection, "delay" is LibSignal's lane delay, 1 − mean speed / speed
  limit (0 free-flowing, 1 standing), averaged over its incoming lanes and the decision steps.
- The simulation runs in steps of 1 s; the seed goes to SUMO (`--seed`: speed factors, lane choice).
- **Interventions** act beside the controller (`Intervention`): an emergency vehicle whose route
  pre-empts the signals, an incident that blocks a lane, detectors that sample the lanes. Each is
  told when the episode starts, after every step, may force a phase at an intersection (which then
  skips the controller's decision and the minimum green, but never the yellow), and reads the trips
  at the end.
- `libsumo` (SUMO in-process, several times faster) is the default; it allows one simulation per
  process at a time, so runs through it are serialised by a lock. `use_libsumo=False` uses TraCI,
  which starts a `sumo` process per episode and may run several at once.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from xml.etree import ElementTree

from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain.controllers import Controller, Timing
from aicommons.scenarios.citybrain.network import (
    GREEN,
    Intersection,
    LaneState,
    Observation,
    is_green_state,
    read_network,
)

Progress = Callable[[float, str], None]

# libsumo keeps one simulation per process; two episodes started from two threads would share it.
_LIBSUMO_LOCK = threading.Lock()
PROGRESS_REPORTS = 20  # progress is reported this many times per episode
TIMELINE_INTERVAL = 60.0  # simulated seconds between two samples of the queue timeline
DEFAULT_TIMING = Timing()  # 5 s decisions, 3 s yellow, 5 s minimum green


class Intervention(Protocol):
    """Acts on an episode beside the controller; see the module's documentation."""

    def start(self, simulation: "_Simulation", intersections: Sequence[Intersection]) -> None:
        """The signals show their first green; vehicles may be added, detectors read."""

    def after_step(self, simulation: "_Simulation", now: float) -> None:
        """Called after every simulation step, `now` being the simulated time reached."""

    def preempt(self, intersection: Intersection, now: float) -> int | None:
        """A phase position to force at `intersection` now, or None to let the controller decide."""

    def finish(self, trips: Sequence["Trip"]) -> None:
        """The simulation has closed; `trips` are every inserted vehicle's trip."""


@dataclass
class EpisodeResult:
    controller: str
    seed: int
    duration: float
    average_travel_time: float  # completed trips plus, for vehicles still driving or waiting to depart, their time so far
    throughput: int  # vehicles that arrived
    average_queue: float  # mean over decision steps and incoming lanes of halting vehicles
    average_delay: float  # mean per-vehicle time loss (SUMO timeLoss) plus wait to enter the network
    per_intersection: dict[str, dict[str, float]]  # "queue" and "delay" per intersection
    simulated_per_wall_second: float
    vehicles: int = 0  # vehicles counted in the averages: scheduled to depart within the episode
    teleports: int = 0  # SUMO teleports: jams (only if time_to_teleport is switched on) and collisions
    # {"interval": s, "times": [s, …], "queues": {intersection id: [halting vehicles on its incoming lanes at each time]}}
    queue_timeline: dict[str, Any] = field(default_factory=dict)


def sumo_home() -> Path:
    import sumo  # the eclipse-sumo wheel: binaries and tools

    return Path(sumo.SUMO_HOME)


def sumo_binary(name: str) -> str:
    return str(sumo_home() / "bin" / name)


# ---------------------------------------------------------------- the episode


def run_episode(
    net_file: Path,
    route_file: Path,
    controller: Controller,
    *,
    timing: Timing = DEFAULT_TIMING,
    seed: int = 0,
    duration: float = 3600.0,
    use_libsumo: bool = True,
    progress: Progress | None = None,
    time_to_teleport: float = -1,
    interventions: Sequence[Intervention] = (),
    additional_files: Sequence[Path] = (),
) -> EpisodeResult:
    """Simulate `duration` seconds of `route_file` on `net_file` with `controller` setting every signal.

    `additional_files` are SUMO additional files (detectors, vehicle types) loaded with the network.
    """
    net_file, route_file = Path(net_file), Path(route_file)
    _check_inputs(route_file, timing, duration)
    intersections = read_network(net_file)
    if not intersections:
        raise Invalid(f"net_file must contain signalised junctions, {net_file.name!r} has none")
    started = time.perf_counter()
    lock = _LIBSUMO_LOCK if use_libsumo else contextlib.nullcontext()
    with lock, tempfile.TemporaryDirectory(prefix="citybrain-") as scratch:
        tripinfo_file = Path(scratch) / "tripinfo.xml"
        command = _sumo_command(net_file, route_file, seed, time_to_teleport, tripinfo_file, additional_files)
        simulation = _start(command, use_libsumo)
        try:
            run = _Run(simulation, intersections, controller, timing, duration, progress, tuple(interventions))
            run.simulate()
            waiting_to_enter = run.departure_delays_of_waiting_vehicles()
        finally:
            simulation.close()  # also writes the tripinfo file
        trips = _read_tripinfo(tripinfo_file)
    for intervention in interventions:
        intervention.finish(trips)
    wall_seconds = time.perf_counter() - started
    return _result(controller, seed, duration, run, trips, waiting_to_enter, wall_seconds)


def _check_inputs(route_file: Path, timing: Timing, duration: float) -> None:
    if not route_file.is_file():
        raise Invalid(f"route_file must be an existing SUMO .rou.xml file, got {str(route_file)!r}")
    if not duration > 0:
        raise Invalid(f"duration must be positive seconds, got {duration!r}")
    if not timing.action_interval >= 1:
        raise Invalid(f"timing.action_interval must be at least 1 s (the step length), got {timing.action_interval!r}")
    if timing.yellow < 0 or timing.min_green < 0:
        raise Invalid(f"timing.yellow and timing.min_green must be >= 0, got {timing.yellow!r} and {timing.min_green!r}")


def _sumo_command(
    net_file: Path, route_file: Path, seed: int, time_to_teleport: float, tripinfo_file: Path, additional_files: Sequence[Path] = ()
) -> list[str]:
    additional = ["--additional-files", ",".join(str(Path(f)) for f in additional_files)] if additional_files else []
    return [
        sumo_binary("sumo"),
        *additional,
        "--net-file", str(net_file),
        "--route-files", str(route_file),
        "--begin", "0",
        "--step-length", "1",
        "--seed", str(int(seed)),
        "--time-to-teleport", str(time_to_teleport),
        "--tripinfo-output", str(tripinfo_file),
        "--tripinfo-output.write-unfinished", "true",  # vehicles still driving at the end, with their time so far
        "--no-step-log", "true",
        "--no-warnings", "true",  # jam and emergency-braking warnings would flood the log of a congested run
        "--duration-log.disable", "true",
    ]  # fmt: skip


class _Simulation:
    """libsumo and a TraCI connection behind one face: `.simulation`, `.lane`, `.trafficlight`, `.vehicle`, `.step()`, `.close()`.

    `.api` is the module or connection itself, for the other domains (edge, route, inductionloop …).
    """

    def __init__(self, api, close: Callable[[], None]):
        self.api = api
        self.simulation, self.lane, self.trafficlight, self.vehicle = api.simulation, api.lane, api.trafficlight, api.vehicle
        self.step = api.simulationStep
        self.close = close


def _start(command: list[str], use_libsumo: bool) -> _Simulation:
    # SUMO looks for its XML schemas under SUMO_HOME; without it, it warns and skips validation.
    os.environ.setdefault("SUMO_HOME", str(sumo_home()))
    try:
        if use_libsumo:
            import libsumo

            libsumo.start(command)
            return _Simulation(libsumo, libsumo.close)
        import traci

        label = f"citybrain-{uuid.uuid4().hex}"
        traci.start(command, label=label, stdout=subprocess.DEVNULL)
        connection = traci.getConnection(label)
        return _Simulation(connection, connection.close)
    except Exception as error:  # SUMO reports bad networks and routes as generic errors
        raise Invalid(f"SUMO could not load the network and routes: {error}") from error


# ---------------------------------------------------------------- signals


def yellow_state(leaving: str, entering: str, program_yellow: str | None) -> str:
    """The state to show between two greens: SUMO's own yellow when the program has one, else generated.

    Either way, a movement green now but not green in the entering phase shows 'y', and one green
    in both keeps its green (it need not stop); everything else keeps its letter.
    """
    base = program_yellow if program_yellow is not None else leaving
    return "".join(
        "y" if letter in GREEN and entering[position] not in GREEN else letter
        for position, letter in enumerate(base)
    )


def program_yellows(simulation: _Simulation, intersection: Intersection) -> dict[int, str]:
    """For each green phase (by position in `intersection.phases`), the program phase that follows it if that is not green."""
    program_id = simulation.trafficlight.getProgram(intersection.id)
    logics = simulation.trafficlight.getAllProgramLogics(intersection.id)
    logic = next((logic for logic in logics if logic.programID == program_id), None)
    if logic is None:
        return {}
    states = [phase.state for phase in logic.phases]
    yellows = {}
    for position, phase in enumerate(intersection.phases):
        following = states[(phase.index + 1) % len(states)]
        if not is_green_state(following) and len(following) == len(phase.state):
            yellows[position] = following
    return yellows


@dataclass
class _Signal:
    """One intersection's lights as the runner drives them: a green, or a yellow leading to the next green."""

    intersection: Intersection
    program_yellows: dict[int, str]
    green: int = 0  # position in intersection.phases of the green shown (or that the yellow leads to)
    green_since: float = 0.0
    yellow_until: float | None = None

    def show(self, simulation: _Simulation, state: str) -> None:
        simulation.trafficlight.setRedYellowGreenState(self.intersection.id, state)

    def start(self, simulation: _Simulation, now: float) -> None:
        self.green, self.green_since, self.yellow_until = 0, now, None
        self.show(simulation, self.intersection.phases[0].state)

    def request(self, simulation: _Simulation, target: int, now: float, timing: Timing, *, preempting: bool = False) -> None:
        """Switch to `target` if the current green has lasted min_green (or it is a pre-emption); through yellow when there is one."""
        if target == self.green or (not preempting and now - self.green_since < timing.min_green):
            return
        leaving, entering = self.intersection.phases[self.green], self.intersection.phases[target]
        program_yellow = self.program_yellows.get(self.green)
        self.green = target
        if timing.yellow > 0:
            self.yellow_until = now + timing.yellow
            self.show(simulation, yellow_state(leaving.state, entering.state, program_yellow))
        else:
            self.green_since = now
            self.show(simulation, entering.state)

    def advance(self, simulation: _Simulation, now: float) -> None:
        """End a yellow whose time is up: the new green begins now."""
        if self.yellow_until is not None and now >= self.yellow_until:
            self.yellow_until, self.green_since = None, now
            self.show(simulation, self.intersection.phases[self.green].state)

    @property
    def in_yellow(self) -> bool:
        return self.yellow_until is not None


# ---------------------------------------------------------------- the loop


@dataclass
class _LaneTotals:
    """Running sums behind the per-intersection queue and delay."""

    halting: float = 0.0
    slowdown: float = 0.0
    samples: int = 0


@dataclass
class _Run:
    simulation: _Simulation
    intersections: Sequence[Intersection]
    controller: Controller
    timing: Timing
    duration: float
    progress: Progress | None
    interventions: tuple[Intervention, ...] = ()
    teleports: int = 0
    arrived: int = 0
    totals: dict[str, _LaneTotals] = field(default_factory=dict)
    lengths: dict[str, float] = field(default_factory=dict)  # lane id → metres, read once
    speed_limits: dict[str, float] = field(default_factory=dict)  # lane id → m/s, read once
    timeline_times: list[float] = field(default_factory=list)
    timeline_queues: dict[str, list[int]] = field(default_factory=dict)  # intersection id → halting vehicles at each time

    def simulate(self) -> None:
        simulation = self.simulation
        lanes = list(dict.fromkeys(
            lane for i in self.intersections for lane in (*i.incoming_lanes, *i.outgoing_lanes)
        ))  # fmt: skip
        self.lengths = {lane: simulation.lane.getLength(lane) for lane in lanes}
        self.speed_limits = {lane: simulation.lane.getMaxSpeed(lane) for lane in lanes}
        self.totals = {i.id: _LaneTotals() for i in self.intersections}
        signals = [_Signal(i, program_yellows(simulation, i)) for i in self.intersections]
        self.controller.reset(self.intersections, self.timing)
        now = simulation.simulation.getTime()
        for signal in signals:
            signal.start(simulation, now)
        for intervention in self.interventions:
            intervention.start(simulation, self.intersections)
        next_decision, next_report = now, self.duration / PROGRESS_REPORTS
        self.sample_queues(now)
        next_sample = now + TIMELINE_INTERVAL
        while now < self.duration:
            for signal in signals:
                signal.advance(simulation, now)
            preempted = self.preempt(signals, now)
            if now >= next_decision:
                self.decide(signals, self.read_lanes(lanes), now, preempted)
                next_decision += self.timing.action_interval
            now = self.step()
            if now >= next_sample:
                self.sample_queues(now)
                next_sample += TIMELINE_INTERVAL
            if now >= next_report:
                self.report(now)
                next_report += self.duration / PROGRESS_REPORTS

    def step(self) -> float:
        self.simulation.step()
        self.teleports += self.simulation.simulation.getStartingTeleportNumber()
        self.arrived += self.simulation.simulation.getArrivedNumber()
        now = self.simulation.simulation.getTime()
        for intervention in self.interventions:
            intervention.after_step(self.simulation, now)
        return now

    def preempt(self, signals: list[_Signal], now: float) -> set[str]:
        """Force the phases interventions ask for (checked every step, so pre-emption reacts within a second)."""
        preempted: set[str] = set()
        for intervention in self.interventions:
            for signal in signals:
                target = intervention.preempt(signal.intersection, now)
                if target is None or signal.intersection.id in preempted:
                    continue
                if not (isinstance(target, int) and 0 <= target < len(signal.intersection.phases)):
                    raise Invalid(f"pre-emption must name a phase position of {signal.intersection.id!r}, got {target!r}")
                preempted.add(signal.intersection.id)
                if not signal.in_yellow:
                    signal.request(self.simulation, target, now, self.timing, preempting=True)
        return preempted

    def read_lanes(self, lanes: list[str]) -> dict[str, LaneState]:
        # Read each lane once per decision: an outgoing lane of one junction is incoming at the next.
        lane = self.simulation.lane
        return {
            lane_id: LaneState(
                vehicles=lane.getLastStepVehicleNumber(lane_id),
                halting=lane.getLastStepHaltingNumber(lane_id),
                mean_speed=lane.getLastStepMeanSpeed(lane_id),
                length=self.lengths[lane_id],
                occupancy=lane.getLastStepOccupancy(lane_id),
            )
            for lane_id in lanes
        }

    def decide(self, signals: list[_Signal], lane_states: dict[str, LaneState], now: float, preempted: set[str] = frozenset()) -> None:
        for signal in signals:
            intersection = signal.intersection
            self.measure(intersection, lane_states)
            if signal.in_yellow or intersection.id in preempted:
                continue  # the switch is already under way, or an intervention holds the signal
            observation = Observation(
                time=now,
                lanes={lane: lane_states[lane] for lane in (*intersection.incoming_lanes, *intersection.outgoing_lanes)},
                current_phase=signal.green,
                phase_elapsed=now - signal.green_since,
            )
            target = self.controller.decide(intersection, observation)
            if not (isinstance(target, int) and 0 <= target < len(intersection.phases)):
                raise Invalid(
                    f"controller {self.controller.name!r} must return a phase position in 0..{len(intersection.phases) - 1}"
                    f" for intersection {intersection.id!r}, got {target!r}"
                )
            signal.request(self.simulation, target, now, self.timing)

    def measure(self, intersection: Intersection, lane_states: dict[str, LaneState]) -> None:
        """Queue: halting vehicles per incoming lane; delay: 1 - mean speed / speed limit per incoming lane."""
        totals = self.totals[intersection.id]
        for lane in intersection.incoming_lanes:
            state = lane_states[lane]
            totals.halting += state.halting
            limit = self.speed_limits[lane]
            totals.slowdown += max(0.0, 1.0 - state.mean_speed / limit) if limit > 0 else 0.0
            totals.samples += 1

    def sample_queues(self, now: float) -> None:
        """One point of the queue timeline: each intersection's halting vehicles over its incoming lanes."""
        halting = self.simulation.lane.getLastStepHaltingNumber
        self.timeline_times.append(now)
        for intersection in self.intersections:
            queue = sum(halting(lane) for lane in intersection.incoming_lanes)
            self.timeline_queues.setdefault(intersection.id, []).append(int(queue))

    def report(self, now: float) -> None:
        if self.progress is not None:
            self.progress(min(1.0, now / self.duration), f"simulated {now:.0f} of {self.duration:.0f} s, {self.arrived} vehicles arrived")

    def departure_delays_of_waiting_vehicles(self) -> list[float]:
        """Vehicles whose departure time has passed but that have not entered: how long each has waited."""
        return [self.simulation.vehicle.getDepartDelay(vehicle) for vehicle in self.simulation.simulation.getPendingVehicles()]


# ---------------------------------------------------------------- metrics


@dataclass(frozen=True)
class Trip:
    """One inserted vehicle's tripinfo record; times from its scheduled departure."""

    vehicle: str  # the vehicle id
    depart: float  # the scheduled departure (s)
    travel_time: float  # departDelay + duration (to arrival, or to the end if unfinished)
    delay: float  # departDelay + timeLoss
    arrived: bool


def _read_tripinfo(tripinfo_file: Path) -> list[Trip]:
    trips = []
    for _, element in ElementTree.iterparse(tripinfo_file):
        if element.tag != "tripinfo":
            continue
        depart_delay = float(element.get("departDelay", 0))
        trips.append(
            Trip(
                vehicle=element.get("id", ""),
                depart=float(element.get("depart", 0)) - depart_delay,
                travel_time=depart_delay + float(element.get("duration")),
                delay=depart_delay + float(element.get("timeLoss", 0)),
                arrived=float(element.get("arrival", -1)) >= 0,
            )
        )
        element.clear()
    return trips


def _result(controller, seed, duration, run: _Run, trips: list[Trip], waiting_to_enter: list[float], wall_seconds: float) -> EpisodeResult:
    travel_times = [trip.travel_time for trip in trips] + waiting_to_enter
    delays = [trip.delay for trip in trips] + waiting_to_enter  # a vehicle that never entered lost all its waiting
    samples = sum(totals.samples for totals in run.totals.values())
    return EpisodeResult(
        controller=controller.name,
        seed=seed,
        duration=duration,
        average_travel_time=_mean(travel_times),
        throughput=sum(trip.arrived for trip in trips),
        average_queue=sum(totals.halting for totals in run.totals.values()) / samples if samples else 0.0,
        average_delay=_mean(delays),
        per_intersection={
            intersection_id: {
                "queue": totals.halting / totals.samples if totals.samples else 0.0,
                "delay": totals.slowdown / totals.samples if totals.samples else 0.0,
            }
            for intersection_id, totals in run.totals.items()
        },
        simulated_per_wall_second=duration / wall_seconds if wall_seconds > 0 else float("inf"),
        vehicles=len(travel_times),
        teleports=run.teleports,
        queue_timeline={"interval": TIMELINE_INTERVAL, "times": list(run.timeline_times), "queues": dict(run.timeline_queues)},
    )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


# ---------------------------------------------------------------- synthetic grids for tests


def synthetic_grid(
    folder: Path,
    *,
    size: int = 2,
    lanes: int = 1,
    length: float = 150.0,
    duration: float = 600.0,
    vehicles_per_hour: float = 1200.0,
    seed: int = 0,
) -> tuple[Path, Path]:
    """A size×size grid of signalised junctions (netgenerate) and random through trips (randomTrips + duarouter).

    Every junction gets a traffic light; roads of `length` metres also lead in from the fringe, where
    trips start and end, so every trip crosses at least one signal.
    """
    if size < 1 or lanes < 1 or length <= 0 or duration <= 0 or vehicles_per_hour <= 0:
        raise Invalid(
            "size and lanes must be >= 1 and length, duration, vehicles_per_hour positive, got "
            f"size={size!r}, lanes={lanes!r}, length={length!r}, duration={duration!r}, vehicles_per_hour={vehicles_per_hour!r}"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    net_file, route_file = folder / "grid.net.xml", folder / "grid.rou.xml"
    environment = {**os.environ, "SUMO_HOME": str(sumo_home())}
    _run_tool([
        sumo_binary("netgenerate"), "--grid",
        "--grid.number", str(size), "--grid.length", str(length), "--grid.attach-length", str(length),
        "--default.lanenumber", str(lanes),
        "--default-junction-type", "traffic_light",
        "--no-turnarounds", "true",
        "--no-warnings", "true",  # the fringe dead ends get no light and say so
        "--seed", str(seed),
        "--output-file", str(net_file),
    ], environment, folder)  # fmt: skip
    _run_tool([
        sys.executable, str(sumo_home() / "tools" / "randomTrips.py"),
        "--net-file", str(net_file),
        "--route-file", str(route_file),
        "--output-trip-file", str(folder / "grid.trips.xml"),
        "--begin", "0", "--end", str(duration),
        "--period", str(3600.0 / vehicles_per_hour),
        "--fringe-factor", "max",  # trips start and end at the grid's edge
        "--min-distance", str(2 * length),
        "--validate",
        "--seed", str(seed),
    ], environment, folder)  # fmt: skip
    return net_file, route_file


def _run_tool(command: list[str], environment: dict[str, str], folder: Path) -> None:
    completed = subprocess.run(command, check=False, env=environment, cwd=folder, capture_output=True, text=True)
    if completed.returncode != 0:
        raise Invalid(f"{Path(command[0]).name} failed: {completed.stderr.strip()[-2000:]}")
