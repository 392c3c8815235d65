"""City Brain: runs, the network drawn as SVG with a replay of queue lengths, controller comparisons."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from aicommons.console import charts, road_map
from aicommons.console.deps import Member, MemberDep, RuntimeDep, SessionDep
from aicommons.console.pages import ConsoleRoute, render
from aicommons.scenarios.citybrain import runs
from aicommons.scenarios.citybrain.controllers import controllers

router = APIRouter(route_class=ConsoleRoute)
PAGE_SIZE = 50
FINISHED = ("succeeded", "failed", "cancelled")


@router.get("/citybrain")
def run_list(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    kind: Annotated[str, Query(max_length=30)] = "",
    controller: Annotated[str, Query(max_length=60)] = "",
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page = runs.list_runs(
        session,
        member.actor,
        kind=kind or None,
        controller=controller or None,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    return render(
        request,
        member,
        "citybrain/list.html",
        page=page,
        headlines={run.id: runs.headline(run) for run in page.items},
        kind=kind,
        controller=controller,
        kinds=runs.run_kinds.names(),
        controllers=controllers.names(),
    )


def _describe(member: Member):
    def describe(intersection: str, queue: int | None) -> str:
        if queue is None:
            return member.translator.gettext("{id}: no queue recorded", id=intersection)
        return member.translator.gettext(
            "{id}: {count} halting vehicles", id=intersection, count=queue
        )

    return describe


@router.get("/citybrain/runs/{run_id}")
def run_page(
    request: Request,
    run_id: str,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
    seed: Annotated[int | None, Query(ge=0)] = None,
    t: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    run = runs.get_run(session, member.actor, run_id)
    shown_seed = seed if seed is not None else run.seeds[0]
    timeline = runs.get_queue_timeline(session, member.actor, run_id, shown_seed)
    moment = min(t, len(timeline.times) - 1) if timeline and timeline.times else 0
    network = runs.get_network_map(session, runtime.blobs, member.actor, run_id)
    gettext = member.translator.gettext
    drawn = None
    if network is not None:
        drawn = road_map.road_map(
            network,
            road_map.queues_at(timeline, moment),
            describe=_describe(member),
            title=gettext("The road network: intersections coloured by queue length"),
        )
    replay = road_map.replay_data(
        timeline, title_template=gettext("{id}: {count} halting vehicles"), no_data=gettext("{id}: no queue recorded"),
    ) if timeline else None  # fmt: skip
    episode = next((e for e in run.episodes if e.get("seed") == shown_seed), None)
    return render(
        request, member, "citybrain/run.html", run=run, headline=runs.headline(run), columns=runs.episode_columns(run.kind),
        shown_seed=shown_seed, timeline=timeline, moment=moment, clock=road_map.clock, drawn=drawn, replay=replay,
        bands=road_map.band_labels(), episode=episode, finished=run.status in FINISHED,
    )  # fmt: skip


@router.get("/citybrain/runs/{run_id}/compare")
def comparison(
    request: Request, run_id: str, session: SessionDep, member: MemberDep
) -> Response:
    run = runs.get_run(session, member.actor, run_id)
    results = runs.compare_controllers(session, member.actor, run_id)
    names = [r.controller for r in results]
    this_one = [index for index, name in enumerate(names) if name == run.controller]
    gettext, number = member.translator.gettext, member.translator.number
    travel = charts.bar_chart(names, [r.average_travel_time for r in results], title=gettext("Average travel time (s)"),
                              unit=" s", fmt=number, highlight=this_one) if results else None  # fmt: skip
    throughput = charts.bar_chart(names, [r.throughput for r in results], title=gettext("Throughput (vehicles)"),
                                  fmt=number, highlight=this_one) if results else None  # fmt: skip
    return render(
        request,
        member,
        "citybrain/compare.html",
        run=run,
        results=results,
        travel=travel,
        throughput=throughput,
        clock=road_map.clock,
    )
