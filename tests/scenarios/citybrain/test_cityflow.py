"""The CityFlow → SUMO converter: hand-written CityFlow files, and the real Hangzhou and Jinan datasets."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain.cityflow import convert

sumo = pytest.importorskip("sumo", reason="the citybrain extra (eclipse-sumo) is not installed")
sumolib = pytest.importorskip("sumolib", reason="the citybrain extra (sumolib) is not installed")

pytestmark = pytest.mark.no_database

DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "citybrain"
HANGZHOU_CITYFLOW = DATA / "hangzhou_4x4_cityflow"
HANGZHOU_SUMO = DATA / "hangzhou_4x4_sumo"
JINAN_CITYFLOW = DATA / "jinan_3x4_cityflow"

LANE_WIDTH = 4.0
ARM = 300.0  # road length, and the spacing of intersections
CORNER = 10.0  # where lanes end inside an intersection
# Direction of travel for each arm (W, E, S, N) and, for a vehicle travelling that way, the exit of
# each movement: left turns rotate the heading counter-clockwise, as in right-hand traffic.
HEADING = {"E": (1, 0), "W": (-1, 0), "N": (0, 1), "S": (0, -1)}
TURN = {"go_straight": lambda d: d, "turn_left": lambda d: (-d[1], d[0]), "turn_right": lambda d: (d[1], -d[0])}
# CityFlow's usual lane use on a 2-lane road: inner lane 0 turns left or goes straight, outer lane 1
# goes straight or turns right.
LANES_FOR = {"turn_left": (0,), "go_straight": (0, 1), "turn_right": (1,)}


def _vehicle() -> dict:
    return {
        "length": 5.0, "width": 2.0, "maxPosAcc": 2.0, "maxNegAcc": 4.5, "usualPosAcc": 2.0,
        "usualNegAcc": 4.5, "minGap": 2.5, "maxSpeed": 11.111, "headwayTime": 2,
    }


def _lane_point(centre, heading, lane: int, along: float) -> dict:
    """A point `along` metres from `centre` in `heading`, shifted to the right onto CityFlow lane `lane`."""
    right = (heading[1], -heading[0])
    offset = (lane + 0.5) * LANE_WIDTH
    return {"x": centre[0] + along * heading[0] + offset * right[0], "y": centre[1] + along * heading[1] + offset * right[1]}


def _roadnet(columns: int = 1) -> dict:
    """A row of `columns` signalised intersections along x, each with a virtual border node on every free arm.

    Two lanes per road; four phases (CityFlow's order): a 5 s clearance with only the right turns,
    east-west straight, north-south straight, east-west left.
    """
    centres = {f"c{k}": (k * ARM, 0.0) for k in range(columns)}
    nodes: dict[str, tuple[float, float]] = dict(centres)
    roads = []
    for name, (x, y) in centres.items():
        for heading in HEADING.values():
            neighbour = (x + heading[0] * ARM, y + heading[1] * ARM)
            other = next((n for n, p in nodes.items() if p == neighbour), None)
            if other is None:
                other = f"v_{name}_{len(nodes)}"
                nodes[other] = neighbour
            for start, end in ((name, other), (other, name)):
                if not any(r["startIntersection"] == start and r["endIntersection"] == end for r in roads):
                    roads.append(
                        {
                            "id": f"{start}__{end}",
                            "points": [dict(zip("xy", nodes[start])), dict(zip("xy", nodes[end]))],
                            "lanes": [{"width": LANE_WIDTH, "maxSpeed": 11.111}] * 2,
                            "startIntersection": start,
                            "endIntersection": end,
                        }
                    )
    intersections = []
    for name, point in nodes.items():
        if name not in centres:
            intersections.append(
                {"id": name, "point": dict(zip("xy", point)), "width": 0, "roads": [], "roadLinks": [], "virtual": True}
            )
            continue
        intersections.append(_signalised(name, point, nodes, roads))
    return {"intersections": intersections, "roads": roads}


def _signalised(name: str, point, nodes, roads) -> dict:
    def heading_of(road) -> tuple[int, int]:
        (x0, y0), (x1, y1) = nodes[road["startIntersection"]], nodes[road["endIntersection"]]
        return (int((x1 > x0) - (x1 < x0)), int((y1 > y0) - (y1 < y0)))

    incoming = [r for r in roads if r["endIntersection"] == name]
    outgoing = {heading_of(r): r for r in roads if r["startIntersection"] == name}
    links = []
    for road in incoming:
        heading = heading_of(road)
        for kind, turn in TURN.items():
            exit_road = outgoing[turn(heading)]
            lane_links = [
                {
                    "startLaneIndex": lane,
                    "endLaneIndex": lane,
                    "points": [_lane_point(point, heading, lane, -CORNER), _lane_point(point, turn(heading), lane, CORNER)],
                }
                for lane in LANES_FOR[kind]
            ]
            links.append(
                {"type": kind, "startRoad": road["id"], "endRoad": exit_road["id"], "direction": 0, "laneLinks": lane_links}
            )

    def where(kind: str, axis: str) -> list[int]:
        return [k for k, link in enumerate(links) if link["type"] == kind and _axis(link, roads, nodes) == axis]

    rights = [k for k, link in enumerate(links) if link["type"] == "turn_right"]
    phases = [
        {"time": 5, "availableRoadLinks": rights},
        {"time": 30, "availableRoadLinks": rights + where("go_straight", "x")},
        {"time": 25, "availableRoadLinks": rights + where("go_straight", "y")},
        {"time": 20, "availableRoadLinks": rights + where("turn_left", "x")},
    ]
    return {
        "id": name,
        "point": dict(zip("xy", point)),
        "width": 20,
        "roads": [r["id"] for r in roads if name in (r["startIntersection"], r["endIntersection"])],
        "roadLinks": links,
        "trafficLight": {"roadLinkIndices": list(range(len(links))), "lightphases": phases},
        "virtual": False,
    }


def _axis(link, roads, nodes) -> str:
    road = next(r for r in roads if r["id"] == link["startRoad"])
    (x0, _), (x1, _) = nodes[road["startIntersection"]], nodes[road["endIntersection"]]
    return "x" if x0 != x1 else "y"


def _write(folder: Path, roadnet: dict, flows: list) -> tuple[Path, Path]:
    roadnet_file, flow_file = folder / "roadnet.json", folder / "flow.json"
    roadnet_file.write_text(json.dumps(roadnet))
    flow_file.write_text(json.dumps(flows))
    return roadnet_file, flow_file


def _flow(route: list[str], start: float, end: float, interval: float = 1.0) -> dict:
    return {"vehicle": _vehicle(), "route": route, "interval": interval, "startTime": start, "endTime": end}


def _run_sumo(net_file: Path, route_file: Path, end: float = 60) -> subprocess.CompletedProcess:
    binary = Path(sumo.SUMO_HOME) / "bin" / "sumo"
    return subprocess.run(
        [str(binary), "-n", str(net_file), "-r", str(route_file), "--end", str(end), "--no-step-log"],
        capture_output=True, text=True, check=False, timeout=60,
    )


# --- one hand-written intersection ------------------------------------------------------------------


def test_one_intersection_becomes_a_signalised_sumo_junction(tmp_path):
    roadnet, flow = _write(tmp_path, _roadnet(), [_flow(["v_c0_1__c0", "c0__v_c0_2"], 0, 0)])

    converted = convert(roadnet, flow, tmp_path / "out", name="tiny")

    assert (converted.intersections, converted.roads, converted.lanes, converted.vehicles) == (1, 8, 16, 1)
    assert converted.net_file == tmp_path / "out" / "tiny.net.xml" and converted.net_file.is_file()
    net = sumolib.net.readNet(str(converted.net_file), withPrograms=True)
    assert [tls.getID() for tls in net.getTrafficLights()] == ["c0"]
    assert len(net.getEdges(withInternal=False)) == 8
    # every laneLink is one SUMO connection, each on its own signal position: 4 arms × (1 + 2 + 1)
    assert len(net.getTrafficLights()[0].getConnections()) == 16


def test_cityflow_inner_lane_is_sumo_left_most_lane(tmp_path):
    roadnet, flow = _write(tmp_path, _roadnet(), [_flow(["v_c0_1__c0", "c0__v_c0_2"], 0, 0)])
    net = sumolib.net.readNet(str(convert(roadnet, flow, tmp_path).net_file))
    west_approach = net.getEdge("v_c0_2__c0")  # heading east into c0 from the virtual node on the west
    left_exit = "c0__v_c0_3"  # heading north
    right_exit = "c0__v_c0_4"  # heading south

    targets = {
        lane.getIndex(): {c.getTo().getID() for c in lane.getOutgoing()} for lane in west_approach.getLanes()
    }

    # CityFlow lane 0 (inner: left and straight) is SUMO lane 1; CityFlow lane 1 (outer) is SUMO lane 0.
    assert left_exit in targets[1] and left_exit not in targets[0]
    assert right_exit in targets[0] and right_exit not in targets[1]


def test_phases_become_greens_each_followed_by_the_clearance_as_yellow(tmp_path):
    roadnet, flow = _write(tmp_path, _roadnet(), [_flow(["v_c0_1__c0", "c0__v_c0_2"], 0, 0)])
    net = sumolib.net.readNet(str(convert(roadnet, flow, tmp_path).net_file), withPrograms=True)
    program = next(iter(net.getTrafficLights()[0].getPrograms().values()))

    phases = [(float(p.duration), p.state) for p in program.getPhases()]

    assert [duration for duration, _ in phases] == [30, 5, 25, 5, 20, 5]
    greens, yellows = phases[0::2], phases[1::2]
    assert all("y" not in state and "G" in state for _, state in greens)
    assert all("y" in state for _, state in yellows)
    # right turns stay open through the clearance, exactly as in CityFlow's phase 0
    right_turns = _positions(net, "c0", direction="r")
    for (_, green), (_, yellow) in zip(greens, yellows):
        assert all(green[k] in "Gg" and yellow[k] == green[k] for k in right_turns)


def test_a_right_turn_merging_with_a_green_straight_yields(tmp_path):
    roadnet, flow = _write(tmp_path, _roadnet(), [_flow(["v_c0_1__c0", "c0__v_c0_2"], 0, 0)])
    net = sumolib.net.readNet(str(convert(roadnet, flow, tmp_path).net_file), withPrograms=True)
    program = next(iter(net.getTrafficLights()[0].getPrograms().values()))
    east_west_green = program.getPhases()[0].state
    straight = _positions(net, "c0", direction="s")
    right = _positions(net, "c0", direction="r")
    green_straight_exits = {exit_edge for k, exit_edge in straight.items() if east_west_green[k] in "Gg"}

    assert green_straight_exits and all(east_west_green[k] in "Gr" for k in straight)  # opposite straights never meet
    for k, exit_edge in right.items():
        assert east_west_green[k] == ("g" if exit_edge in green_straight_exits else "G")


def _positions(net, tls_id: str, *, direction: str) -> dict[int, str]:
    """Signal positions of a junction's connections going in a SUMO direction ('s', 'l', 'r') → exit edge."""
    tls = net.getTLS(tls_id)
    found = {}
    for in_lane, out_lane, index in tls.getConnections():
        for connection in in_lane.getOutgoing():
            if connection.getToLane() == out_lane and connection.getDirection() == direction:
                found[index] = out_lane.getEdge().getID()
    return found


def test_flows_release_vehicles_from_start_to_end_every_interval_sorted_by_departure(tmp_path):
    flows = [
        _flow(["v_c0_1__c0", "c0__v_c0_2"], 10, 10),  # startTime == endTime: one vehicle
        _flow(["v_c0_2__c0", "c0__v_c0_1"], 0, 20, 5),  # 0, 5, 10, 15, 20
        _flow(["v_c0_3__c0", "c0__v_c0_4"], 3590, -1, 5),  # endTime -1: until the horizon, 3590 and 3595, 3600
    ]
    roadnet, flow = _write(tmp_path, _roadnet(), flows)

    converted = convert(roadnet, flow, tmp_path)

    vehicles = list(sumolib.xml.parse_fast(str(converted.route_file), "vehicle", ["id", "depart"]))
    assert converted.vehicles == len(vehicles) == 9
    departs = [float(v.depart) for v in vehicles]
    assert departs == sorted(departs) == [0, 5, 10, 10, 15, 20, 3590, 3595, 3600]
    vtype = next(sumolib.xml.parse_fast(str(converted.route_file), "vType", ["id", "accel", "decel", "tau"]))
    assert (float(vtype.accel), float(vtype.decel), float(vtype.tau)) == (2.0, 4.5, 2.0)


def test_route_waypoints_are_joined_by_the_shortest_path(tmp_path):
    roadnet = _roadnet(columns=2)
    into_first = next(r["id"] for r in roadnet["roads"] if r["endIntersection"] == "c0" and r["id"].startswith("v_c0"))
    out_of_second = next(r["id"] for r in roadnet["roads"] if r["startIntersection"] == "c1" and "v_c1" in r["id"])
    roadnet_file, flow_file = _write(tmp_path, roadnet, [_flow([into_first, out_of_second], 0, 0)])

    route_file = convert(roadnet_file, flow_file, tmp_path).route_file

    route = next(sumolib.xml.parse_fast(str(route_file), "route", ["edges"])).edges.split()
    assert route == [into_first, "c0__c1", out_of_second]


def test_the_converted_intersection_runs_in_sumo(tmp_path):
    flows = [_flow(["v_c0_1__c0", "c0__v_c0_2"], 0, 50, 4), _flow(["v_c0_3__c0", "c0__v_c0_1"], 0, 50, 6)]
    roadnet, flow = _write(tmp_path, _roadnet(), flows)
    converted = convert(roadnet, flow, tmp_path)

    result = _run_sumo(converted.net_file, converted.route_file)

    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr


# --- bad input -------------------------------------------------------------------------------------


def test_a_missing_field_names_the_file_and_the_field(tmp_path):
    roadnet = _roadnet()
    del roadnet["roads"][0]["lanes"]
    roadnet_file, flow_file = _write(tmp_path, roadnet, [])

    with pytest.raises(Invalid, match=r"roadnet\.json.*'lanes'"):
        convert(roadnet_file, flow_file, tmp_path)


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda roadnet, flows: flows[0].pop("startTime"), r"flow\.json: flow 0 lacks the field 'startTime'"),
        (lambda roadnet, flows: flows[0]["vehicle"].update(maxSpeed="fast"), r"flow\.json: field 'maxSpeed'.*number"),
        (lambda roadnet, flows: flows[0].update(route=["nowhere"]), r"flow\.json.*unknown road 'nowhere'"),
        (lambda roadnet, flows: flows[0].update(route=["c0__v_c0_2", "v_c0_1__c0"]), r"cannot get from road"),
        (
            lambda roadnet, flows: roadnet["intersections"][0]["roadLinks"][0]["laneLinks"][0].update(startLaneIndex=7),
            r"roadnet\.json: field 'startLaneIndex'.*from 0 to 1",
        ),
        (
            lambda roadnet, flows: roadnet["intersections"][0]["trafficLight"]["lightphases"][1]["availableRoadLinks"].append(99),
            r"roadnet\.json: availableRoadLinks.*got 99",
        ),
        (lambda roadnet, flows: roadnet["roads"][0].update(startIntersection="atlantis"), r"unknown intersection 'atlantis'"),
    ],
)
def test_bad_fields_are_rejected_with_their_file_and_place(tmp_path, break_it, message):
    roadnet = _roadnet()
    flows = [_flow(["v_c0_1__c0", "c0__v_c0_2"], 0, 0)]
    break_it(roadnet, flows)
    roadnet_file, flow_file = _write(tmp_path, roadnet, flows)

    with pytest.raises(Invalid, match=message):
        convert(roadnet_file, flow_file, tmp_path)


def test_a_file_that_is_not_json_is_rejected(tmp_path):
    roadnet_file, flow_file = _write(tmp_path, _roadnet(), [])
    flow_file.write_text("[{")

    with pytest.raises(Invalid, match=r"flow\.json is not valid JSON"):
        convert(roadnet_file, flow_file, tmp_path)
    with pytest.raises(Invalid, match="must be an existing CityFlow JSON file"):
        convert(tmp_path / "absent.json", flow_file, tmp_path)


# --- the real datasets ------------------------------------------------------------------------------


def _require(*files: Path) -> None:
    missing = [str(file) for file in files if not file.is_file()]
    if missing:
        pytest.skip(f"the City Brain benchmark data is absent (see ../shared/data/citybrain/README.md): {missing}")


def _sumo_counts(net_file: Path, route_file: Path) -> tuple[int, int, int, int]:
    """(signalised intersections, roads, lanes, vehicles) as SUMO sees them; internal edges excluded."""
    net = sumolib.net.readNet(str(net_file))
    edges = net.getEdges(withInternal=False)
    vehicles = sum(1 for _ in sumolib.xml.parse_fast(str(route_file), "vehicle", ["id"]))
    return len(net.getTrafficLights()), len(edges), sum(edge.getLaneNumber() for edge in edges), vehicles


def test_converted_hangzhou_matches_the_sumo_version(tmp_path):
    roadnet, flow = HANGZHOU_CITYFLOW / "roadnet_4_4.json", HANGZHOU_CITYFLOW / "anon_4_4_hangzhou_real.json"
    reference_net = HANGZHOU_SUMO / "hangzhou_4x4_gudang_18041610_1h.net.xml"
    reference_routes = HANGZHOU_SUMO / "hangzhou_4x4_gudang_18041610_1h.rou.xml"
    _require(roadnet, flow, reference_net, reference_routes)

    converted = convert(roadnet, flow, tmp_path)

    ours = _sumo_counts(converted.net_file, converted.route_file)
    assert ours == _sumo_counts(reference_net, reference_routes) == (16, 80, 240, 2983)
    assert (converted.intersections, converted.roads, converted.lanes, converted.vehicles) == ours


def test_converted_jinan_runs_in_sumo(tmp_path):
    roadnet, flow = JINAN_CITYFLOW / "roadnet_3_4.json", JINAN_CITYFLOW / "anon_3_4_jinan_real.json"
    _require(roadnet, flow)

    converted = convert(roadnet, flow, tmp_path)
    result = _run_sumo(converted.net_file, converted.route_file, end=60)

    assert (converted.intersections, converted.roads, converted.lanes, converted.vehicles) == (12, 62, 186, 6295)
    assert _sumo_counts(converted.net_file, converted.route_file) == (12, 62, 186, 6295)
    assert result.returncode == 0, result.stderr
    assert "Error" not in result.stderr
