"""A City Brain road network drawn as inline SVG: roads as lines between junctions, signalised
intersections as circles coloured by their queue (halting vehicles on their incoming lanes).

The server draws the map at one moment of a run's queue timeline, so the page reads without
JavaScript; `replay_data` is what static/citybrain.js needs to recolour the same circles as the
replay slider moves (the colour bands travel with it, so server and browser colour alike).
SUMO's y axis points north and SVG's down, so y is flipped.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from markupsafe import Markup, escape

from aicommons.scenarios.citybrain.runs import NetworkMap, QueueTimeline

# (fewest halting vehicles, colour): every colour has at least 3:1 contrast on white (WCAG non-text).
QUEUE_BANDS: tuple[tuple[int, str], ...] = (
    (0, "#1d6b2f"),
    (3, "#8a6100"),
    (10, "#c2410c"),
    (20, "#7f1d1d"),
)
NO_DATA_COLOUR = "#6b7280"
LABELLED_UP_TO = 40  # intersections: beyond this many, ids would crowd the map (their circles keep a <title>)
WIDTH, MARGIN = 640, 24

Describe = Callable[
    [str, int | None], str
]  # (intersection id, halting vehicles or None) → a circle's title


def queue_colour(queue: int | None) -> str:
    if queue is None:
        return NO_DATA_COLOUR
    colour = QUEUE_BANDS[0][1]
    for least, band_colour in QUEUE_BANDS:
        if queue >= least:
            colour = band_colour
    return colour


def band_labels() -> list[tuple[str, str]]:
    """(range of vehicles, colour) per band, for the legend: "0–2", "3–9", …, "20+"."""
    labels = []
    for index, (least, colour) in enumerate(QUEUE_BANDS):
        following = QUEUE_BANDS[index + 1][0] if index + 1 < len(QUEUE_BANDS) else None
        labels.append(
            (
                f"{least}–{following - 1}" if following is not None else f"{least}+",
                colour,
            )
        )
    return labels


def clock(seconds: float) -> str:
    """Simulated time as h:mm:ss."""
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


class _Projection:
    """SUMO metres → SVG units, fitting the junctions into WIDTH with MARGIN, y flipped."""

    def __init__(self, points: Sequence[tuple[float, float]]):
        xs, ys = [x for x, _ in points] or [0.0], [y for _, y in points] or [0.0]
        self.left, self.top = min(xs), max(ys)
        span_x, span_y = max(xs) - self.left, self.top - min(ys)
        self.scale = (WIDTH - 2 * MARGIN) / max(span_x, span_y, 1.0)
        self.height = round(span_y * self.scale + 2 * MARGIN)

    def __call__(self, x: float, y: float) -> tuple[float, float]:
        return MARGIN + (x - self.left) * self.scale, MARGIN + (
            self.top - y
        ) * self.scale


def road_map(
    network: NetworkMap,
    queues: dict[str, int] | None,
    *,
    title: str,
    describe: Describe,
) -> Markup:
    """The network with each intersection coloured by `queues` (intersection id → halting vehicles; None: not known)."""
    project = _Projection(list(network.junctions.values()))
    lengths = []
    parts = []
    for start, end in network.roads:
        (x1, y1), (x2, y2) = (
            project(*network.junctions[start]),
            project(*network.junctions[end]),
        )
        lengths.append(((x2 - x1) ** 2 + (y2 - y1) ** 2) ** 0.5)
        parts.append(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}"/>')
    radius = min(max(0.18 * statistics.median(lengths), 4.0), 14.0) if lengths else 8.0
    roads = f'<g class="roads" stroke="#9aa4b1" stroke-width="{max(radius / 3, 1.5):.1f}" stroke-linecap="round">{"".join(parts)}</g>'
    circles, labels = [], []
    for intersection in network.intersections:
        cx, cy = project(intersection.x, intersection.y)
        queue = None if queues is None else queues.get(intersection.id)
        circles.append(
            f'<circle data-intersection="{escape(intersection.id)}" cx="{cx:.1f}" cy="{cy:.1f}" r="{radius:.1f}" '
            f'fill="{queue_colour(queue)}" stroke="#ffffff" stroke-width="1.5"><title>{escape(describe(intersection.id, queue))}</title></circle>'
        )
        if len(network.intersections) <= LABELLED_UP_TO:
            labels.append(
                f'<text x="{cx + radius + 3:.1f}" y="{cy - radius:.1f}" font-size="11" fill="#1a1a1a">{escape(intersection.id)}</text>'
            )
    return Markup(
        f'<svg class="road-map" role="img" viewBox="0 0 {WIDTH} {project.height}" width="100%" preserveAspectRatio="xMidYMid meet">'
        f'<title>{escape(title)}</title>{roads}<g class="intersections">{"".join(circles)}</g><g class="labels">{"".join(labels)}</g></svg>'
    )


def queues_at(timeline: QueueTimeline | None, index: int) -> dict[str, int] | None:
    """Each intersection's halting vehicles at the timeline's `index`-th time (None without a timeline)."""
    if timeline is None or not timeline.times:
        return None
    return {
        intersection: counts[index]
        for intersection, counts in timeline.queues.items()
        if index < len(counts)
    }


def replay_data(
    timeline: QueueTimeline, *, title_template: str, no_data: str
) -> dict[str, Any]:
    """What the replay script reads (JSON): times as clocks, queues per intersection, the colour bands,
    and the circles' title with `{id}` and `{count}` to fill in."""
    return {
        "times": [clock(t) for t in timeline.times], "queues": timeline.queues, "bands": [list(band) for band in QUEUE_BANDS],
        "no_data_colour": NO_DATA_COLOUR, "title": title_template, "no_data": no_data,
    }  # fmt: skip
