"""Incident detection: a broken-down vehicle really blocks its lane, the loops find it within a bounded
time, incident-free traffic raises few alarms, a red-light queue is no incident, alarms are scored by
the stated rules, a scenario that cannot run is refused before anything is queued; the same through
the API."""

from __future__ import annotations

from pathlib import Path

import pytest
from datakit import DataKit
from support import assert_db_unchanged, auth, db_state

from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain import runs
from aicommons.scenarios.citybrain.controllers import Timing
from aicommons.scenarios.citybrain.incidents import (
    DEFAULTS,
    Alarm,
    Detector,
    Incident,
    IncidentsAndLoops,
    Layout,
    Reading,
    Segment,
    Station,
    check_scenario,
    run_seed,
    schedule,
    score,
)
from aicommons.scenarios.citybrain.schemas import RunCreate
from aicommons.scenarios.citybrain.simulation import run_episode, synthetic_grid

pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")
pytest.importorskip("sumolib", reason="the citybrain extra (sumolib) is not installed")

DURATION = 1200.0
HANGZHOU = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "citybrain" / "hangzhou_4x4_sumo"
# A 2x2 grid carries fewer vehicles per lane than a city: a shorter window, fewer expected vehicles, a shorter confirmation.
SMALL = {"count": 1, "warmup": 200.0, "blockage": 400.0, "min_vehicles": 4, "window": 4, "confirm": 2}


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    return synthetic_grid(tmp_path_factory.mktemp("incidents"), size=2, lanes=2, length=300, duration=DURATION, vehicles_per_hour=2000, seed=0)


def _seed_run(grid, seed=0, **scenario):
    net_file, route_file = grid
    return runs.SeedRun(
        net_file=net_file, route_file=route_file, controller=lambda: runs.build_controller("max-pressure", {}), timing=Timing(),
        seed=seed, duration=DURATION, scenario=check_scenario({**SMALL, **scenario}), progress=lambda fraction, message: None,
    )  # fmt: skip


# ---------------------------------------------------------------- in the simulation


class Watch:
    """Records the incident vehicles' speed and lane every step (an `Intervention` beside the one under test)."""

    def __init__(self):
        self.seen: dict[str, list[tuple[float, str, float]]] = {}

    def start(self, simulation, intersections):
        pass

    def after_step(self, simulation, now):
        for vehicle in simulation.vehicle.getIDList():
            if vehicle.startswith("citybrain-incident-"):
                self.seen.setdefault(vehicle, []).append((now, simulation.vehicle.getLaneID(vehicle), simulation.vehicle.getSpeed(vehicle)))

    def preempt(self, intersection, now):
        return None

    def finish(self, trips):
        pass


def test_the_broken_down_vehicle_stands_on_its_lane_until_towed(grid, tmp_path):
    run = _seed_run(grid, seed=1)
    layout = Layout.read(run.net_file, run.scenario)
    incidents = schedule(layout, run.scenario, DURATION, run.seed)
    assert len(incidents) == 1 and 200 <= incidents[0].scheduled <= DURATION - 400 - run.scenario["grace"]
    loops = IncidentsAndLoops(layout, Detector.from_scenario(layout, run.scenario), incidents, 30.0, 200.0)
    watch = Watch()
    run_episode(run.net_file, run.route_file, run.controller(), duration=DURATION, seed=1, interventions=[loops, watch],
                additional_files=[layout.additional_file(tmp_path, 30.0)])  # fmt: skip
    incident = incidents[0]
    assert incident.onset is not None and incident.onset >= incident.scheduled and incident.cleared == incident.onset + 400
    seen = watch.seen[incident.vehicle]
    assert {lane for _, lane, _ in seen} == {incident.lane} and all(speed == 0 for _, _, speed in seen)
    assert seen[0][0] == incident.onset and seen[-1][0] == incident.cleared - 1  # removed the step its blockage ends


def test_an_injected_incident_is_detected_within_four_minutes(grid):
    for seed in (0, 1, 2):
        episode = run_seed(_seed_run(grid, seed=seed))
        [incident] = episode["per_incident"]
        assert episode["incidents"] == episode["detected"] == 1 and episode["detection_rate"] == 1.0, (seed, episode["alarms"])
        assert 0 <= incident["time_to_detect"] <= 240 and episode["mean_time_to_detect"] == incident["time_to_detect"]
        assert incident["detected_on"].rsplit("_", 1)[0] == incident["lane"].rsplit("_", 1)[0]


def test_incident_free_traffic_raises_few_alarms(grid):
    for seed in (0, 1):
        episode = run_seed(_seed_run(grid, seed=seed, count=0))
        assert episode["incidents"] == 0 and episode["detection_rate"] is None and episode["per_incident"] == []
        assert episode["false_alarms"] <= 1 and episode["false_alarms_per_hour"] == pytest.approx(episode["false_alarms"] / 1000 * 3600)


# ---------------------------------------------------------------- the detector on hand-made readings


def _one_lane() -> Layout:
    """One 300 m lane with a mid-block station at 145 m and a stop-line station at 295 m."""
    up, stop = Station("L@1", "E_0", 1, 145.0), Station("L@0", "E_0", 0, 295.0)
    segment = Segment("E_0", "E", up, stop, True, (155.0, 250.0))
    return Layout([up, stop], [segment], [], {"E_0": "E"}, {"E": set()})


def _feed(detector: Detector, readings: list[tuple[Reading, Reading]], green: float) -> list[Alarm]:
    alarms = []
    for index, (up, stop) in enumerate(readings):
        alarms += detector.update(30.0 * (index + 1), {"L@1": up, "L@0": stop}, {"E_0": green})
    return alarms


def test_a_queue_that_does_not_discharge_while_green_is_an_incident_and_a_red_queue_is_not():
    scenario = check_scenario({"window": 2, "confirm": 1})
    standing, empty = Reading(60.0, 1, 0.5), Reading(0.0, 0, -1.0)
    # Standing over the mid-block loop, nobody at the stop line, the movement green: the segment is blocked.
    alarms = _feed(Detector.from_scenario(_one_lane(), scenario), [(standing, empty)] * 3, green=25.0)
    assert [(a.time, a.lane, a.reason, a.position) for a in alarms] == [(60.0, "E_0", "congested", 145.0)]
    # The same readings under a red light prove nothing.
    assert _feed(Detector.from_scenario(_one_lane(), scenario), [(standing, empty)] * 3, green=0.0) == []
    # A red queue reaching the mid-block loop stands over the stop line too: no OCCRDF, no alarm.
    assert _feed(Detector.from_scenario(_one_lane(), scenario), [(standing, Reading(80.0, 2, 0.3))] * 3, green=25.0) == []


def test_an_alarm_is_raised_once_until_the_lane_reads_normal_again():
    scenario = check_scenario({"window": 1, "confirm": 1})
    standing, empty, flowing = Reading(60.0, 1, 0.5), Reading(0.0, 0, -1.0), Reading(5.0, 3, 13.0)
    alarms = _feed(Detector.from_scenario(_one_lane(), scenario), [(standing, empty)] * 3 + [(flowing, flowing)] + [(standing, empty)], 25.0)
    assert [a.time for a in alarms] == [30.0, 150.0]


def test_an_alarm_waits_until_its_evidence_has_lasted_confirm_intervals():
    standing, empty, flowing = Reading(60.0, 1, 0.5), Reading(0.0, 0, -1.0), Reading(5.0, 3, 13.0)
    readings = [(standing, empty)] * 2 + [(flowing, flowing)] + [(standing, empty)] * 4
    alarms = _feed(Detector.from_scenario(_one_lane(), check_scenario({"window": 1, "confirm": 3})), readings, 25.0)
    assert [a.time for a in alarms] == [180.0]  # the two-interval spell is not confirmed; the four-interval one is at its third


def test_a_lane_drivers_start_avoiding_is_deserted():
    """Two lanes of one edge, one mid-block station each: after a normal record, one counts nobody while the other carries all."""
    left, right = Station("E_0@1", "E_0", 1, 100.0), Station("E_1@1", "E_1", 1, 100.0)
    layout = Layout([left, right], [], [(left, right)], {"E_0": "E", "E_1": "E"}, {"E": set()})
    detector = Detector.from_scenario(layout, check_scenario({"window": 2, "deserted_vehicles": 3, "confirm": 1}))
    two, none, four = Reading(4.0, 2, 12.0), Reading(0.0, 0, -1.0), Reading(8.0, 4, 12.0)
    alarms = []
    for index, (on_left, on_right) in enumerate([(two, two)] * 6 + [(none, four)] * 3):
        alarms += detector.update(30.0 * (index + 1), {"E_0@1": on_left, "E_1@1": on_right}, {})
    assert [(a.time, a.lane, a.reason) for a in alarms] == [(240.0, "E_0", "deserted")]


# ---------------------------------------------------------------- scoring


def _incident(onset: float | None, cleared: float | None = None, lane: str = "B_1") -> Incident:
    return Incident("v", lane, lane.rsplit("_", 1)[0], 100.0, onset or 0.0, 300.0, onset=onset, cleared=cleared)


def _alarm(time: float, lane: str) -> Alarm:
    return Alarm(time, lane, lane.rsplit("_", 1)[0], "congested", 50.0)


FEEDERS = {"B": {"A"}, "A": set(), "C": set()}


def test_an_alarm_on_the_incident_edge_or_a_feeder_between_onset_and_clearance_plus_grace_detects_it():
    cases = {  # alarm → detected?
        _alarm(450, "B_1"): True,  # the incident's lane
        _alarm(450, "B_0"): True,  # another lane of its edge
        _alarm(450, "A_2"): True,  # an edge leading into it: the queue spilled back
        _alarm(400, "B_1"): True,  # at the onset
        _alarm(820, "B_1"): True,  # clearance (700) + grace (120)
        _alarm(399, "B_1"): False,  # before the onset
        _alarm(821, "B_1"): False,  # after the grace
        _alarm(450, "C_1"): False,  # elsewhere
    }
    for alarm, detects in cases.items():
        incident = _incident(400, 700)
        scored = score([incident], [alarm], FEEDERS, grace=120, monitored=3600, end=3600)
        assert (scored.detected, scored.false_alarms) == ((1, 0) if detects else (0, 1)), alarm
        assert incident.detected_at == (alarm.time if detects else None)


def test_the_first_detecting_alarm_counts_repeats_are_not_false_and_the_rates_follow():
    first, second, never = _incident(400, 700), _incident(1500, 1800, lane="C_0"), _incident(None)
    alarms = [_alarm(700, "B_0"), _alarm(520, "B_1"), _alarm(100, "A_0"), _alarm(2000, "C_0"), _alarm(2500, "C_1")]
    scored = score([first, second, never], alarms, FEEDERS, grace=60, monitored=1800, end=3600)
    assert (first.detected_at, first.detected_on, first.time_to_detect) == (520, "B_1", 120)
    assert second.detected_at is None and never.detected_at is None
    assert scored.incidents == 2 and scored.detected == 1 and scored.detection_rate == 0.5
    assert scored.false_alarms == 3 and scored.false_alarms_per_hour == 6.0 and scored.mean_time_to_detect == 120


def test_an_incident_still_blocking_at_the_end_is_open_until_then():
    incident = _incident(3000, None)
    assert score([incident], [_alarm(3500, "B_1")], FEEDERS, grace=0, monitored=3300, end=3600).detected == 1


# ---------------------------------------------------------------- the run kind


def _spec(net: str, routes: str, **changes) -> RunCreate:
    fields = {"name": "incidents", "kind": "incidents", "net_sha256": net, "routes_sha256": routes, "controller": "max-pressure",
              "seeds": [0], "duration": DURATION, "scenario": SMALL}  # fmt: skip
    return RunCreate(**{**fields, **changes})


def test_scenarios_that_cannot_run_are_refused_before_anything_is_queued(runtime, world, grid):
    actor = world.a_member.actor
    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, *grid)
    refusals = {
        "Unknown incidents scenario parameter(s) ['lanes']": {"lanes": 2},
        "'count' must be a whole number from 0 to 50; got 2.5": {"count": 2.5},
        "'count' must be a whole number from 0 to 50; got -1": {"count": -1},
        "'window' must be a whole number from 1 to 20; got True": {"window": True},
        "'confirm' must be a whole number from 1 to 20; got 0": {"confirm": 0},
        "'blockage' must be a number of seconds from 30 to 7200; got 'long'": {"blockage": "long"},
        "'relative_difference' must be a fraction from 0 to 1; got 1.5": {"relative_difference": 1.5},
        "'interval' must be whole seconds": {"interval": 30.5},
        "'warmup' (1500 s) must end before the run does (1200 s)": {"warmup": 1500},
        "3 incidents of 400 s, each with 120 s of grace, do not fit in the 1000 s after the warm-up": {**SMALL, "count": 3},
        "no lane with two loop stations 500 m apart": {"spacing": 500},
    }
    before = db_state(runtime)
    for message, scenario in refusals.items():
        with runtime.session() as session, pytest.raises(Invalid) as refused:
            runs.start_run(session, runtime.blobs, actor, _spec(net_sha256, routes_sha256, scenario={**SMALL, **scenario}))
        assert message in str(refused.value), (message, str(refused.value))
    assert_db_unchanged(before, db_state(runtime))


def test_defaults_are_filled_in():
    checked = check_scenario({"count": 2})
    assert checked == {**DEFAULTS, "count": 2} and all(isinstance(checked[k], float) for k in ("blockage", "warmup", "interval"))


def test_the_api_runs_incident_detection_to_its_summary(runtime, world, client, grid):
    headers = auth(world.a_member)
    uploaded = [
        client.post("/api/v1/citybrain/files", files={"file": (path.name, path.read_bytes())}, headers=headers).json()["sha256"]
        for path in grid
    ]
    kinds = {kind["name"]: kind["description"] for kind in client.get("/api/v1/citybrain/kinds", headers=headers).json()}
    assert "detected from induction loops" in kinds["incidents"]
    body = {"kind": "incidents", "net_sha256": uploaded[0], "routes_sha256": uploaded[1], "controller": "max-pressure", "seeds": [0, 1],
            "duration": DURATION, "scenario": SMALL}  # fmt: skip

    before = db_state(runtime)
    refused = client.post("/api/v1/citybrain/runs", json={**body, "scenario": {**SMALL, "blockage": 5}}, headers=headers)
    assert refused.status_code == 422 and "'blockage' must be a number of seconds from 30 to 7200" in refused.text
    assert_db_unchanged(before, db_state(runtime))

    created = client.post("/api/v1/citybrain/runs", json=body, headers=headers)
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["kind"] == "incidents" and run["scenario"]["count"] == 1 and run["scenario"]["interval"] == 30.0
    job = DataKit(runtime, world.a_member.actor).run(type("Job", (), {"id": run["job_id"]}))
    assert job.status == "succeeded", job.error
    assert job.result["kind"] == "incidents" and job.result["detection_rate"] == 1.0

    read = client.get(f"/api/v1/citybrain/runs/{run['id']}", headers=headers).json()
    assert read["status"] == "succeeded" and [e["seed"] for e in read["episodes"]] == [0, 1]
    times = [e["mean_time_to_detect"] for e in read["episodes"]]
    assert read["summary"]["mean_time_to_detect"]["mean"] == pytest.approx(sum(times) / 2)
    assert {"detection_rate", "false_alarms_per_hour", "incidents", "detected"} <= set(read["summary"])
    assert all(len(e["per_incident"]) == 1 and e["per_incident"][0]["detected_at"] is not None for e in read["episodes"])
    listed = client.get("/api/v1/citybrain/runs", params={"kind": "incidents"}, headers=headers).json()["items"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert client.get(f"/api/v1/citybrain/runs/{run['id']}", headers=auth(world.b_member)).status_code == 404


def test_the_cli_runs_incident_detection_and_refuses_a_bad_parameter(runtime, member_cli, grid):
    from aicommons.core.jobs.worker import WorkerLoop

    net_file, route_file = grid
    common = ("citybrain", "run", "--network", str(net_file), "--routes", str(route_file), "--kind", "incidents", "--duration", f"{DURATION:g}",
              *(item for key, value in SMALL.items() for item in ("-s", f"{key}={value}")))  # fmt: skip
    refused = member_cli(*common, "-s", "count=9")
    assert refused.exit_code == 2 and "9 incidents of 400 s" in refused.output, refused.output

    queued = member_cli(*common, "--seeds", "2", "--no-wait")
    assert queued.exit_code == 0, queued.output
    run_id = queued.output.split("City Brain run ")[1].split(":")[0]
    assert WorkerLoop(runtime, "cli-incidents").run_one()
    shown = member_cli("citybrain", "show", run_id)
    assert shown.exit_code == 0 and "detection_rate" in shown.output and "false_alarms_per_hour" in shown.output, shown.output


@pytest.mark.slow
@pytest.mark.skipif(not HANGZHOU.is_dir(), reason=f"Hangzhou 4x4 SUMO data absent: {HANGZHOU}")
def test_an_hour_of_hangzhou_with_three_incidents():
    run = runs.SeedRun(
        net_file=HANGZHOU / "hangzhou_4x4_gudang_18041610_1h.net.xml", route_file=HANGZHOU / "hangzhou_4x4_gudang_18041610_1h.rou.xml",
        controller=lambda: runs.build_controller("max-pressure", {}), timing=Timing(), seed=2, duration=3600.0,
        scenario=check_scenario({}), progress=lambda fraction, message: None,
    )  # fmt: skip
    episode = run_seed(run)
    print({key: value for key, value in episode.items() if isinstance(value, int | float)})
    # Seed 2 is the noisiest of seeds 0-2 on HZ-1 (the module documentation has the table): 2 of 3 found, 3 false alarms.
    assert episode["incidents"] == 3 and episode["detected"] >= 2 and episode["false_alarms"] <= 3
