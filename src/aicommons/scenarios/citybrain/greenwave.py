"""Emergency green wave: signal pre-emption along an emergency vehicle's route (run kind "green-wave").

For each seed the same scenario is simulated twice with the same controller and SUMO seed: once
with the emergency vehicle (EV) driving like any other vehicle, once with its route pre-empting
the signals. The paired difference is what pre-emption buys the EV, and what it costs everyone else.

- **The route** is the fastest route at free flow from `from_edge` to `to_edge` (what SUMO's
  `simulation.findRoute` finds in an empty network; computed here so that the route checked when
  the run is started, and recorded, is exactly the one driven). Without them, it is chosen from
  the seed among the fastest routes between the network's fringe edges that pass no junction
  twice and leave time to finish (below): one crossing the most signalised intersections, picked
  at random by the seed; each seed records its route.
- **The vehicle** has vClass "emergency", `max_speed` (20 m/s), speed factor 1 without deviation
  (it keeps to the speed limit, identically in both runs). SUMO's blue-light device is *not*
  fitted: with it the EV may cross red lights and others form rescue lanes, so the baseline would
  already measure the device rather than the signals; this kind measures signal pre-emption alone.
- **Departure** `depart` (default a third of the duration) must leave at least twice the route's
  free-flow time before the end; an EV still driving at the end counts with its time so far.
- **Pre-emption**: every second, each signal ahead on the EV's route within `lookahead` metres of
  its stop line (SUMO `vehicle.getNextTLS`) is forced to a green phase that serves the EV's link
  (by link index; a priority green 'G' before a yielding one 'g', the green showing now first).
  Signals are counted by visit along the route, as the EV's link index changes with its lane. The
  runner keeps the yellow and skips the minimum green for it. With `release` (default) each
  signal goes back to the controller once the EV has crossed its stop line; without, the whole
  corridor stays held until the EV arrives.
- **Cost to others**: the average travel time of all other vehicles (same convention as the
  episode: from scheduled departure, unfinished ones with their time so far), with pre-emption
  minus without, per vehicle and in total vehicle-hours. Both runs share the seed, so the
  difference is paired, but SUMO traffic is chaotic: read it over several seeds.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain.network import GREEN, Intersection, read_network
from aicommons.scenarios.citybrain.runs import RunKind, SeedRun, run_kinds, summarise_metrics
from aicommons.scenarios.citybrain.schemas import SUMMARY_METRICS

EV_ID = EV_TYPE = "citybrain-emergency"
HALTING_SPEED = 0.1  # m/s: SUMO's threshold for a halting vehicle
FINISH_MARGIN = 2.0  # the time left after departure must be this many times the route's free-flow time
DEFAULTS: dict[str, Any] = {
    "from_edge": None,  # SUMO edge ids where the EV starts and ends; both omitted: a route chosen from the seed
    "to_edge": None,
    "depart": None,  # simulated seconds; None: a third of the duration
    "max_speed": 20.0,  # m/s; below the speed limit it binds, above it the limit does
    "lookahead": 300.0,  # metres before a stop line at which its signal is forced green for the EV
    "release": True,  # give each signal back once the EV has crossed it; False: hold the corridor until it arrives
}
MAX_SPEED = 70.0  # m/s, SUMO's default top speed of an emergency vehicle
SUMMARY = (
    "ev_travel_time_baseline", "ev_travel_time_preempted", "ev_travel_time_saved", "ev_stops_baseline", "ev_stops_preempted",
    "others_average_travel_time_baseline", "others_average_travel_time_preempted", "others_delay_cost", "others_delay_cost_vehicle_hours",
    "intersections_preempted",
)  # fmt: skip


# --- the scenario ------------------------------------------------------------------------------


def check_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    """The parameters checked for type and range, defaults filled in; the network is checked by `check_on_network`."""
    unknown = sorted(set(scenario) - set(DEFAULTS))
    if unknown:
        raise Invalid(f"Unknown green-wave scenario parameter(s) {unknown}; known: {sorted(DEFAULTS)}.")
    checked = {**DEFAULTS, **scenario}
    for name in ("from_edge", "to_edge"):
        value = checked[name]
        if value is not None and not (isinstance(value, str) and value.strip()):
            raise Invalid(f"The green-wave scenario's {name!r} must be a SUMO edge id (a non-empty string); got {value!r}.")
    if (checked["from_edge"] is None) != (checked["to_edge"] is None):
        raise Invalid("The green-wave scenario needs both 'from_edge' and 'to_edge', or neither (to choose a route from the seed).")
    if checked["depart"] is not None:
        checked["depart"] = _number(checked, "depart", low=0.0, high=float("inf"), unit="simulated seconds")
    checked["max_speed"] = _number(checked, "max_speed", low=0.0, high=MAX_SPEED, unit="m/s", open_low=True)
    checked["lookahead"] = _number(checked, "lookahead", low=0.0, high=float("inf"), unit="metres", open_low=True)
    if not isinstance(checked["release"], bool):
        raise Invalid(f"The green-wave scenario's 'release' must be true or false; got {checked['release']!r}.")
    return checked


def _number(scenario: dict[str, Any], name: str, *, low: float, high: float, unit: str, open_low: bool = False) -> float:
    value = scenario[name]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not (low < value if open_low else low <= value) or value > high:
        bounds = f"{'above' if open_low else 'at least'} {low:g}" + (f" and at most {high:g}" if high < float("inf") else "")
        raise Invalid(f"The green-wave scenario's {name!r} must be a number of {unit} {bounds}; got {value!r}.")
    return float(value)


def departure(scenario: dict[str, Any], duration: float) -> float:
    return scenario["depart"] if scenario["depart"] is not None else round(duration / 3)


def check_on_network(scenario: dict[str, Any], net_file: Path, duration: float) -> None:
    """Invalid unless the EV can drive its route (or some route, when none is given) on `net_file` within `duration`."""
    depart = departure(scenario, duration)
    if depart >= duration:
        raise Invalid(f"The green-wave scenario's 'depart' ({depart:g} s) must be before the end of the run ({duration:g} s).")
    roads = RoadNetwork.read(net_file)
    if scenario["from_edge"] is None:
        roads.longest_route(scenario["max_speed"], duration - depart, seed=0)
        return
    route = roads.route(scenario["from_edge"], scenario["to_edge"], scenario["max_speed"])
    if not route.signals:
        raise Invalid(f"The EV's route {route.from_edge!r} → {route.to_edge!r} crosses no signalised intersection: nothing to pre-empt.")
    if FINISH_MARGIN * route.free_flow_time > duration - depart:
        raise Invalid(
            f"The EV's route {route.from_edge!r} → {route.to_edge!r} takes {route.free_flow_time:.0f} s at free flow; departing at"
            f" {depart:g} s leaves {duration - depart:g} s of the {duration:g} s run, and it needs at least {FINISH_MARGIN:g} times that."
            " Depart earlier or run longer."
        )


# --- routes ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    from_edge: str
    to_edge: str
    edges: tuple[str, ...]
    signals: tuple[str, ...]  # the signalised intersections crossed, in order
    free_flow_time: float  # s at the lower of the speed limit and the EV's max speed
    length: float  # m
    simple: bool  # it passes no junction twice


@dataclass
class RoadNetwork:
    """The edges an emergency vehicle may use, and the signalised intersection between two consecutive ones."""

    net: Any  # sumolib.net.Net
    signal_between: dict[tuple[str, str], str]  # (edge, next edge) → traffic-light id, for signals the runner drives

    @classmethod
    def read(cls, net_file: Path) -> RoadNetwork:
        import sumolib  # imported here so the package imports without the citybrain extra

        signals = {intersection.id for intersection in read_network(net_file)}
        net = sumolib.net.readNet(str(net_file), withLatestPrograms=True)
        signal_between = {}
        for edge in net.getEdges():
            for following, connections in edge.getOutgoing().items():
                tls = next((c.getTLSID() for c in connections if c.getTLSID() in signals), None)
                if tls is not None:
                    signal_between[(edge.getID(), following.getID())] = tls
        return cls(net, signal_between)

    def edge(self, edge_id: str, role: str):
        if not self.net.hasEdge(edge_id) or self.net.getEdge(edge_id).getFunction() == "internal":
            raise Invalid(f"The green-wave scenario's {role} {edge_id!r} is not an edge of the network.")
        edge = self.net.getEdge(edge_id)
        if not edge.allows("emergency"):
            raise Invalid(f"The green-wave scenario's {role} {edge_id!r} does not allow emergency vehicles.")
        return edge

    def route(self, from_edge: str, to_edge: str, max_speed: float) -> Route:
        start, end = self.edge(from_edge, "from_edge"), self.edge(to_edge, "to_edge")
        routes = self._fastest_routes(start, max_speed, {end.getID()})
        if end.getID() not in routes:
            raise Invalid(f"There is no route for an emergency vehicle from {from_edge!r} to {to_edge!r} in the network.")
        return routes[end.getID()]

    def longest_route(self, max_speed: float, time_left: float, seed: int) -> Route:
        """Among the fastest routes between fringe edges that fit in `time_left`, one crossing the most signals, chosen by `seed`."""
        exits = self._fringe_ids(incoming=False)
        candidates = [
            route
            for origin in sorted(self._fringe_ids(incoming=True))
            for route in self._fastest_routes(self.net.getEdge(origin), max_speed, exits).values()
            if route.signals and route.simple and FINISH_MARGIN * route.free_flow_time <= time_left
        ]
        if not candidates:
            raise Invalid(
                f"No route between the network's fringe edges crosses a signal with {FINISH_MARGIN:g} times its free-flow time left in the"
                f" {time_left:g} s after departure; give from_edge and to_edge, depart earlier or run longer."
            )
        most = max(len(route.signals) for route in candidates)
        best = sorted((route for route in candidates if len(route.signals) == most), key=lambda r: (r.from_edge, r.to_edge))
        return random.Random(seed).choice(best)

    def signals_on(self, edges: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.signal_between[pair] for pair in itertools.pairwise(edges) if pair in self.signal_between)

    def _fringe_ids(self, *, incoming: bool) -> set[str]:
        """Edges entering the network (nothing leads into them but U-turns) or, with incoming=False, leaving it."""
        fringe = set()
        for edge in self.net.getEdges():
            if edge.getFunction() == "internal" or not edge.allows("emergency"):
                continue
            links = edge.getIncoming() if incoming else edge.getOutgoing()
            if all(c.getDirection() in ("t", "T") for connections in links.values() for c in connections):
                fringe.add(edge.getID())
        return fringe

    def _fastest_routes(self, start, max_speed: float, ends: set[str]) -> dict[str, Route]:
        """Dijkstra over edges from `start`: the fastest route (travel time at free flow) to each of `ends` it reaches."""
        def seconds(edge) -> float:
            return edge.getLength() / min(edge.getSpeed(), max_speed)

        best = {start.getID(): seconds(start)}
        previous: dict[str, str] = {}
        queue = [(best[start.getID()], start.getID())]
        while queue:
            cost, edge_id = heapq.heappop(queue)
            if cost > best[edge_id]:
                continue
            for following in self.net.getEdge(edge_id).getOutgoing():
                if not following.allows("emergency"):
                    continue
                total = cost + seconds(following)
                if total < best.get(following.getID(), float("inf")):
                    best[following.getID()], previous[following.getID()] = total, edge_id
                    heapq.heappush(queue, (total, following.getID()))
        routes = {}
        for end_id in ends & best.keys():
            edges = [end_id]
            while edges[-1] in previous:
                edges.append(previous[edges[-1]])
            edges.reverse()
            junctions = [self.net.getEdge(e).getToNode().getID() for e in edges]
            routes[end_id] = Route(
                start.getID(), end_id, tuple(edges), self.signals_on(edges), best[end_id],
                sum(self.net.getEdge(e).getLength() for e in edges), len(set(junctions)) == len(junctions),
            )  # fmt: skip
        return routes


# --- the vehicle and its pre-emption -----------------------------------------------------------


@dataclass
class Preemption:
    """One signal held for the EV: its green phase position and when it was forced and released (s)."""

    intersection: str
    visit: int  # the signal's position among those on the route
    link: int  # the EV's link index at the signal
    phase: int
    forced_at: float
    released_at: float | None = None


@dataclass
class EmergencyVehicle:
    """Inserts the EV on its route and, if `preempting`, forces the signals ahead of it (an `Intervention`)."""

    route: Route
    depart: float
    max_speed: float
    lookahead: float
    preempting: bool
    release: bool = True
    halts: int = 0
    halted_seconds: float = 0.0
    departed_at: float | None = None
    arrived_at: float | None = None
    travel_time: float | None = None  # from the scheduled departure, as every trip's; None if it never entered
    preemptions: list[Preemption] = field(default_factory=list)
    _held: dict[str, Preemption] = field(default_factory=dict)
    _intersections: dict[str, Intersection] = field(default_factory=dict)
    _halted: bool = False
    _visits: int | None = None  # signals on the route, counted when the EV enters

    def start(self, simulation, intersections: Sequence[Intersection]) -> None:
        api = simulation.api
        self._intersections = {intersection.id: intersection for intersection in intersections}
        api.vehicletype.copy("DEFAULT_VEHTYPE", EV_TYPE)
        api.vehicletype.setVehicleClass(EV_TYPE, "emergency")
        api.vehicletype.setMaxSpeed(EV_TYPE, self.max_speed)
        api.vehicletype.setSpeedFactor(EV_TYPE, 1.0)
        api.vehicletype.setSpeedDeviation(EV_TYPE, 0.0)
        api.route.add(EV_TYPE, list(self.route.edges))
        api.vehicle.add(EV_ID, EV_TYPE, typeID=EV_TYPE, depart=str(self.depart), departLane="best", departSpeed="max")

    def after_step(self, simulation, now: float) -> None:
        if self.departed_at is None:
            if EV_ID not in simulation.simulation.getDepartedIDList():
                return
            self.departed_at = now
        if self.arrived_at is not None:
            return
        if EV_ID in simulation.simulation.getArrivedIDList():
            self.arrived_at = now
            self._release(set(self._held), now)
            return
        self._count_halt(simulation.vehicle.getSpeed(EV_ID))
        if self.preempting:
            self._preempt_ahead(simulation.vehicle.getNextTLS(EV_ID), simulation, now)

    def preempt(self, intersection: Intersection, now: float) -> int | None:
        held = self._held.get(intersection.id)
        return held.phase if held is not None else None

    def finish(self, trips) -> None:
        trip = next((trip for trip in trips if trip.vehicle == EV_ID), None)
        self.travel_time = trip.travel_time if trip is not None else None

    def _count_halt(self, speed: float) -> None:
        halted = speed < HALTING_SPEED
        if halted and not self._halted:
            self.halts += 1
        self.halted_seconds += halted
        self._halted = halted

    def _preempt_ahead(self, upcoming, simulation, now: float) -> None:
        """Hold each signal ahead within the lookahead green for the EV; a visit ends when the EV crosses the stop line.

        Visits are counted along the route (it may pass one signal twice), not named by link: the
        EV's link index changes when it changes lanes.
        """
        ahead = [(tls, link, distance) for tls, link, distance, _ in upcoming if tls in self._intersections]
        if self._visits is None:
            self._visits = len(ahead)
        passed = self._visits - len(ahead)
        if self.release:
            self._release({tls for tls, held in self._held.items() if held.visit < passed}, now)
        for visit, (tls, link, distance) in enumerate(ahead, start=passed):
            if distance > self.lookahead:
                break
            held = self._held.get(tls)
            if held is not None and held.visit == visit and self._intersections[tls].phases[held.phase].state[link] in GREEN:
                continue
            phase = self._serving_phase(self._intersections[tls], link, simulation.trafficlight.getRedYellowGreenState(tls))
            if phase is None:
                continue  # no green serves the link (a movement the signal never stops): nothing to force
            if held is not None and held.visit == visit:  # the EV changed lanes onto a link the held green does not serve
                held.link, held.phase = link, phase
                continue
            if held is not None:
                self._release({tls}, now)  # held for an earlier pass through the same signal
            self._held[tls] = Preemption(tls, visit, link, phase, now)
            self.preemptions.append(self._held[tls])

    @staticmethod
    def _serving_phase(intersection: Intersection, link: int, showing: str) -> int | None:
        """The green phase to force for the EV's link: a priority green ('G') before a yielding one ('g'), the one showing first."""
        serving = [position for position, phase in enumerate(intersection.phases) if phase.state[link] in GREEN]
        if not serving:
            return None
        return min(serving, key=lambda p: (intersection.phases[p].state[link] != "G", intersection.phases[p].state != showing, p))

    def _release(self, intersections: set[str], now: float) -> None:
        for tls in intersections:
            self._held.pop(tls).released_at = now


# --- the run kind ------------------------------------------------------------------------------


def run_seed(run: SeedRun) -> dict[str, Any]:
    """The seed simulated without, then with pre-emption; the EV's trip and the others' travel time in both."""
    from aicommons.scenarios.citybrain.simulation import run_episode

    scenario = run.scenario
    depart = departure(scenario, run.duration)
    roads = RoadNetwork.read(run.net_file)
    if scenario["from_edge"] is None:
        route = roads.longest_route(scenario["max_speed"], run.duration - depart, seed=run.seed)
    else:
        route = roads.route(scenario["from_edge"], scenario["to_edge"], scenario["max_speed"])
    arms = {}
    for index, (arm, preempting) in enumerate((("baseline", False), ("preempted", True))):
        vehicle = EmergencyVehicle(route, depart, scenario["max_speed"], scenario["lookahead"], preempting, scenario["release"])

        def progress(fraction: float, message: str, index: int = index, arm: str = arm) -> None:
            run.progress((index + fraction) / 2, f"{arm}: {message}")

        result = run_episode(
            run.net_file, run.route_file, run.controller(), timing=run.timing, seed=run.seed, duration=run.duration,
            progress=progress, interventions=[vehicle],
        )  # fmt: skip
        arms[arm] = (vehicle, result)
    return _record(run, route, depart, arms)


def _record(run: SeedRun, route: Route, depart: float, arms: dict) -> dict[str, Any]:
    """The EV's trip and the others' travel time in both runs; the others' average is the episode's without the EV."""
    others = arms["baseline"][1].vehicles - 1  # the same vehicles are due in both runs
    record: dict[str, Any] = {"seed": run.seed, "depart": depart, "others": others}
    others_totals = {}
    for arm, (vehicle, result) in arms.items():
        # A vehicle that never entered counts with its wait to the end, as in the episode's average.
        ev_time = vehicle.travel_time if vehicle.travel_time is not None else run.duration - depart
        others_totals[arm] = result.average_travel_time * result.vehicles - ev_time
        record |= {
            f"ev_travel_time_{arm}": ev_time,
            f"ev_arrived_{arm}": vehicle.arrived_at is not None,
            f"ev_stops_{arm}": vehicle.halts,
            f"ev_stopped_seconds_{arm}": vehicle.halted_seconds,
            f"others_average_travel_time_{arm}": others_totals[arm] / others if others else 0.0,
            arm: {metric: getattr(result, metric) for metric in (*SUMMARY_METRICS, "vehicles", "teleports")},
        }
    preempting, _ = arms["preempted"]
    record |= {
        "ev_travel_time_saved": record["ev_travel_time_baseline"] - record["ev_travel_time_preempted"],
        "others_delay_cost": record["others_average_travel_time_preempted"] - record["others_average_travel_time_baseline"],
        "others_delay_cost_vehicle_hours": (others_totals["preempted"] - others_totals["baseline"]) / 3600,
        "intersections_preempted": len(preempting.preemptions),
        "preemptions": [dataclasses.asdict(p) for p in preempting.preemptions],
        "route": {
            "from_edge": route.from_edge, "to_edge": route.to_edge, "edges": list(route.edges), "signals": list(route.signals),
            "length": route.length, "free_flow_time": route.free_flow_time,
        },
    }  # fmt: skip
    return record


def summarise(episodes: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean ± sample std over seeds of the EV's travel times and stops and the others' delay cost."""
    return summarise_metrics(episodes, SUMMARY)


run_kinds.add("green-wave", RunKind(
    "green-wave",
    "An emergency vehicle's route pre-empts the signals: its travel time with and without pre-emption, and the delay it costs the others.",
    check_scenario, run_seed, summarise, headline="ev_travel_time_saved", check_network=check_on_network,
    columns=(
        "ev_travel_time_baseline", "ev_travel_time_preempted", "ev_travel_time_saved", "ev_stops_baseline", "ev_stops_preempted",
        "others_delay_cost", "others_delay_cost_vehicle_hours", "intersections_preempted",
    ),
))  # fmt: skip
