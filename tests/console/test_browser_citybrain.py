"""City Brain's replay in a real browser: the slider steps through the queue timeline with the arrow
keys, the play button runs it to the end, and the intersections change colour as the queues do."""

from __future__ import annotations

import os

import pytest
from consolekit import CHROMIUM, sign_in_page
from datakit import DataKit

from aicommons.scenarios.citybrain import runs
from aicommons.scenarios.citybrain.schemas import RunCreate

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason="no /usr/bin/chromium: run scripts/ensure-chromium.sh",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")

DURATION = 600.0  # ten simulated minutes: eleven moments to replay


def _finished_run(runtime, actor, folder) -> str:
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    net_sha256, routes_sha256 = runs.store_network(
        runtime.blobs,
        *synthetic_grid(
            folder, size=3, duration=DURATION, vehicles_per_hour=2400, seed=0
        ),
    )
    spec = RunCreate(
        name="3×3 grid, fixed cycle",
        net_sha256=net_sha256,
        routes_sha256=routes_sha256,
        controller="fixed-time",
        duration=DURATION,
    )
    with runtime.session() as session:
        queued = runs.start_run(session, runtime.blobs, actor, spec)
    job = DataKit(runtime, actor).run(type("Job", (), {"id": queued.job_id}))
    assert job.status == "succeeded", job.error
    return queued.id


def test_the_replay_slider_steps_with_the_keyboard_and_plays_to_the_end(
    page, runtime, world, screenshots, tmp_path
):
    run_id = _finished_run(runtime, world.a_member.actor, tmp_path)
    sign_in_page(page, runtime)
    page.goto(f"/citybrain/runs/{run_id}")
    expect = sync_api.expect
    circles = page.locator("circle[data-intersection]")
    expect(circles).to_have_count(9)
    clock = page.locator("#replay-clock")
    expect(clock).to_have_text("0:00:00")

    def colours() -> list[str]:
        return [circles.nth(i).get_attribute("fill") for i in range(9)]

    start = colours()
    slider = page.get_by_label("仿真时间")
    slider.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(clock).to_have_text("0:03:00")
    expect(slider).to_have_attribute("aria-valuetext", "0:03:00")
    page.keyboard.press("Home")
    expect(clock).to_have_text("0:00:00")

    play = page.get_by_role("button", name="播放")
    play.click()
    expect(page.get_by_role("button", name="暂停")).to_be_visible()
    expect(clock).to_have_text("0:10:00", timeout=15_000)  # eleven moments, 0.6 s apart
    expect(page.get_by_role("button", name="播放")).to_have_attribute(
        "aria-pressed", "false"
    )
    assert colours() != start, "the queues never changed the intersections' colours"
    page.keyboard.press("End")
    page.get_by_label("仿真时间").fill(
        "5"
    )  # a tablet's drag lands on a moment the same way
    expect(clock).to_have_text("0:05:00")
    page.set_viewport_size({"width": 820, "height": 1100})  # a tablet held upright
    page.screenshot(path=screenshots / "citybrain-replay.png", full_page=True)
