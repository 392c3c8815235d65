"""City Brain pages: the runs list, a run's road map with one circle per intersection and a queue
timeline the replay slider steps through, per-seed metrics, the controller comparison; another
org's run is a 404 page. The runs are real: a 2×2 netgenerate grid simulated in this process."""

from __future__ import annotations

import json
import re

import pytest
from consolekit import counted_page, finished_run

from aicommons.scenarios.citybrain import runs
from aicommons.scenarios.citybrain.schemas import RunCreate

pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")
pytest.importorskip("sumolib", reason="the citybrain extra (sumolib) is not installed")

DURATION = 300.0  # five simulated minutes: six samples of the queue timeline (every 60 s from 0)


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    return synthetic_grid(
        tmp_path_factory.mktemp("grid"),
        size=2,
        duration=DURATION,
        vehicles_per_hour=1800,
        seed=0,
    )


def _run(runtime, actor, grid, controller: str, seeds: list[int]) -> str:
    return finished_run(
        runtime,
        actor,
        grid,
        name=f"grid {controller}",
        controller=controller,
        seeds=seeds,
        duration=DURATION,
    )


def _replay(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" class="replay-data">(.*?)</script>',
        html,
        re.DOTALL,
    )
    assert found, "the run page has no replay data"
    return json.loads(found.group(1))


def test_a_run_page_draws_every_intersection_and_a_timeline_the_slider_steps_through(
    console, runtime, world, grid
):
    run_id = _run(runtime, world.a_member.actor, grid, "max-pressure", [0, 1])
    with runtime.session() as session:
        stored = runs.get_run(session, world.a_member.actor, run_id)
    # The timeline is kept beside the episodes: their fields are what they were.
    assert (
        all("queue_timeline" not in e for e in stored.episodes)
        and "average_travel_time" in stored.episodes[0]
    )

    client = console("member@a.test")
    page = client.get(f"/citybrain/runs/{run_id}")
    assert page.status_code == 200, page.text[:500]
    html = page.text
    circles = re.findall(r'<circle data-intersection="([^"]+)"', html)
    assert sorted(circles) == [
        "A0",
        "A1",
        "B0",
        "B1",
    ]  # one circle per signalised intersection
    assert html.count("<line ") >= 4  # roads between the junctions
    replay = _replay(html)
    assert replay["times"] == [
        "0:00:00",
        "0:01:00",
        "0:02:00",
        "0:03:00",
        "0:04:00",
        "0:05:00",
    ]
    assert set(replay["queues"]) == set(circles) and all(
        len(q) == 6 for q in replay["queues"].values()
    )
    slider = re.search(
        r'<input id="replay-time" name="t" type="range" min="0" max="(\d+)" step="1" value="(\d+)"',
        html,
    )
    assert slider and slider.groups() == ("5", "0")
    assert (
        '<script src="/static/citybrain.js" defer></script>' in html
        and 'class="play"' in html
    )
    for seed in (0, 1):  # the per-seed metrics
        assert (
            f'href="/citybrain/runs/{run_id}?seed={seed}"' in html
            or f"<strong>{seed}</strong>" in html
        )
    assert "平均行程时间" in html  # in Chinese by default

    # The server draws any moment itself (the slider's form without JavaScript): the colours follow the queues then.
    busiest = max(range(6), key=lambda i: sum(q[i] for q in replay["queues"].values()))
    later = client.get(
        f"/citybrain/runs/{run_id}", params={"seed": 1, "t": busiest}
    ).text
    assert f'value="{busiest}"' in later and _replay(later)["times"][busiest] in later
    from aicommons.console.road_map import queue_colour

    timeline = _replay(later)["queues"]
    for intersection in circles:
        colour = re.search(
            rf'<circle data-intersection="{intersection}"[^>]* fill="([^"]+)"', later
        ).group(1)
        assert colour == queue_colour(timeline[intersection][busiest])

    assert (
        client.get(f"/citybrain/runs/{run_id}", params={"seed": 9}).status_code == 422
    )  # not a seed of the run
    assert console("member@b.test").get(f"/citybrain/runs/{run_id}").status_code == 404


def test_the_runs_list_and_the_controller_comparison(console, runtime, world, grid):
    pressure = _run(runtime, world.a_member.actor, grid, "max-pressure", [0])
    fixed = _run(runtime, world.a_member.actor, grid, "fixed-time", [0, 1])
    theirs = _run(runtime, world.b_member.actor, grid, "sotl", [0])
    client = console("member@a.test")

    listed = client.get("/citybrain").text
    assert (
        f"/citybrain/runs/{pressure}" in listed
        and f"/citybrain/runs/{fixed}" in listed
        and theirs not in listed
    )
    assert "平均行程时间" in listed and "±" in listed  # each run's headline metric
    only_fixed = client.get("/citybrain", params={"controller": "fixed-time"}).text
    assert (
        f"/citybrain/runs/{fixed}" in only_fixed
        and f"/citybrain/runs/{pressure}" not in only_fixed
    )

    client.cookies.set("aic_lang", "en")  # and in English
    assert "Average travel time (s)" in client.get("/citybrain").text
    assert "Shorter is better." in client.get(f"/citybrain/runs/{pressure}/compare").text
    client.cookies.set("aic_lang", "zh_CN")

    compared = client.get(f"/citybrain/runs/{pressure}/compare")
    assert compared.status_code == 200
    html = compared.text
    assert html.count('<svg class="chart"') == 2  # travel time and throughput
    assert (
        "max-pressure" in html and "fixed-time" in html and "sotl" not in html
    )  # B's run is B's
    with runtime.session() as session:
        results = runs.compare_controllers(session, world.a_member.actor, pressure)
    assert {r.controller: r.seeds for r in results} == {
        "max-pressure": 1,
        "fixed-time": 2,
    }
    assert (
        console("member@b.test").get(f"/citybrain/runs/{pressure}/compare").status_code
        == 404
    )


def test_the_runs_list_reads_a_page_of_runs_in_a_fixed_number_of_statements(
    console, runtime, world, grid
):
    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, *grid)
    client = console("member@a.test")

    def queue(count: int) -> None:
        with runtime.session() as session:
            for _ in range(count):
                runs.start_run(
                    session,
                    runtime.blobs,
                    world.a_member.actor,
                    RunCreate(
                        net_sha256=net_sha256,
                        routes_sha256=routes_sha256,
                        duration=DURATION,
                    ),
                )

    queue(2)
    _, few, _ = counted_page(client, runtime.engine, "/citybrain")
    queue(20)
    assert counted_page(client, runtime.engine, "/citybrain")[1] == few
