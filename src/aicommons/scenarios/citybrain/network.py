"""The road network as the controllers see it: signalised intersections, their green phases and lanes.

Every controller and the runner share these types, so a controller never touches SUMO directly: it
receives an `Intersection` once (from `read_network`) and an `Observation` at every decision.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aicommons.core.errors import Invalid

GREEN = "Gg"  # SUMO state letters for a movement that may go (priority and yielding green)
YELLOW = "yY"


@dataclass(frozen=True)
class Phase:
    """A green phase of a junction's signal program."""

    index: int  # its index in the SUMO program (tlLogic) of the junction
    state: str  # the SUMO signal state string, e.g. "GGrrrrGGrrrr"
    movements: tuple[tuple[str, str], ...]  # (incoming lane id, outgoing lane id) pairs that are green
    duration: float  # the program's duration for it (FixedTime uses these)


@dataclass(frozen=True)
class Intersection:
    id: str  # the traffic-light id
    phases: tuple[Phase, ...]  # green phases only (no yellow/all-red), in program order
    incoming_lanes: tuple[str, ...]
    outgoing_lanes: tuple[str, ...]


@dataclass(frozen=True)
class LaneState:
    """What a loop detector covering the whole lane reports for the last simulation step."""

    vehicles: int
    halting: int  # vehicles slower than 0.1 m/s
    mean_speed: float  # m/s over the vehicles on it; the lane's speed limit when it is empty
    length: float  # metres
    occupancy: float  # fraction (0..1) of the lane's length covered by vehicles


@dataclass(frozen=True)
class Observation:
    time: float
    lanes: dict[str, LaneState]  # every incoming and outgoing lane of the intersection
    current_phase: int  # index into Intersection.phases of the phase now green (or the one yellow leads to)
    phase_elapsed: float  # seconds since that green began


def is_green_state(state: str) -> bool:
    """A green phase lets some movement go and shows no yellow (yellow phases also hold 'G' letters)."""
    return any(letter in GREEN for letter in state) and not any(letter in YELLOW for letter in state)


def read_network(net_file: Path) -> list[Intersection]:
    """The signalised junctions of a SUMO .net.xml, each with its green phases and lanes.

    Uses the program SUMO would run by default (the last one loaded for each junction).
    """
    import sumolib  # imported here so the package imports without the citybrain extra

    net_file = Path(net_file)
    if not net_file.is_file():
        raise Invalid(f"net_file must be an existing SUMO .net.xml file, got {str(net_file)!r}")
    net = sumolib.net.readNet(str(net_file), withLatestPrograms=True)
    intersections = [_intersection(tls) for tls in net.getTrafficLights()]
    return [intersection for intersection in intersections if intersection.phases]


def _intersection(tls) -> Intersection:
    links = _links_by_index(tls)
    programs = list(tls.getPrograms().values())
    program_phases = programs[-1].getPhases() if programs else []
    phases = tuple(
        _green_phase(index, phase.state, float(phase.duration), links)
        for index, phase in enumerate(program_phases)
        if is_green_state(phase.state)
    )
    incoming = _unique(in_lane for pairs in links.values() for in_lane, _ in pairs)
    outgoing = _unique(out_lane for pairs in links.values() for _, out_lane in pairs)
    return Intersection(id=tls.getID(), phases=phases, incoming_lanes=incoming, outgoing_lanes=outgoing)


def _links_by_index(tls) -> dict[int, list[tuple[str, str]]]:
    """Signal-state position → the (in lane, out lane) pairs it controls, in link-index order."""
    links: dict[int, list[tuple[str, str]]] = {}
    for in_lane, out_lane, link_index in sorted(tls.getConnections(), key=lambda c: c[2]):
        links.setdefault(link_index, []).append((in_lane.getID(), out_lane.getID()))
    return links


def _green_phase(index: int, state: str, duration: float, links: dict[int, list[tuple[str, str]]]) -> Phase:
    movements = _unique(
        pair for position, letter in enumerate(state) if letter in GREEN for pair in links.get(position, ())
    )
    return Phase(index=index, state=state, movements=movements, duration=duration)


def _unique(items) -> tuple:
    """The items in first-seen order, each once."""
    return tuple(dict.fromkeys(items))
