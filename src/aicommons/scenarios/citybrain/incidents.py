"""Incident detection from loop-detector data (run kind "incidents").

Each seed injects lane-blocking incidents at random times and places, detects them from induction
loops alone, and scores the alarms against the incidents that really happened.

- **Detectors.** Every lane entering a signalised intersection gets SUMO induction loops (E1),
  written into a generated additional file: a *stop-line station* `STOP_LINE_SETBACK` metres
  before the stop line (where SCATS-style systems have theirs) and *mid-block stations* every
  `spacing` metres upstream of it, none closer than `FIRST_STATION` metres to the lane's start
  (vehicles leaving the junction behind are still turning and accelerating there). Two
  consecutive stations of a lane bound a *segment*. Every `interval` seconds each loop reports the
  interval's occupancy (%), vehicle count and mean speed — what a traffic control centre polls.
  The 50 m default is a dense, research layout: with one station mid-block (`spacing` 300) most
  incidents on Hangzhou's 570–790 m links would lie where no loop sees their effect.
- **Incidents.** A broken-down vehicle: inserted standing at a random position of a random
  segment (weighted by length, at least `clearance` metres from either end of the lane, at least
  `LOOP_GAP` metres from any loop) with a stop there (`vehicle.setStop`), so SUMO's own car-
  following and lane-changing make the traffic queue behind it and squeeze past in the
  neighbouring lanes, as behind a real wreck; after `blockage` seconds it is towed (removed).
  Closing the lane instead (`lane.setDisallowed`) would make vehicles re-plan their lanes from
  afar, which real drivers cannot. The onset is when SUMO actually inserts the vehicle (it waits
  for a safe gap). Incidents never overlap: after `warmup`, the rest of the run is cut into
  `count` equal slots and each incident starts in its slot early enough to end, plus `grace`,
  inside it. `count` 0 runs incident-free traffic, to measure false alarms alone.
- **Detection** uses the loops and the signal states only, never the simulator's vehicles. Each
  interval, every lane is judged on the sums of its stations' last `window` intervals:
  - *congested* (California-style, per segment): the upstream station is occupied at least
    `occupancy` % or passes vehicles at under `speed_ratio` of their usual speed there, while the
    downstream station's occupancy is at most (1 − `relative_difference`) of the upstream one
    (OCCRDF). A red-light queue reaching the upstream station covers the stop line too, so it
    fails that test; and a segment ending at the stop line is only judged when its movement was
    green at least `min_green` s in every interval of the window: the tell is a queue that does
    not discharge while green.
  - *starved* (per segment): vehicles reach the upstream station and none leave downstream, where
    the segment's own record says at least `min_vehicles` should have.
  - *deserted* (per mid-block station): a station counts nobody while its usual share of the
    vehicles crossing that position on the edge's lanes says at least `deserted_vehicles` should
    have passed: drivers are avoiding the lane (a lane-share anomaly; with a Poisson count the
    silence has probability under e^-`deserted_vehicles`). In SUMO this is the strongest sign in
    light traffic, as drivers leave the blocked lane well before the blockage and rejoin it some
    way after; the stop-line stations are left out (each lane has its own green).
  The records ("norms") are learnt online from readings that raise no suspicion, once they rest on
  `NORM_VEHICLES` vehicles. A lane raises one alarm, naming it, once its suspicion has lasted
  `confirm` consecutive intervals, and stays in alarm until it reads normal again. Confirmation is
  what buys sensitivity: a lull of a few minutes empties a lane now and then, a blockage empties it
  for as long as it stands. On Hangzhou HZ-1 (1 h, max-pressure, seeds 0-2, 3 incidents of 600 s)
  the defaults (`window` 8, `deserted_vehicles` 4, `confirm` 4) detect 6 of 9 incidents with 1.45
  false alarms an hour, with and without incidents (seed by seed 0/1.1/3.3), 367 s mean time to
  detect; without confirmation (`window` 6, 6 vehicles, `confirm` 1) 3 of 9 at 0.7-1.1 an hour
  and 252 s; `window` 10, 4 vehicles unconfirmed 7 of 9 but 13-17 false alarms an hour; `window` 10,
  `confirm` 3: 7 of 9 at 2.2-3.6 an hour. The three missed incidents stood on lanes carrying a
  vehicle every few minutes, where a silent loop says nothing. Requiring two adjacent silent
  stations instead, or a binomial tail in place of the Poisson one, did worse.
- **Scoring.** An alarm detects an incident when it names a lane of the incident's edge or of an
  edge leading into it (a queue may spill back over the junction) and comes at or after the onset
  and at most `grace` seconds after the clearance; every other alarm is false. Alarms start after
  the warm-up; false alarms per hour are counted over the time after it. Detection rate is
  detected / started incidents; the time to detect is from onset to the first detecting alarm.
"""

from __future__ import annotations

import math
import random
import tempfile
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain.network import GREEN, Intersection, read_network
from aicommons.scenarios.citybrain.runs import RunKind, SeedRun, run_kinds, summarise_metrics

STOP_LINE_SETBACK = 5.0  # m before the stop line: the stop-line station
FIRST_STATION = 30.0  # m: no station closer than this to a lane's start
LOOP_GAP = 10.0  # m: an incident keeps this far from every loop
NORM_VEHICLES = 10  # vehicles a segment must have seen before its own record is trusted
INCIDENT_PREFIX = "citybrain-incident-"
DEFAULTS: dict[str, Any] = {
    "count": 3,  # incidents per episode; 0 measures false alarms on incident-free traffic
    "blockage": 600.0,  # s a lane stays blocked
    "warmup": 300.0,  # s before the first incident and the first alarm
    "grace": 120.0,  # s after clearance an alarm still counts as detecting the incident
    "clearance": 50.0,  # m an incident keeps from either end of its lane
    "spacing": 50.0,  # m between a lane's stations
    "interval": 30.0,  # s: the loops' aggregation interval
    "occupancy": 15.0,  # % at the upstream station that marks it congested
    "speed_ratio": 0.5,  # vehicles under this fraction of their usual speed there mark it congested
    "relative_difference": 0.5,  # OCCRDF: (upstream − downstream occupancy) / upstream at least this
    "min_vehicles": 6,  # vehicles expected to leave a segment in a window (its own record), none did: the lane is blocked
    "deserted_vehicles": 4,  # vehicles a silent station's usual share of its row says should have passed in a window: deserted
    "min_green": 10.0,  # s of green an interval needs before a stop-line segment is judged
    "window": 8,  # intervals the evidence is summed over
    "confirm": 4,  # consecutive intervals a lane's evidence must last before it raises an alarm
}
_RANGES: dict[str, tuple[float, float, str]] = {  # name → (low, high, unit); every bound inclusive
    "blockage": (30.0, 7200.0, "a number of seconds"),
    "warmup": (0.0, 7200.0, "a number of seconds"),
    "grace": (0.0, 1800.0, "a number of seconds"),
    "clearance": (10.0, 1000.0, "a number of metres"),
    "spacing": (30.0, 1000.0, "a number of metres"),
    "interval": (5.0, 300.0, "a number of seconds"),
    "occupancy": (1.0, 100.0, "a percentage"),
    "speed_ratio": (0.0, 1.0, "a fraction of the usual speed"),
    "relative_difference": (0.0, 1.0, "a fraction"),
    "min_green": (0.0, 300.0, "a number of seconds"),
}
MAX_COUNT, MAX_WINDOW, MAX_VEHICLES, MAX_CONFIRM = 50, 20, 100, 20
SUMMARY = (
    "detection_rate", "false_alarms_per_hour", "mean_time_to_detect", "incidents", "detected", "false_alarms", "average_travel_time",
)  # fmt: skip


# --- the scenario ------------------------------------------------------------------------------


def check_scenario(scenario: dict[str, Any]) -> dict[str, Any]:
    """The parameters checked for type and range, defaults filled in; the network is checked by `check_on_network`."""
    unknown = sorted(set(scenario) - set(DEFAULTS))
    if unknown:
        raise Invalid(f"Unknown incidents scenario parameter(s) {unknown}; known: {sorted(DEFAULTS)}.")
    checked = {**DEFAULTS, **scenario}
    for name, (low, high, unit) in _RANGES.items():
        value = checked[name]
        if not (isinstance(value, int | float) and not isinstance(value, bool) and low <= value <= high):
            raise Invalid(f"The incidents scenario's {name!r} must be {unit} from {low:g} to {high:g}; got {value!r}.")
        checked[name] = float(value)
    whole = (("count", 0, MAX_COUNT), ("window", 1, MAX_WINDOW), ("min_vehicles", 1, MAX_VEHICLES), ("deserted_vehicles", 1, MAX_VEHICLES),
             ("confirm", 1, MAX_CONFIRM))  # fmt: skip
    for name, low, high in whole:
        value = checked[name]
        if not (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high):
            raise Invalid(f"The incidents scenario's {name!r} must be a whole number from {low} to {high}; got {value!r}.")
    if checked["interval"] != round(checked["interval"]):
        raise Invalid(f"The incidents scenario's 'interval' must be whole seconds (the simulation steps 1 s); got {checked['interval']!r}.")
    return checked


def check_on_network(scenario: dict[str, Any], net_file: Path, duration: float) -> None:
    """Invalid unless the incidents fit in `duration` and the network has a segment to place them in."""
    _slot(scenario, duration)
    if scenario["count"] and not Layout.read(net_file, scenario).segments:
        raise Invalid(
            f"The network has no lane with two loop stations {scenario['spacing']:g} m apart and room for an incident"
            f" {scenario['clearance']:g} m from its ends; lower 'spacing' or 'clearance'."
        )


def _slot(scenario: dict[str, Any], duration: float) -> float:
    """The time each incident has to itself: start, blockage and grace."""
    if scenario["warmup"] >= duration:
        raise Invalid(f"The incidents scenario's 'warmup' ({scenario['warmup']:g} s) must end before the run does ({duration:g} s).")
    slot = (duration - scenario["warmup"]) / max(scenario["count"], 1)
    if scenario["count"] and slot < scenario["blockage"] + scenario["grace"]:
        raise Invalid(
            f"{scenario['count']} incidents of {scenario['blockage']:g} s, each with {scenario['grace']:g} s of grace, do not fit in the"
            f" {duration - scenario['warmup']:g} s after the warm-up; run longer or ask for fewer or shorter incidents."
        )
    return slot


# --- the detector layout -----------------------------------------------------------------------


@dataclass(frozen=True)
class Station:
    loop: str  # the E1 detector id
    lane: str
    index: int  # 0 at the stop line, counting upstream
    position: float  # m from the lane's start


@dataclass(frozen=True)
class Segment:
    """The stretch of a lane between two consecutive stations, `upstream` before `downstream`."""

    lane: str
    edge: str
    upstream: Station
    downstream: Station
    at_stop_line: bool  # `downstream` is the stop-line station
    placeable: tuple[float, float] | None  # where an incident may go (clearance and loop gap respected), if anywhere


@dataclass
class Layout:
    """The loop stations of every lane entering a signalised intersection, and the network facts scoring needs."""

    stations: list[Station]
    segments: list[Segment]
    rows: list[tuple[Station, ...]]  # the mid-block stations at one position across the lanes of an edge (two lanes or more)
    edges: dict[str, str]  # lane → its edge (every lane with stations)
    feeders: dict[str, set[str]]  # edge → the edges leading into it

    @classmethod
    def read(cls, net_file: Path, scenario: dict[str, Any]) -> Layout:
        import sumolib  # imported here so the package imports without the citybrain extra

        net = sumolib.net.readNet(str(net_file))
        lanes = dict.fromkeys(lane for intersection in read_network(net_file) for lane in intersection.incoming_lanes)
        stations, segments, edges = [], [], {}
        rows: dict[tuple[str, int], list[Station]] = {}
        for lane_id in lanes:
            lane = net.getLane(lane_id)
            length, edge = lane.getLength(), lane.getEdge().getID()
            edges[lane_id] = edge
            positions = []
            position = length - STOP_LINE_SETBACK
            while position >= FIRST_STATION:
                positions.append(position)
                position -= scenario["spacing"]
            lane_stations = [Station(f"{lane_id}@{index}", lane_id, index, p) for index, p in enumerate(positions)]
            stations += lane_stations
            for station in lane_stations[1:]:
                rows.setdefault((edge, station.index), []).append(station)
            for index in range(len(lane_stations) - 1):
                down, up = lane_stations[index], lane_stations[index + 1]
                low = max(up.position + LOOP_GAP, scenario["clearance"])
                high = min(down.position - LOOP_GAP, length - scenario["clearance"])
                segments.append(Segment(lane_id, edge, up, down, index == 0, (low, high) if high > low else None))
        feeders = {edge.getID(): {e.getID() for e in edge.getIncoming()} for edge in net.getEdges()}
        return cls(stations, segments, [tuple(row) for row in rows.values() if len(row) > 1], edges, feeders)

    def additional_file(self, folder: Path, interval: float) -> Path:
        """The loops as a SUMO additional file; values are read through the API, so nothing is written to disk."""
        path = Path(folder) / "incident-detectors.add.xml"
        loops = "\n".join(
            f'  <inductionLoop id={quoteattr(s.loop)} lane={quoteattr(s.lane)} pos="{s.position:.2f}" period="{interval:g}" file="NUL"/>'
            for s in self.stations
        )
        path.write_text(f"<additional>\n{loops}\n</additional>\n", encoding="utf-8")
        return path


# --- incidents ---------------------------------------------------------------------------------


@dataclass
class Incident:
    """A vehicle standing on `lane` at `position` from `scheduled` for `blockage` seconds; onset and clearance as they happened."""

    vehicle: str
    lane: str
    edge: str
    position: float
    scheduled: float
    blockage: float
    onset: float | None = None  # when SUMO inserted it (it waits for a safe gap)
    cleared: float | None = None  # when it was towed
    detected_at: float | None = None
    detected_on: str | None = None  # the lane the detecting alarm named

    @property
    def time_to_detect(self) -> float | None:
        return self.detected_at - self.onset if self.detected_at is not None and self.onset is not None else None


def schedule(layout: Layout, scenario: dict[str, Any], duration: float, seed: int) -> list[Incident]:
    """`count` incidents, one per slot after the warm-up, each on a segment chosen in proportion to the room it has."""
    count = scenario["count"]
    if not count:
        return []
    slot = _slot(scenario, duration)
    rng = random.Random(seed)
    room = [(s, s.placeable[1] - s.placeable[0]) for s in layout.segments if s.placeable is not None]
    incidents = []
    for index in range(count):
        segment = rng.choices([s for s, _ in room], weights=[r for _, r in room])[0]
        start = scenario["warmup"] + index * slot
        latest = start + slot - scenario["blockage"] - scenario["grace"]
        incidents.append(Incident(
            vehicle=f"{INCIDENT_PREFIX}{index}", lane=segment.lane, edge=segment.edge, position=round(rng.uniform(*segment.placeable), 1),
            scheduled=float(math.floor(rng.uniform(start, latest))), blockage=scenario["blockage"],
        ))  # fmt: skip
    return incidents


# --- detection ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One loop's last aggregation interval."""

    occupancy: float  # % of the interval a vehicle covered the loop
    vehicles: int
    speed: float  # m/s mean over the vehicles; negative when none passed


@dataclass(frozen=True)
class Alarm:
    time: float
    lane: str
    edge: str
    reason: str  # "congested", "starved" or "deserted"
    position: float  # m from the lane's start: the station (deserted) or the segment's upstream station


@dataclass
class _Norm:
    """What a segment or station does in normal readings: vehicles counted there per vehicle counted at its reference, and their speed."""

    reference: int = 0
    counted: int = 0
    speed_sum: float = 0.0

    def learn(self, reference: int, counted: int, speed_sum: float = 0.0) -> None:
        self.reference, self.counted, self.speed_sum = self.reference + reference, self.counted + counted, self.speed_sum + speed_sum

    def ratio(self) -> float | None:
        return self.counted / self.reference if self.reference >= NORM_VEHICLES else None

    def speed(self) -> float | None:
        return self.speed_sum / self.reference if self.reference >= NORM_VEHICLES else None


@dataclass
class Detector:
    """Judges every lane each interval from its loops over the last `window` intervals (see the module documentation)."""

    layout: Layout
    occupancy: float
    speed_ratio: float
    relative_difference: float
    min_vehicles: int
    deserted_vehicles: int
    min_green: float
    window: int
    confirm: int
    history: dict[str, deque] = field(default_factory=dict)  # loop → its last `window` readings
    greens: dict[str, deque] = field(default_factory=dict)  # lane → its last `window` seconds of green
    norms: dict[Any, _Norm] = field(default_factory=dict)  # a segment, or a mid-block station → its norm
    streaks: dict[str, int] = field(default_factory=dict)  # lane → consecutive intervals with evidence against it
    in_alarm: set[str] = field(default_factory=set)  # lanes

    @classmethod
    def from_scenario(cls, layout: Layout, scenario: dict[str, Any]) -> Detector:
        return cls(layout, scenario["occupancy"], scenario["speed_ratio"], scenario["relative_difference"], scenario["min_vehicles"],
                   scenario["deserted_vehicles"], scenario["min_green"], scenario["window"], scenario["confirm"])  # fmt: skip

    def update(self, now: float, readings: dict[str, Reading], green_seconds: dict[str, float]) -> list[Alarm]:
        """The alarms raised by this interval's readings (loop id → reading; lane → seconds of green in the interval)."""
        for loop, reading in readings.items():
            self.history.setdefault(loop, deque(maxlen=self.window)).append(reading)
        for lane in self.layout.edges:
            self.greens.setdefault(lane, deque(maxlen=self.window)).append(green_seconds.get(lane, 0.0))
        evidence: dict[str, tuple[str, float]] = {}
        for segment in self.layout.segments:
            reason = self._judge_segment(segment)
            if reason is not None:
                evidence.setdefault(segment.lane, (reason, segment.upstream.position))
        for row in self.layout.rows:
            for station in self._deserted(row):
                evidence.setdefault(station.lane, ("deserted", station.position))
        alarms = []
        for lane in self.layout.edges:
            self.streaks[lane] = self.streaks.get(lane, 0) + 1 if lane in evidence else 0
            if lane not in evidence:
                self.in_alarm.discard(lane)
            elif self.streaks[lane] >= self.confirm and lane not in self.in_alarm:
                self.in_alarm.add(lane)
                alarms.append(Alarm(now, lane, self.layout.edges[lane], *evidence[lane]))
        return alarms

    def _full(self, loop: str) -> deque | None:
        history = self.history.get(loop)
        return history if history is not None and len(history) == self.window else None

    def _judge_segment(self, segment: Segment) -> str | None:
        """"congested": upstream occupied or slow while downstream is not (OCCRDF); "starved": vehicles arrive, none leave where they
        normally do; None: normal or no evidence. A stop-line segment is only judged after `min_green` s of green in each interval."""
        up, down = self._full(segment.upstream.loop), self._full(segment.downstream.loop)
        if up is None or down is None or (segment.at_stop_line and min(self.greens[segment.lane]) < self.min_green):
            return None
        norm = self.norms.setdefault(segment, _Norm())
        up_occupancy, down_occupancy = _mean(r.occupancy for r in up), _mean(r.occupancy for r in down)
        arrived, left = sum(r.vehicles for r in up), sum(r.vehicles for r in down)
        speed_sum = sum(max(r.speed, 0.0) * r.vehicles for r in up)
        usual_speed, usual_passing = norm.speed(), norm.ratio()
        slow = arrived >= self.min_vehicles and usual_speed is not None and speed_sum / arrived < self.speed_ratio * usual_speed
        if (up_occupancy >= self.occupancy or slow) and down_occupancy <= (1 - self.relative_difference) * up_occupancy:
            return "congested"
        if usual_passing is not None and usual_passing * arrived >= self.min_vehicles and left == 0:
            return "starved"
        norm.learn(up[-1].vehicles, down[-1].vehicles, max(up[-1].speed, 0.0) * up[-1].vehicles)  # only normal readings teach the norm
        return None

    def _deserted(self, row: Sequence[Station]) -> list[Station]:
        """The stations of a row (one mid-block position across an edge's lanes) that counted nobody where their share of the row's
        vehicles says `deserted_vehicles` or more should have passed: drivers avoid the lane."""
        counts = {}
        for station in row:
            history = self._full(station.loop)
            if history is None:
                return []
            counts[station] = sum(r.vehicles for r in history)
        total = sum(counts.values())
        deserted = []
        for station, count in counts.items():
            norm = self.norms.setdefault(station, _Norm())
            share = norm.ratio()
            if count == 0 and share is not None and share * total >= self.deserted_vehicles:
                deserted.append(station)
        if not deserted:
            for station in row:
                norm = self.norms[station]
                norm.learn(sum(self.history[s.loop][-1].vehicles for s in row), self.history[station.loop][-1].vehicles)
        return deserted


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


# --- the intervention --------------------------------------------------------------------------


@dataclass
class IncidentsAndLoops:
    """Injects the incidents, reads the loops and signal states every interval, and feeds the detector (an `Intervention`)."""

    layout: Layout
    detector: Detector
    incidents: list[Incident]
    interval: float
    warmup: float
    alarms: list[Alarm] = field(default_factory=list)
    _links: dict[str, tuple[str, tuple[int, ...]]] = field(default_factory=dict)  # lane → (signal, its link indices)
    _green: dict[str, float] = field(default_factory=dict)

    def start(self, simulation, intersections: Sequence[Intersection]) -> None:
        api = simulation.api
        for incident in self.incidents:
            lane_index = int(incident.lane.rsplit("_", 1)[1])
            api.route.add(incident.vehicle, [incident.edge])
            api.vehicle.add(incident.vehicle, incident.vehicle, depart=str(incident.scheduled), departLane=str(lane_index),
                            departPos=str(incident.position), departSpeed="0")  # fmt: skip
            api.vehicle.setStop(incident.vehicle, incident.edge, pos=incident.position, laneIndex=lane_index, duration=incident.blockage)
        lanes = set(self.layout.edges)
        for intersection in intersections:
            indices: dict[str, list[int]] = {}
            for index, links in enumerate(simulation.trafficlight.getControlledLinks(intersection.id)):
                for in_lane, _, _ in links:
                    if in_lane in lanes:
                        indices.setdefault(in_lane, []).append(index)
            self._links |= {lane: (intersection.id, tuple(found)) for lane, found in indices.items()}
        self._green = dict.fromkeys(self._links, 0.0)

    def after_step(self, simulation, now: float) -> None:
        self._track_incidents(simulation, now)
        states = {signal: simulation.trafficlight.getRedYellowGreenState(signal) for signal, _ in set(self._links.values())}
        for lane, (signal, indices) in self._links.items():
            if any(states[signal][index] in GREEN for index in indices):
                self._green[lane] += 1.0
        if now % self.interval:
            return
        loops = simulation.api.inductionloop
        readings = {
            s.loop: Reading(loops.getLastIntervalOccupancy(s.loop), loops.getLastIntervalVehicleNumber(s.loop), loops.getLastIntervalMeanSpeed(s.loop))
            for s in self.layout.stations
        }
        raised = self.detector.update(now, readings, self._green)
        if now > self.warmup:
            self.alarms += raised
        self._green = dict.fromkeys(self._links, 0.0)

    def _track_incidents(self, simulation, now: float) -> None:
        departed = set(simulation.simulation.getDepartedIDList())
        for incident in self.incidents:
            if incident.onset is None and incident.vehicle in departed:
                incident.onset = now
            elif incident.onset is not None and incident.cleared is None and now >= incident.onset + incident.blockage:
                incident.cleared = now
                if incident.vehicle in simulation.vehicle.getIDList():
                    simulation.vehicle.remove(incident.vehicle)  # towed

    def preempt(self, intersection: Intersection, now: float) -> int | None:
        return None

    def finish(self, trips) -> None:
        pass


# --- scoring -----------------------------------------------------------------------------------


@dataclass
class Score:
    incidents: int  # those that started
    detected: int
    false_alarms: int
    detection_rate: float | None
    false_alarms_per_hour: float
    mean_time_to_detect: float | None


def score(incidents: Sequence[Incident], alarms: Sequence[Alarm], feeders: dict[str, set[str]], *, grace: float, monitored: float, end: float) -> Score:
    """Match alarms to incidents (see the module documentation); sets each incident's `detected_at`/`detected_on`.

    `monitored` is the time alarms could be raised in (after the warm-up); an incident still
    blocking at `end` is open until then.
    """
    started = [i for i in incidents if i.onset is not None]
    false_alarms = 0
    for alarm in sorted(alarms, key=lambda a: a.time):
        matched = [i for i in started if _points_at(alarm, i, feeders, grace, end)]
        if not matched:
            false_alarms += 1
        for incident in matched:
            if incident.detected_at is None:
                incident.detected_at, incident.detected_on = alarm.time, alarm.lane
    detected = [i for i in started if i.detected_at is not None]
    return Score(
        incidents=len(started),
        detected=len(detected),
        false_alarms=false_alarms,
        detection_rate=len(detected) / len(started) if started else None,
        false_alarms_per_hour=false_alarms / monitored * 3600 if monitored > 0 else 0.0,
        mean_time_to_detect=sum(i.time_to_detect for i in detected) / len(detected) if detected else None,
    )


def _points_at(alarm: Alarm, incident: Incident, feeders: dict[str, set[str]], grace: float, end: float) -> bool:
    cleared = incident.cleared if incident.cleared is not None else end
    where = alarm.edge == incident.edge or alarm.edge in feeders.get(incident.edge, set())
    return where and incident.onset <= alarm.time <= cleared + grace


# --- the run kind ------------------------------------------------------------------------------


def run_seed(run: SeedRun) -> dict[str, Any]:
    """One episode with the seed's incidents, detected from the loops and scored."""
    from aicommons.scenarios.citybrain.simulation import run_episode

    scenario = run.scenario
    layout = Layout.read(run.net_file, scenario)
    watch = IncidentsAndLoops(
        layout, Detector.from_scenario(layout, scenario), schedule(layout, scenario, run.duration, run.seed), scenario["interval"], scenario["warmup"]
    )
    with tempfile.TemporaryDirectory(prefix="citybrain-incidents-") as scratch:
        detectors = layout.additional_file(Path(scratch), scenario["interval"])
        result = run_episode(
            run.net_file, run.route_file, run.controller(), timing=run.timing, seed=run.seed, duration=run.duration,
            progress=run.progress, interventions=[watch], additional_files=[detectors],
        )  # fmt: skip
    scored = score(watch.incidents, watch.alarms, layout.feeders, grace=scenario["grace"], monitored=run.duration - scenario["warmup"], end=run.duration)
    return {
        "seed": run.seed,
        **asdict(scored),
        "stations": len(layout.stations),
        "average_travel_time": result.average_travel_time,
        "throughput": result.throughput,
        "per_incident": [
            {"lane": i.lane, "position": i.position, "scheduled": i.scheduled, "onset": i.onset, "cleared": i.cleared,
             "detected_at": i.detected_at, "detected_on": i.detected_on, "time_to_detect": i.time_to_detect}
            for i in watch.incidents
        ],
        "alarms": [asdict(alarm) for alarm in watch.alarms],
    }  # fmt: skip


def summarise(episodes: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean ± sample std over seeds of detection rate, false alarms per hour and time to detect."""
    return summarise_metrics(episodes, SUMMARY)


run_kinds.add("incidents", RunKind(
    "incidents",
    "Lane-blocking incidents at random times and places, detected from induction loops: detection rate, false alarms per hour, time to detect.",
    check_scenario, run_seed, summarise, headline="detection_rate", check_network=check_on_network,
    columns=("incidents", "detected", "detection_rate", "false_alarms", "false_alarms_per_hour", "mean_time_to_detect"),
))  # fmt: skip
