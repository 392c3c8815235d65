"""The emergency green wave: the EV's route pre-empts the signals in order, which saves it time under
congestion and never costs it time in light traffic; the others' cost is reported; a scenario that
cannot run is refused before anything is queued; the same through the API and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest
from datakit import DataKit
from support import assert_db_unchanged, auth, db_state

from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain import runs
from aicommons.scenarios.citybrain.controllers import Timing
from aicommons.scenarios.citybrain.greenwave import EV_ID, EmergencyVehicle, RoadNetwork, check_scenario, run_seed
from aicommons.scenarios.citybrain.network import read_network
from aicommons.scenarios.citybrain.schemas import RunCreate
from aicommons.scenarios.citybrain.simulation import run_episode, synthetic_grid

pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")
pytest.importorskip("sumolib", reason="the citybrain extra (sumolib) is not installed")

DURATION = 300.0
DEPART = 100.0
HANGZHOU = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "citybrain" / "hangzhou_4x4_sumo"


@pytest.fixture(scope="module")
def congested(tmp_path_factory):
    # Two lanes a road: the EV changes lanes, and with them its link index at the next signal.
    return synthetic_grid(tmp_path_factory.mktemp("congested"), size=3, lanes=2, duration=DURATION, vehicles_per_hour=4000, seed=0)


@pytest.fixture(scope="module")
def light(tmp_path_factory):
    return synthetic_grid(tmp_path_factory.mktemp("light"), size=3, duration=DURATION, vehicles_per_hour=600, seed=0)


def _seed_run(grid, seed=0, controller="max-pressure", **scenario):
    net_file, route_file = grid
    return runs.SeedRun(
        net_file=net_file, route_file=route_file, controller=lambda: runs.build_controller(controller, {}), timing=Timing(),
        seed=seed, duration=DURATION, scenario=check_scenario(scenario), progress=lambda fraction, message: None,
    )  # fmt: skip


class Crossings:
    """Watches the EV through libsumo (in this process): each signal it crosses, and when (an `Intervention`)."""

    def __init__(self):
        self.crossed: list[tuple[str, float]] = []
        self.next_signal: str | None = None

    def start(self, simulation, intersections):
        pass

    def after_step(self, simulation, now):
        if EV_ID not in simulation.vehicle.getIDList():
            return
        upcoming = simulation.vehicle.getNextTLS(EV_ID)
        following = upcoming[0][0] if upcoming else None
        if self.next_signal is not None and following != self.next_signal:
            self.crossed.append((self.next_signal, now))
        self.next_signal = following

    def preempt(self, intersection, now):
        return None

    def finish(self, trips):
        pass


def _drive(grid, *, preempting, release=True):
    net_file, route_file = grid
    route = RoadNetwork.read(net_file).longest_route(20.0, DURATION - DEPART, seed=0)
    vehicle = EmergencyVehicle(route, DEPART, 20.0, 300.0, preempting, release)
    watcher = Crossings()
    run_episode(net_file, route_file, runs.build_controller("max-pressure", {}), duration=DURATION, interventions=[vehicle, watcher])
    return route, vehicle, watcher


# --- pre-emption ---------------------------------------------------------------------------------


def test_preemption_saves_the_ev_time_under_congestion_and_reports_the_others_cost(congested):
    episode = run_seed(_seed_run(congested, seed=0))
    assert episode["ev_stops_baseline"] > 0  # congestion stops the EV at the lights without pre-emption
    assert episode["ev_arrived_preempted"]
    assert episode["ev_travel_time_preempted"] < episode["ev_travel_time_baseline"]
    assert episode["ev_travel_time_saved"] == episode["ev_travel_time_baseline"] - episode["ev_travel_time_preempted"]
    assert episode["ev_stops_preempted"] < episode["ev_stops_baseline"]

    # The others' averages recompose the episode's average with the EV's trip, in both runs.
    for arm in ("baseline", "preempted"):
        everyone = episode[arm]["vehicles"]
        assert episode["others"] == everyone - 1
        recomposed = (episode[f"others_average_travel_time_{arm}"] * episode["others"] + episode[f"ev_travel_time_{arm}"]) / everyone
        assert recomposed == pytest.approx(episode[arm]["average_travel_time"])
    cost = episode["others_average_travel_time_preempted"] - episode["others_average_travel_time_baseline"]
    assert episode["others_delay_cost"] == pytest.approx(cost)
    assert episode["others_delay_cost_vehicle_hours"] == pytest.approx(cost * episode["others"] / 3600)

    route = episode["route"]
    assert [p["intersection"] for p in episode["preemptions"]] == route["signals"]
    assert episode["intersections_preempted"] == len(route["signals"]) == 5  # the most a 3x3 grid's fastest routes cross


def test_every_signal_on_the_route_is_preempted_in_order_and_released_once_crossed(congested):
    route, vehicle, watcher = _drive(congested, preempting=True)
    crossed = [signal for signal, _ in watcher.crossed]
    assert crossed == list(route.signals) and len(crossed) == 5
    assert [p.intersection for p in vehicle.preemptions] == crossed  # each once, though the EV changed lanes on the way
    assert [p.visit for p in vehicle.preemptions] == list(range(5))
    forced = [p.forced_at for p in vehicle.preemptions]
    assert forced == sorted(forced) and forced[0] >= DEPART
    # Each signal goes back to the controller the step the EV crosses its stop line.
    assert [p.released_at for p in vehicle.preemptions] == [time for _, time in watcher.crossed]
    phases = {intersection.id: intersection.phases for intersection in read_network(congested[0])}
    for p in vehicle.preemptions:
        letters = {phase.state[p.link] for phase in phases[p.intersection]}
        # A green serving the EV's link: with priority ('G') where a phase gives it, else yielding ('g', a permitted left turn).
        assert phases[p.intersection][p.phase].state[p.link] == ("G" if "G" in letters else "g")


def test_without_release_the_corridor_is_held_until_the_ev_arrives(congested):
    route, vehicle, _ = _drive(congested, preempting=True, release=False)
    assert vehicle.arrived_at is not None
    assert [p.intersection for p in vehicle.preemptions] == list(route.signals)
    assert {p.released_at for p in vehicle.preemptions} == {vehicle.arrived_at}


def test_the_baseline_forces_no_signal(congested):
    _, vehicle, watcher = _drive(congested, preempting=False)
    assert vehicle.preemptions == [] and vehicle.arrived_at is not None and len(watcher.crossed) == 5


def test_preemption_never_costs_the_ev_time_in_light_traffic(light):
    for seed in (0, 1, 2):
        episode = run_seed(_seed_run(light, seed=seed, controller="fixed-time"))
        assert episode["ev_arrived_baseline"] and episode["ev_arrived_preempted"]
        assert episode["ev_travel_time_preempted"] <= episode["ev_travel_time_baseline"], seed
        assert episode["ev_stops_preempted"] == 0


# --- routes ----------------------------------------------------------------------------------------


def test_the_chosen_route_is_fixed_by_the_seed_and_crosses_the_most_signals(light):
    roads = RoadNetwork.read(light[0])
    chosen = {seed: roads.longest_route(20.0, DURATION - DEPART, seed=seed) for seed in range(6)}
    assert roads.longest_route(20.0, DURATION - DEPART, seed=3) == chosen[3]
    assert len({(r.from_edge, r.to_edge) for r in chosen.values()}) > 1
    assert all(len(r.signals) == 5 and len(set(r.signals)) == 5 and r.simple for r in chosen.values())
    # An explicit route is the same fastest route between its two edges.
    again = roads.route(chosen[0].from_edge, chosen[0].to_edge, 20.0)
    assert again.edges == chosen[0].edges and again.signals == chosen[0].signals
    # No route crosses the grid in less than its shortest possible time at the speed limit.
    assert all(r.free_flow_time >= r.length / 20.0 for r in chosen.values())


def test_an_explicit_route_is_driven_as_given(light):
    route = RoadNetwork.read(light[0]).longest_route(20.0, DURATION - DEPART, seed=1)
    episode = run_seed(_seed_run(light, from_edge=route.from_edge, to_edge=route.to_edge, depart=50))
    assert episode["depart"] == 50 and episode["route"]["edges"] == list(route.edges)
    assert [p["intersection"] for p in episode["preemptions"]] == list(route.signals)


# --- refusals and the API ------------------------------------------------------------------------


def _spec(net: str, routes: str, **changes) -> RunCreate:
    fields = {"name": "green wave", "kind": "green-wave", "net_sha256": net, "routes_sha256": routes, "controller": "max-pressure",
              "seeds": [0], "duration": DURATION}  # fmt: skip
    return RunCreate(**{**fields, **changes})


def test_scenarios_that_cannot_run_are_refused_before_anything_is_queued(runtime, world, light):
    actor = world.a_member.actor
    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, *light)
    route = RoadNetwork.read(light[0]).longest_route(20.0, DURATION - DEPART, seed=0)
    refusals = {
        "is not an edge of the network": {"from_edge": "nowhere", "to_edge": route.to_edge},
        f"no route for an emergency vehicle from '{route.to_edge}' to '{route.from_edge}'": {"from_edge": route.to_edge, "to_edge": route.from_edge},
        "'depart' (400 s) must be before the end of the run (300 s)": {"depart": 400},
        "needs at least 2 times that": {"from_edge": route.from_edge, "to_edge": route.to_edge, "depart": 280},
        "No route between the network's fringe edges": {"depart": 290},
        "needs both 'from_edge' and 'to_edge'": {"from_edge": route.from_edge},
        "Unknown green-wave scenario parameter(s) ['speed']": {"speed": 3},
        "crosses no signalised intersection": {"from_edge": route.from_edge, "to_edge": route.from_edge},
        "'lookahead' must be a number of metres above 0; got -5": {"lookahead": -5},
        "'max_speed' must be a number of m/s above 0 and at most 70; got 100": {"max_speed": 100},
        "'depart' must be a number of simulated seconds at least 0; got 'soon'": {"depart": "soon"},
        "'release' must be true or false": {"release": "yes"},
        "'from_edge' must be a SUMO edge id": {"from_edge": 7, "to_edge": route.to_edge},
    }
    before = db_state(runtime)
    for message, scenario in refusals.items():
        with runtime.session() as session, pytest.raises(Invalid) as refused:
            runs.start_run(session, runtime.blobs, actor, _spec(net_sha256, routes_sha256, scenario=scenario))
        assert message in str(refused.value), (message, str(refused.value))
    assert_db_unchanged(before, db_state(runtime))


def test_the_api_runs_a_green_wave_to_its_summary(runtime, world, client, light):
    headers = auth(world.a_member)
    uploaded = [
        client.post("/api/v1/citybrain/files", files={"file": (path.name, path.read_bytes())}, headers=headers).json()["sha256"]
        for path in light
    ]
    kinds = {kind["name"]: kind["description"] for kind in client.get("/api/v1/citybrain/kinds", headers=headers).json()}
    assert "pre-empts the signals" in kinds["green-wave"]
    body = {"kind": "green-wave", "net_sha256": uploaded[0], "routes_sha256": uploaded[1], "controller": "fixed-time", "seeds": [0, 1],
            "duration": DURATION, "scenario": {"lookahead": 200}}  # fmt: skip

    before = db_state(runtime)
    refused = client.post("/api/v1/citybrain/runs", json={**body, "scenario": {"from_edge": "nowhere", "to_edge": "nowhere"}}, headers=headers)
    assert refused.status_code == 422 and "'nowhere' is not an edge of the network" in refused.text
    assert_db_unchanged(before, db_state(runtime))

    created = client.post("/api/v1/citybrain/runs", json=body, headers=headers)
    assert created.status_code == 201, created.text
    run = created.json()
    assert run["kind"] == "green-wave" and run["scenario"]["lookahead"] == 200 and run["scenario"]["release"] is True
    job = DataKit(runtime, world.a_member.actor).run(type("Job", (), {"id": run["job_id"]}))
    assert job.status == "succeeded", job.error
    assert job.result["kind"] == "green-wave" and "ev_travel_time_saved" in job.result

    read = client.get(f"/api/v1/citybrain/runs/{run['id']}", headers=headers).json()
    assert read["status"] == "succeeded" and [e["seed"] for e in read["episodes"]] == [0, 1]
    saved = [e["ev_travel_time_saved"] for e in read["episodes"]]
    assert read["summary"]["ev_travel_time_saved"]["mean"] == pytest.approx(sum(saved) / 2)
    assert {"ev_travel_time_baseline", "ev_travel_time_preempted", "others_delay_cost", "others_delay_cost_vehicle_hours"} <= set(read["summary"])
    assert all(e["intersections_preempted"] == 5 for e in read["episodes"])
    listed = client.get("/api/v1/citybrain/runs", params={"kind": "green-wave"}, headers=headers).json()["items"]
    assert [r["id"] for r in listed] == [run["id"]]
    assert client.get(f"/api/v1/citybrain/runs/{run['id']}", headers=auth(world.b_member)).status_code == 404


def test_the_cli_runs_a_green_wave_and_refuses_an_unknown_edge(runtime, member_cli, light):
    from aicommons.core.jobs.worker import WorkerLoop

    net_file, route_file = light
    common = ("citybrain", "run", "--network", str(net_file), "--routes", str(route_file), "--kind", "green-wave", "--duration", f"{DURATION:g}")
    refused = member_cli(*common, "-s", "from_edge=nowhere", "-s", "to_edge=nowhere")
    assert refused.exit_code == 2 and "'nowhere' is not an edge of the network" in refused.output, refused.output

    queued = member_cli(*common, "--controller", "fixed-time", "--seeds", "4", "-s", "depart=60", "-s", "release=false", "--no-wait")
    assert queued.exit_code == 0, queued.output
    run_id = queued.output.split("City Brain run ")[1].split(":")[0]
    assert WorkerLoop(runtime, "cli-greenwave").run_one()
    shown = member_cli("citybrain", "show", run_id)
    assert shown.exit_code == 0 and "ev_travel_time_saved" in shown.output and "others_delay_cost" in shown.output, shown.output


@pytest.mark.slow
@pytest.mark.skipif(not HANGZHOU.is_dir(), reason=f"Hangzhou 4x4 SUMO data absent: {HANGZHOU}")
def test_an_hour_of_hangzhou_preempts_seven_signals_for_the_ev():
    net_file = HANGZHOU / "hangzhou_4x4_gudang_18041610_1h.net.xml"
    route_file = HANGZHOU / "hangzhou_4x4_gudang_18041610_1h.rou.xml"
    run = runs.SeedRun(
        net_file=net_file, route_file=route_file, controller=lambda: runs.build_controller("max-pressure", {}), timing=Timing(),
        seed=2, duration=3600.0, scenario=check_scenario({}), progress=lambda fraction, message: None,
    )  # fmt: skip
    episode = run_seed(run)
    print({key: value for key, value in episode.items() if isinstance(value, int | float)})
    assert episode["route"]["signals"] == [p["intersection"] for p in episode["preemptions"]] and episode["intersections_preempted"] == 7
    assert episode["ev_arrived_baseline"] and episode["ev_arrived_preempted"] and episode["ev_stops_preempted"] == 0
    assert episode["ev_travel_time_preempted"] < episode["ev_travel_time_baseline"]
    assert episode["ev_travel_time_preempted"] < 1.2 * episode["route"]["free_flow_time"]
