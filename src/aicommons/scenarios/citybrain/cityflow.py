"""CityFlow → SUMO: convert a CityFlow roadnet.json and flow.json into a SUMO network and routes.

Written from the two formats' documentation (CityFlow "Roadnet File Format" and "Flow File Format";
SUMO "PlainXML" and "Definition of Vehicles, Vehicle Types, and Routes"), so the CityFlow benchmark
datasets (Hangzhou, Jinan) run on SUMO. The mapping:

- every CityFlow intersection becomes a SUMO node at its point; a non-virtual one with a signal plan
  becomes a static traffic light of the same id, a virtual one (the border) a priority node;
- every road becomes an edge of the same id along its points, one SUMO lane per CityFlow lane
  (width and speed per lane). CityFlow counts lanes from the inside (0 = next to the centre line,
  the left-most), SUMO from the kerb (0 = right-most), so CityFlow lane i is SUMO lane n-1-i;
- every laneLink becomes one SUMO connection, and so one signal-state position (link index);
- every CityFlow light phase becomes a SUMO phase over those positions with the CityFlow time. The
  phase whose open road links are open in every other phase (CityFlow's phase 0: 5 s with only the
  right turns open) is the clearance phase: it becomes the yellow that follows each green, so the
  program is green₁, yellow, green₂, yellow, … as SUMO controllers expect;
- flows become vehicles: one every `interval` seconds from `startTime` to `endTime` inclusive,
  following the route's roads (CityFlow routes may list only waypoints: gaps are filled with the
  shortest path, as CityFlow's router does), sorted by departure.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aicommons.core.errors import Invalid

# CityFlow road-link types, ranked by who keeps priority when two conflicting ones are green together
# (a straight movement goes first, then a left turn, then a right turn, as road traffic law has it).
MOVEMENT_RANK = {"go_straight": 2, "turn_left": 1, "turn_right": 0}
# The yellow inserted between greens when a CityFlow plan has no clearance phase of its own.
DEFAULT_YELLOW = 3.0
# How far flows with endTime -1 ("no end" in CityFlow) are generated.
DEFAULT_HORIZON = 3600.0
VEHICLE_FIELDS = (
    "length", "width", "maxPosAcc", "maxNegAcc", "usualPosAcc", "usualNegAcc", "minGap", "maxSpeed", "headwayTime",
)


@dataclass(frozen=True)
class Converted:
    net_file: Path
    route_file: Path
    intersections: int  # signalised intersections (traffic lights)
    roads: int  # edges, internal ones excluded
    lanes: int
    vehicles: int


def convert(
    roadnet: Path, flow: Path, out_dir: Path, *, name: str | None = None, horizon: float = DEFAULT_HORIZON
) -> Converted:
    """Write `<name>.nod/.edg/.con/.tll.xml`, build `<name>.net.xml` with netconvert and write `<name>.rou.xml`.

    `name` defaults to the flow file's stem; `horizon` bounds flows that never end (endTime -1).
    """
    roadnet, flow, out_dir = Path(roadnet), Path(flow), Path(out_dir)
    network = read_roadnet(roadnet)
    vehicles = read_flows(flow, network, horizon=horizon)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = out_dir / (name or flow.stem)
    plain = {kind: stem.with_name(f"{stem.name}.{kind}.xml") for kind in ("nod", "edg", "con", "tll")}
    _write_xml(plain["nod"], _nodes_xml(network))
    _write_xml(plain["edg"], _edges_xml(network))
    _write_xml(plain["con"], _connections_xml(network))
    _write_xml(plain["tll"], _signals_xml(network))
    net_file = stem.with_name(f"{stem.name}.net.xml")
    run_netconvert(plain, net_file)
    route_file = stem.with_name(f"{stem.name}.rou.xml")
    _write_xml(route_file, _routes_xml(vehicles))
    return Converted(
        net_file=net_file,
        route_file=route_file,
        intersections=sum(1 for node in network.nodes.values() if node.signal is not None),
        roads=len(network.roads),
        lanes=sum(len(road.lanes) for road in network.roads.values()),
        vehicles=len(vehicles),
    )


# ---------------------------------------------------------------------------------------------------
# Reading CityFlow: plain records, every field checked so a bad file fails with its name and the field.


@dataclass(frozen=True)
class Lane:
    width: float
    max_speed: float


@dataclass(frozen=True)
class Road:
    id: str
    start: str  # intersection ids
    end: str
    points: tuple[tuple[float, float], ...]
    lanes: tuple[Lane, ...]

    @property
    def length(self) -> float:
        return sum(math.dist(a, b) for a, b in itertools.pairwise(self.points))

    def sumo_lane(self, cityflow_index: int) -> int:
        """CityFlow numbers lanes from the centre line outwards, SUMO from the kerb inwards."""
        return len(self.lanes) - 1 - cityflow_index


@dataclass(frozen=True)
class LaneLink:
    start_lane: int  # CityFlow lane indices
    end_lane: int
    points: tuple[tuple[float, float], ...]  # the path through the intersection; may be empty


@dataclass(frozen=True)
class RoadLink:
    type: str  # go_straight, turn_left, turn_right
    start_road: str
    end_road: str
    lane_links: tuple[LaneLink, ...]


@dataclass(frozen=True)
class LightPhase:
    time: float
    open_links: frozenset[int]  # indices into the intersection's road links


@dataclass(frozen=True)
class Node:
    id: str
    x: float
    y: float
    road_links: tuple[RoadLink, ...]
    signal: tuple[LightPhase, ...] | None  # None: not signalised (virtual, or no plan)


@dataclass(frozen=True)
class Network:
    nodes: dict[str, Node]
    roads: dict[str, Road]


@dataclass(frozen=True)
class Vehicle:
    id: str
    depart: float
    edges: tuple[str, ...]
    vtype: tuple[float, ...]  # the flow's vehicle parameters in VEHICLE_FIELDS order


class _Fields:
    """Typed access to a JSON object that names the file and the place of a missing or bad field."""

    def __init__(self, file: Path, where: str, value: Any):
        if not isinstance(value, dict):
            raise Invalid(f"{file}: {where} must be a JSON object, got {type(value).__name__}")
        self.file, self.where, self.value = file, where, value

    def _get(self, key: str) -> Any:
        if key not in self.value:
            raise Invalid(f"{self.file}: {self.where} lacks the field {key!r}")
        return self.value[key]

    def _bad(self, key: str, expected: str) -> Invalid:
        return Invalid(f"{self.file}: field {key!r} of {self.where} must be {expected}, got {self.value[key]!r}")

    def text(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str) or not value:
            raise self._bad(key, "a non-empty string")
        return value

    def number(self, key: str, default: float | None = None) -> float:
        if default is not None and key not in self.value:
            return default
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self._bad(key, "a number")
        return float(value)

    def index(self, key: str, size: int) -> int:
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
            raise self._bad(key, f"an integer from 0 to {size - 1}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        value = self.value.get(key, default)
        if not isinstance(value, bool):
            raise self._bad(key, "true or false")
        return value

    def items(self, key: str, *, required: bool = True) -> list:
        if not required and key not in self.value:
            return []
        value = self._get(key)
        if not isinstance(value, list):
            raise self._bad(key, "a list")
        return value

    def child(self, key: str, where: str) -> _Fields:
        return _Fields(self.file, where, self._get(key))

    def point(self, key: str | None = None) -> tuple[float, float]:
        fields = self if key is None else self.child(key, f"{key} of {self.where}")
        return fields.number("x"), fields.number("y")


def _load_json(file: Path) -> Any:
    if not file.is_file():
        raise Invalid(f"{file} must be an existing CityFlow JSON file")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise Invalid(f"{file} is not valid JSON: {error}") from error


def read_roadnet(file: Path) -> Network:
    """The roads and intersections of a CityFlow roadnet.json, references between them checked."""
    top = _Fields(file, "the roadnet", _load_json(file))
    roads = {}
    for position, raw in enumerate(top.items("roads")):
        road = _read_road(_Fields(file, f"roads[{position}]", raw))
        if road.id in roads:
            raise Invalid(f"{file}: road id {road.id!r} appears twice")
        roads[road.id] = road
    raw_intersections = top.items("intersections")
    # Roads are checked against the intersection ids first, so a misspelt end is reported as such
    # rather than as a road link that does not touch its intersection.
    known = {raw.get("id") for raw in raw_intersections if isinstance(raw, dict)}
    for road in roads.values():
        for end in (road.start, road.end):
            if end not in known:
                raise Invalid(f"{file}: road {road.id!r} refers to the unknown intersection {end!r}")
    nodes = {}
    for position, raw in enumerate(raw_intersections):
        node = _read_intersection(_Fields(file, f"intersections[{position}]", raw), roads)
        if node.id in nodes:
            raise Invalid(f"{file}: intersection id {node.id!r} appears twice")
        nodes[node.id] = node
    return Network(nodes=nodes, roads=roads)


def _read_road(fields: _Fields) -> Road:
    road_id = fields.text("id")
    fields.where = f"road {road_id!r}"
    points = tuple(
        _Fields(fields.file, f"points[{k}] of {fields.where}", raw).point()
        for k, raw in enumerate(fields.items("points"))
    )
    if len(points) < 2:
        raise Invalid(f"{fields.file}: field 'points' of {fields.where} must hold at least two points")
    lanes = []
    for k, raw in enumerate(fields.items("lanes")):
        lane = _Fields(fields.file, f"lanes[{k}] of {fields.where}", raw)
        lanes.append(Lane(width=lane.number("width"), max_speed=lane.number("maxSpeed")))
    if not lanes:
        raise Invalid(f"{fields.file}: field 'lanes' of {fields.where} must hold at least one lane")
    return Road(
        id=road_id,
        start=fields.text("startIntersection"),
        end=fields.text("endIntersection"),
        points=points,
        lanes=tuple(lanes),
    )


def _read_intersection(fields: _Fields, roads: dict[str, Road]) -> Node:
    node_id = fields.text("id")
    fields.where = f"intersection {node_id!r}"
    x, y = fields.point("point")
    virtual = fields.flag("virtual", False)
    links = tuple(
        _read_road_link(_Fields(fields.file, f"roadLinks[{k}] of {fields.where}", raw), node_id, roads)
        for k, raw in enumerate(fields.items("roadLinks", required=False))
    )
    signal = None
    if not virtual and links and "trafficLight" in fields.value:
        light = fields.child("trafficLight", f"trafficLight of {fields.where}")
        phases = tuple(
            _read_light_phase(_Fields(fields.file, f"lightphases[{k}] of {light.where}", raw), len(links))
            for k, raw in enumerate(light.items("lightphases"))
        )
        signal = phases if any(phase.open_links for phase in phases) else None
    return Node(id=node_id, x=x, y=y, road_links=links, signal=signal)


def _read_road_link(fields: _Fields, node_id: str, roads: dict[str, Road]) -> RoadLink:
    kind = fields.text("type")
    if kind not in MOVEMENT_RANK:
        raise Invalid(f"{fields.file}: field 'type' of {fields.where} must be one of {sorted(MOVEMENT_RANK)}, got {kind!r}")
    start, end = fields.text("startRoad"), fields.text("endRoad")
    for key, road_id, must_touch in (("startRoad", start, "end"), ("endRoad", end, "start")):
        if road_id not in roads:
            raise Invalid(f"{fields.file}: field {key!r} of {fields.where} names the unknown road {road_id!r}")
        if getattr(roads[road_id], must_touch) != node_id:
            raise Invalid(f"{fields.file}: {key} {road_id!r} of {fields.where} does not {must_touch} at {node_id!r}")
    lane_links = []
    for k, raw in enumerate(fields.items("laneLinks")):
        lane = _Fields(fields.file, f"laneLinks[{k}] of {fields.where}", raw)
        points = tuple(
            _Fields(fields.file, f"points[{j}] of {lane.where}", point).point()
            for j, point in enumerate(lane.items("points", required=False))
        )
        lane_links.append(
            LaneLink(
                start_lane=lane.index("startLaneIndex", len(roads[start].lanes)),
                end_lane=lane.index("endLaneIndex", len(roads[end].lanes)),
                points=points,
            )
        )
    return RoadLink(type=kind, start_road=start, end_road=end, lane_links=tuple(lane_links))


def _read_light_phase(fields: _Fields, link_count: int) -> LightPhase:
    open_links = set()
    for k, value in enumerate(fields.items("availableRoadLinks")):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < link_count:
            raise Invalid(
                f"{fields.file}: availableRoadLinks[{k}] of {fields.where} must be a road-link index from 0 to "
                f"{link_count - 1}, got {value!r}"
            )
        open_links.add(value)
    time = fields.number("time")
    if time <= 0:
        raise Invalid(f"{fields.file}: field 'time' of {fields.where} must be positive, got {time!r}")
    return LightPhase(time=time, open_links=frozenset(open_links))


def read_flows(file: Path, network: Network, *, horizon: float = DEFAULT_HORIZON) -> list[Vehicle]:
    """Every vehicle the flows of a CityFlow flow.json release, sorted by departure time."""
    raw_flows = _load_json(file)
    if not isinstance(raw_flows, list):
        raise Invalid(f"{file}: a CityFlow flow file must hold a JSON list of flows, got {type(raw_flows).__name__}")
    successors = _successors(network)
    vehicles = []
    for position, raw in enumerate(raw_flows):
        fields = _Fields(file, f"flow {position}", raw)
        vtype = _read_vehicle_parameters(fields.child("vehicle", f"vehicle of flow {position}"))
        edges = _full_route(fields, network, successors)
        for k, depart in enumerate(_departures(fields, horizon)):
            vehicles.append(Vehicle(id=f"flow_{position}_{k}", depart=depart, edges=edges, vtype=vtype))
    vehicles.sort(key=lambda vehicle: vehicle.depart)  # stable: flows keep their file order within a second
    return vehicles


def _read_vehicle_parameters(fields: _Fields) -> tuple[float, ...]:
    values = tuple(fields.number(key) for key in VEHICLE_FIELDS)
    for key, value in zip(VEHICLE_FIELDS, values):
        if value <= 0:
            raise Invalid(f"{fields.file}: field {key!r} of {fields.where} must be positive, got {value!r}")
    return values


def _departures(fields: _Fields, horizon: float) -> list[float]:
    """CityFlow releases a vehicle at startTime and every `interval` after it while time ≤ endTime."""
    start, end, interval = fields.number("startTime"), fields.number("endTime"), fields.number("interval")
    if interval <= 0:
        raise Invalid(f"{fields.file}: field 'interval' of {fields.where} must be positive, got {interval!r}")
    if end == -1:
        end = horizon
    if end < start:
        raise Invalid(f"{fields.file}: field 'endTime' of {fields.where} must be -1 or ≥ startTime, got {end!r}")
    count = math.floor((end - start) / interval + 1e-9) + 1  # tolerance: 0.1 * 30 must reach 3.0
    return [start + k * interval for k in range(count)]


def _successors(network: Network) -> dict[str, set[str]]:
    successors: dict[str, set[str]] = {road_id: set() for road_id in network.roads}
    for node in network.nodes.values():
        for link in node.road_links:
            if link.lane_links:
                successors[link.start_road].add(link.end_road)
    return successors


def _full_route(fields: _Fields, network: Network, successors: dict[str, set[str]]) -> tuple[str, ...]:
    """The route's roads with any gap between consecutive ones bridged by the shortest path."""
    waypoints = fields.items("route")
    if not waypoints:
        raise Invalid(f"{fields.file}: field 'route' of {fields.where} must list at least one road")
    for road_id in waypoints:
        if road_id not in network.roads:
            raise Invalid(f"{fields.file}: field 'route' of {fields.where} names the unknown road {road_id!r}")
    edges = [waypoints[0]]
    for road_id in waypoints[1:]:
        if road_id in successors[edges[-1]]:
            edges.append(road_id)
            continue
        path = _shortest_path(edges[-1], road_id, network, successors)
        if path is None:
            raise Invalid(f"{fields.file}: route of {fields.where} cannot get from road {edges[-1]!r} to {road_id!r}")
        edges.extend(path[1:])
    return tuple(edges)


def _shortest_path(
    origin: str, destination: str, network: Network, successors: dict[str, set[str]]
) -> list[str] | None:
    """Dijkstra over roads (cost: the length of each road entered), origin and destination included."""
    best = {origin: 0.0}
    previous: dict[str, str] = {}
    queue = [(0.0, origin)]
    while queue:
        cost, road_id = heapq.heappop(queue)
        if road_id == destination:
            path = [road_id]
            while path[-1] != origin:
                path.append(previous[path[-1]])
            return path[::-1]
        if cost > best[road_id]:
            continue
        for following in successors[road_id]:
            new_cost = cost + network.roads[following].length
            if new_cost < best.get(following, math.inf):
                best[following], previous[following] = new_cost, road_id
                heapq.heappush(queue, (new_cost, following))
    return None


# ---------------------------------------------------------------------------------------------------
# Writing SUMO plain XML.


def _nodes_xml(network: Network) -> ET.Element:
    root = ET.Element("nodes")
    for node in network.nodes.values():
        attributes = {"id": node.id, "x": _num(node.x), "y": _num(node.y), "type": "priority"}
        if node.signal is not None:
            attributes.update(type="traffic_light", tl=node.id)
        ET.SubElement(root, "node", attributes)
    return root


def _edges_xml(network: Network) -> ET.Element:
    root = ET.Element("edges")
    for road in network.roads.values():
        edge = ET.SubElement(
            root,
            "edge",
            {
                "id": road.id,
                "from": road.start,
                "to": road.end,
                "numLanes": str(len(road.lanes)),
                "speed": _num(max(lane.max_speed for lane in road.lanes)),
                "shape": " ".join(f"{_num(x)},{_num(y)}" for x, y in road.points),
            },
        )
        for cityflow_index, lane in enumerate(road.lanes):
            ET.SubElement(
                edge,
                "lane",
                {"index": str(road.sumo_lane(cityflow_index)), "width": _num(lane.width), "speed": _num(lane.max_speed)},
            )
    return root


def _connection_attributes(link: RoadLink, lane_link: LaneLink, network: Network) -> dict[str, str]:
    return {
        "from": link.start_road,
        "to": link.end_road,
        "fromLane": str(network.roads[link.start_road].sumo_lane(lane_link.start_lane)),
        "toLane": str(network.roads[link.end_road].sumo_lane(lane_link.end_lane)),
    }


def _connections_xml(network: Network) -> ET.Element:
    root = ET.Element("connections")
    for node in network.nodes.values():
        for link in node.road_links:
            for lane_link in link.lane_links:
                ET.SubElement(root, "connection", _connection_attributes(link, lane_link, network))
    return root


def _signals_xml(network: Network) -> ET.Element:
    """One static program per signalised node, and the link index of each of its connections."""
    root = ET.Element("tlLogics")
    for node in network.nodes.values():
        if node.signal is None:
            continue
        logic = ET.SubElement(root, "tlLogic", {"id": node.id, "programID": "0", "offset": "0", "type": "static"})
        positions = _link_positions(node)
        for duration, state in signal_program(node):
            ET.SubElement(logic, "phase", {"duration": _num(duration), "state": _spread(state, positions)})
    for node in network.nodes.values():
        if node.signal is None:
            continue
        index = 0
        for link in node.road_links:
            for lane_link in link.lane_links:
                attributes = _connection_attributes(link, lane_link, network)
                ET.SubElement(root, "connection", {**attributes, "tl": node.id, "linkIndex": str(index)})
                index += 1
    return root


def _link_positions(node: Node) -> list[int]:
    """For each signal-state position (one per laneLink), the road link it belongs to."""
    return [k for k, link in enumerate(node.road_links) for _ in link.lane_links]


def _spread(road_link_state: str, positions: list[int]) -> str:
    return "".join(road_link_state[k] for k in positions)


def signal_program(node: Node) -> list[tuple[float, str]]:
    """(duration, state per road link) for the SUMO program of a signalised node.

    Greens keep CityFlow's order and times; after each green comes the clearance phase as yellow:
    the links it keeps open stay green, the others that were green turn yellow.
    """
    phases = node.signal or ()
    clearance = _clearance_phases(phases)
    yellow_time = phases[clearance[0]].time if clearance else DEFAULT_YELLOW
    conflicts = _conflicts(node)
    program = []
    for position, phase in enumerate(phases):
        if position in clearance:
            continue
        green = _green_state(node, phase.open_links, conflicts)
        program.append((phase.time, green))
        yellow = _yellow_state(green, phases[clearance[0]].open_links if clearance else frozenset())
        if "y" in yellow:  # nothing to clear when the green only holds links that stay open anyway
            program.append((yellow_time, yellow))
    return program


def _clearance_phases(phases: tuple[LightPhase, ...]) -> list[int]:
    """Positions of phases whose open links are open in every other phase (all-red or right turns only)."""
    if len({phase.open_links for phase in phases}) < 2:
        return []
    return [
        position
        for position, phase in enumerate(phases)
        if all(phase.open_links <= other.open_links for other in phases)
    ]


def _green_state(node: Node, open_links: frozenset[int], conflicts: set[frozenset[int]]) -> str:
    """'G' for a link that has priority, 'g' for one that must yield to a conflicting green link, else 'r'."""
    letters = []
    for k, link in enumerate(node.road_links):
        if k not in open_links:
            letters.append("r")
            continue
        must_yield = any(
            frozenset((k, other)) in conflicts
            and MOVEMENT_RANK[node.road_links[other].type] >= MOVEMENT_RANK[link.type]
            for other in open_links
            if other != k
        )
        letters.append("g" if must_yield else "G")
    return "".join(letters)


def _yellow_state(green: str, kept_open: frozenset[int]) -> str:
    return "".join(
        letter if k in kept_open else ("y" if letter in "Gg" else "r") for k, letter in enumerate(green)
    )


def _conflicts(node: Node) -> set[frozenset[int]]:
    """Pairs of road links (by index) whose vehicles can meet: same exit road, or crossing paths.

    Links from the same road never conflict (their vehicles queue behind each other). Crossing is
    read from the laneLinks' drawn paths; a link drawn without points is assumed to cross every
    link that is a left turn or crosses straight over it, so it yields rather than collides.
    """
    conflicts = set()
    links = node.road_links
    for a in range(len(links)):
        for b in range(a + 1, len(links)):
            first, second = links[a], links[b]
            if first.start_road == second.start_road:
                continue
            if first.end_road == second.end_road or _paths_cross(first, second):
                conflicts.add(frozenset((a, b)))
    return conflicts


def _paths_cross(first: RoadLink, second: RoadLink) -> bool:
    drawn = all(lane_link.points for link in (first, second) for lane_link in link.lane_links)
    if not drawn:
        kinds = {first.type, second.type}
        return "turn_left" in kinds or kinds == {"go_straight"}
    return any(
        _polylines_cross(one.points, other.points) for one in first.lane_links for other in second.lane_links
    )


def _polylines_cross(first: tuple[tuple[float, float], ...], second: tuple[tuple[float, float], ...]) -> bool:
    return any(
        _segments_cross(p, q, r, s) for p, q in itertools.pairwise(first) for r, s in itertools.pairwise(second)
    )


def _segments_cross(p, q, r, s) -> bool:
    """Whether segment p–q properly crosses segment r–s (touching ends do not count)."""

    def side(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2, d3, d4 = side(r, s, p), side(r, s, q), side(p, q, r), side(p, q, s)
    return d1 * d2 < 0 and d3 * d4 < 0


def _routes_xml(vehicles: list[Vehicle]) -> ET.Element:
    root = ET.Element("routes")
    type_ids: dict[tuple[float, ...], str] = {}
    for vehicle in vehicles:
        if vehicle.vtype not in type_ids:
            type_ids[vehicle.vtype] = f"cityflow_{len(type_ids)}"
            ET.SubElement(root, "vType", _vtype_attributes(type_ids[vehicle.vtype], vehicle.vtype))
    for vehicle in vehicles:
        element = ET.SubElement(
            root,
            "vehicle",
            {"id": vehicle.id, "type": type_ids[vehicle.vtype], "depart": _num(vehicle.depart), "departLane": "best"},
        )
        ET.SubElement(element, "route", {"edges": " ".join(vehicle.edges)})
    return root


def _vtype_attributes(type_id: str, values: tuple[float, ...]) -> dict[str, str]:
    """CityFlow's usual acceleration/deceleration are SUMO's accel/decel, its maximum deceleration SUMO's
    emergency deceleration, and its headway time SUMO's tau (the car-following's desired time gap)."""
    p = dict(zip(VEHICLE_FIELDS, values))
    return {
        "id": type_id,
        "length": _num(p["length"]),
        "width": _num(p["width"]),
        "minGap": _num(p["minGap"]),
        "maxSpeed": _num(p["maxSpeed"]),
        "accel": _num(p["usualPosAcc"]),
        "decel": _num(p["usualNegAcc"]),
        "emergencyDecel": _num(max(p["maxNegAcc"], p["usualNegAcc"])),
        "tau": _num(p["headwayTime"]),
    }


def _num(value: float) -> str:
    return f"{value:g}" if float(value).is_integer() else repr(float(value))


def _write_xml(file: Path, root: ET.Element) -> None:
    ET.indent(root)
    ET.ElementTree(root).write(file, encoding="utf-8", xml_declaration=True)


# ---------------------------------------------------------------------------------------------------
# netconvert.


def netconvert_binary() -> str:
    """netconvert from the eclipse-sumo wheel, else from $SUMO_HOME or the PATH."""
    candidates = []
    try:
        import sumo  # the eclipse-sumo wheel: binaries under sumo.SUMO_HOME/bin

        candidates.append(Path(sumo.SUMO_HOME) / "bin" / "netconvert")
    except ImportError:
        pass
    if os.environ.get("SUMO_HOME"):
        candidates.append(Path(os.environ["SUMO_HOME"]) / "bin" / "netconvert")
    for candidate in candidates:
        if candidate.is_file():
            return str(candidate)
    found = shutil.which("netconvert")
    if found is None:
        raise Invalid("converting CityFlow files needs SUMO's netconvert: install the citybrain extra (eclipse-sumo)")
    return found


def run_netconvert(plain: dict[str, Path], net_file: Path) -> None:
    command = [
        netconvert_binary(),
        "--node-files", str(plain["nod"]),
        "--edge-files", str(plain["edg"]),
        "--connection-files", str(plain["con"]),
        "--tllogic-files", str(plain["tll"]),
        "--output-file", str(net_file),
        # CityFlow has no U-turns and its coordinates are kept so both simulators' positions agree.
        "--no-turnarounds", "true",
        "--offset.disable-normalization", "true",
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise Invalid(f"netconvert could not build {net_file} from the converted CityFlow files: {result.stderr.strip()}")
