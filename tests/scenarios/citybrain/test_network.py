from __future__ import annotations

from pathlib import Path

import pytest

from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain.network import is_green_state, read_network
from aicommons.scenarios.citybrain.simulation import synthetic_grid

pytestmark = pytest.mark.no_database

# Real data lives beside the project, never inside it (see ../shared/data/citybrain/README.md).
HANGZHOU = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "citybrain" / "hangzhou_4x4_sumo"
HANGZHOU_NET = HANGZHOU / "hangzhou_4x4_gudang_18041610_1h.net.xml"


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> tuple[Path, Path]:
    return synthetic_grid(tmp_path_factory.mktemp("grid"), size=2, duration=60, seed=1)


@pytest.mark.parametrize(
    ("state", "green"),
    [("GGgrrrGGgrrr", True), ("yyyrrryyyrrr", False), ("GGyrrr", False), ("rrrr", False), ("ssss", False), ("grrr", True)],
)
def test_a_green_phase_lets_something_go_and_shows_no_yellow(state, green):
    assert is_green_state(state) is green


def test_a_grid_has_one_signal_per_junction_with_its_green_phases_only(grid):
    net_file, _ = grid
    intersections = read_network(net_file)
    assert sorted(i.id for i in intersections) == ["A0", "A1", "B0", "B1"]
    for intersection in intersections:
        # netgenerate's program: green, yellow, green, yellow — the greens keep their program index.
        assert [phase.index for phase in intersection.phases] == [0, 2]
        assert all("y" not in phase.state for phase in intersection.phases)
        assert len(set(intersection.incoming_lanes)) == len(intersection.incoming_lanes) == 4
        assert len(set(intersection.outgoing_lanes)) == len(intersection.outgoing_lanes) == 4


def test_movements_are_the_green_links_of_the_state(grid):
    net_file, _ = grid
    intersection = read_network(net_file)[0]
    for phase in intersection.phases:
        green_links = sum(letter in "Gg" for letter in phase.state)
        assert len(phase.movements) == green_links  # one lane pair per link on one-lane roads
        for in_lane, out_lane in phase.movements:
            assert in_lane in intersection.incoming_lanes and out_lane in intersection.outgoing_lanes
    # The two greens serve different approaches.
    first, second = ({in_lane for in_lane, _ in phase.movements} for phase in intersection.phases)
    assert first and second and not first & second


def test_a_missing_network_is_named(tmp_path):
    with pytest.raises(Invalid, match="net_file must be an existing SUMO .net.xml file"):
        read_network(tmp_path / "nowhere.net.xml")


@pytest.mark.skipif(not HANGZHOU_NET.is_file(), reason=f"Hangzhou 4x4 SUMO data absent: {HANGZHOU_NET}")
def test_hangzhou_has_sixteen_signals_with_eight_greens():
    intersections = read_network(HANGZHOU_NET)
    assert len(intersections) == 16
    for intersection in intersections:
        assert len(intersection.phases) == 8  # its 'sss' intergreens are left out
        assert [phase.index for phase in intersection.phases] == list(range(0, 16, 2))
        assert len(intersection.incoming_lanes) == 12  # four approaches of three lanes
        assert all(phase.duration == 30 for phase in intersection.phases)
