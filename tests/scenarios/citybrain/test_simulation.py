from __future__ import annotations

import itertools
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest

from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain.controllers import FixedTime, MaxPressure, Timing
from aicommons.scenarios.citybrain.network import Intersection, Observation
from aicommons.scenarios.citybrain.simulation import run_episode, synthetic_grid, yellow_state

pytestmark = pytest.mark.no_database

HANGZHOU = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "citybrain" / "hangzhou_4x4_sumo"
HANGZHOU_NET = HANGZHOU / "hangzhou_4x4_gudang_18041610_1h.net.xml"
HANGZHOU_ROUTES = HANGZHOU / "hangzhou_4x4_gudang_18041610_1h.rou.xml"


class Cycle:
    """Shows each green for `green` seconds, in order: the simplest controller the runner can drive."""

    name = "cycle"

    def __init__(self, green: float = 20.0):
        self.green = green
        self.observations: list[tuple[str, Observation]] = []

    def reset(self, intersections, timing) -> None:
        self.observations = []

    def decide(self, intersection: Intersection, observation: Observation) -> int:
        self.observations.append((intersection.id, observation))
        if observation.phase_elapsed >= self.green:
            return (observation.current_phase + 1) % len(intersection.phases)
        return observation.current_phase


class Always:
    """Asks for the same phase every time (0 holds the first green forever; others toggle as asked)."""

    def __init__(self, phase):
        self.phase, self.name = phase, f"always-{phase}"
        self.observations: list[tuple[str, Observation]] = []

    def reset(self, intersections, timing) -> None:
        self.observations = []

    def decide(self, intersection, observation):
        self.observations.append((intersection.id, observation))
        return self.phase(observation) if callable(self.phase) else self.phase


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> tuple[Path, Path]:
    return synthetic_grid(tmp_path_factory.mktemp("grid"), size=2, duration=300, vehicles_per_hour=1500, seed=1)


def departures(route_file: Path) -> list[float]:
    return [float(vehicle.get("depart")) for vehicle in ElementTree.parse(route_file).getroot().iter("vehicle")]


# ---------------------------------------------------------------- yellow between greens


def test_generated_yellow_stops_what_the_next_green_does_not_serve():
    assert yellow_state("GGgrrr", "rrrGGg", None) == "yyyrrr"
    # A movement green in both phases keeps going: it has no reason to stop.
    assert yellow_state("GGgrrr", "GrrGGg", None) == "Gyyrrr"


def test_the_programs_own_intergreen_is_used_when_it_has_one():
    assert yellow_state("GGgrrr", "rrrGGg", "yyyrrr") == "yyyrrr"
    # Hangzhou's intergreen is all 'stop' letters: nothing to turn yellow.
    assert yellow_state("GGGrrr", "rrrGGG", "sssrrr") == "sssrrr"
    # A program yellow that keeps a green the next phase does not serve gets it turned yellow.
    assert yellow_state("GGgrrr", "rrrGGg", "GGyrrr") == "yyyrrr"


# ---------------------------------------------------------------- the episode


def test_an_episode_reports_every_metric(grid):
    net_file, route_file = grid
    reports: list[tuple[float, str]] = []
    result = run_episode(net_file, route_file, Cycle(), duration=300, seed=0, progress=lambda f, m: reports.append((f, m)))
    scheduled = sum(depart < 300 for depart in departures(route_file))
    assert result.controller == "cycle" and result.seed == 0 and result.duration == 300
    assert result.vehicles == scheduled  # every vehicle due to depart counts, arrived or not
    assert 0 < result.throughput < result.vehicles
    assert 30 < result.average_travel_time < 300
    assert 0 < result.average_delay < result.average_travel_time
    assert result.average_queue > 0
    assert set(result.per_intersection) == {"A0", "A1", "B0", "B1"}
    assert all(set(metrics) == {"queue", "delay"} for metrics in result.per_intersection.values())
    assert result.simulated_per_wall_second > 0 and result.teleports == 0
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) >= 10
    assert "vehicles arrived" in reports[-1][1]


def test_the_controller_drives_the_lights_every_action_interval(grid):
    net_file, route_file = grid
    import libsumo

    shown: list[tuple[str, str, str]] = []

    class Recorder(Cycle):
        def decide(self, intersection, observation):
            # libsumo runs in this process, so the test can look at the light the runner set.
            state = libsumo.trafficlight.getRedYellowGreenState(intersection.id)
            shown.append((intersection.id, state, intersection.phases[observation.current_phase].state))
            return super().decide(intersection, observation)

    controller = Recorder(green=10)
    run_episode(net_file, route_file, controller, timing=Timing(action_interval=5, yellow=3, min_green=5), duration=120)
    times = sorted({observation.time for _, observation in controller.observations})
    assert times == [float(t) for t in range(0, 120, 5)]
    assert all(state == expected for _, state, expected in shown)
    phases = [observation.current_phase for i, observation in controller.observations if i == "A0"]
    assert set(phases) == {0, 1}  # the cycle went round, not SUMO's 42-second program


def test_min_green_holds_and_yellow_precedes_each_new_green(grid):
    net_file, route_file = grid
    toggle = Always(lambda observation: 1 - observation.current_phase)
    timing = Timing(action_interval=5, yellow=3, min_green=12)
    run_episode(net_file, route_file, toggle, timing=timing, duration=150)
    seen = [(o.time, o.current_phase, o.phase_elapsed) for i, o in toggle.observations if i == "A0"]
    switches = [(before, after) for before, after in itertools.pairwise(seen) if after[1] != before[1]]
    assert switches
    for (_, _, elapsed_before), (_, _, elapsed_after) in switches:
        assert elapsed_before >= timing.min_green  # asked at every decision, granted only after min_green
        assert elapsed_after == timing.action_interval - timing.yellow  # the green began after 3 s of yellow


def test_unfinished_vehicles_count_with_their_time_so_far(grid):
    net_file, route_file = grid
    # Holding the first green forever leaves the other approaches waiting to the end.
    result = run_episode(net_file, route_file, Always(0), duration=120)
    due = [depart for depart in departures(route_file) if depart < 120]
    assert result.vehicles == len(due)
    assert result.throughput < len(due) / 2
    # Every vehicle counts at least from its departure to the end or to its arrival.
    assert result.average_travel_time > 0.3 * (120 - sum(due) / len(due))


def test_libsumo_and_traci_give_the_same_episode(grid):
    net_file, route_file = grid
    fast = run_episode(net_file, route_file, Cycle(), duration=100, seed=3)
    fallback = run_episode(net_file, route_file, Cycle(), duration=100, seed=3, use_libsumo=False)
    for metric in ("average_travel_time", "throughput", "average_queue", "average_delay", "per_intersection"):
        assert getattr(fast, metric) == getattr(fallback, metric)


def test_the_same_seed_gives_the_same_episode(grid):
    net_file, route_file = grid
    first, second = (run_episode(net_file, route_file, Cycle(), duration=150, seed=7) for _ in range(2))
    assert (first.average_travel_time, first.throughput) == (second.average_travel_time, second.throughput)


def test_the_simulation_is_closed_after_a_failing_controller(grid):
    net_file, route_file = grid

    class Broken(Cycle):
        def decide(self, intersection, observation):
            raise RuntimeError("controller bug")

    with pytest.raises(RuntimeError, match="controller bug"):
        run_episode(net_file, route_file, Broken(), duration=60)
    assert run_episode(net_file, route_file, Cycle(), duration=60).vehicles > 0  # libsumo is free again


def test_a_phase_outside_the_intersection_is_named(grid):
    net_file, route_file = grid
    with pytest.raises(Invalid, match=r"controller 'always-5' must return a phase position in 0\.\.1"):
        run_episode(net_file, route_file, Always(5), duration=30)


def test_missing_routes_and_bad_durations_are_named(grid, tmp_path):
    net_file, route_file = grid
    with pytest.raises(Invalid, match="route_file must be an existing SUMO .rou.xml file"):
        run_episode(net_file, tmp_path / "none.rou.xml", Cycle())
    with pytest.raises(Invalid, match="duration must be positive"):
        run_episode(net_file, route_file, Cycle(), duration=0)


def test_synthetic_grid_rejects_an_empty_grid(tmp_path):
    with pytest.raises(Invalid, match="size and lanes must be >= 1"):
        synthetic_grid(tmp_path, size=0)


def test_max_pressure_beats_a_fixed_cycle_on_a_congested_grid(tmp_path):
    net_file, route_file = synthetic_grid(tmp_path, size=2, duration=600, vehicles_per_hour=2000, seed=0)
    fixed = run_episode(net_file, route_file, FixedTime(), duration=600)
    pressure = run_episode(net_file, route_file, MaxPressure(), duration=600)
    assert pressure.average_travel_time < 0.9 * fixed.average_travel_time
    assert pressure.throughput >= fixed.throughput


@pytest.mark.slow
@pytest.mark.skipif(not HANGZHOU_ROUTES.is_file(), reason=f"Hangzhou 4x4 SUMO data absent: {HANGZHOU}")
def test_an_hour_of_hangzhou_simulates_in_well_under_a_minute():
    started = time.perf_counter()
    result = run_episode(HANGZHOU_NET, HANGZHOU_ROUTES, Cycle(green=30), duration=3600)
    wall = time.perf_counter() - started
    print(
        f"Hangzhou 4x4, 1 h, 30 s cycle: {wall:.1f} s wall, {result.simulated_per_wall_second:.0f} simulated s per wall s, "
        f"travel time {result.average_travel_time:.1f} s, throughput {result.throughput}/{result.vehicles}"
    )
    assert result.vehicles == 2983
    assert result.throughput > 2000
    assert wall < 60
