"""City Brain's replay in a real browser: the slider steps through the queue timeline with the arrow
keys, the play button runs it to the end, and the intersections change colour as the queues do."""

from __future__ import annotations

import pytest
from consolekit import BROWSER, finished_run, playwright_expect, sign_in_page

pytestmark = BROWSER
expect = playwright_expect()
pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")

DURATION = 600.0  # ten simulated minutes: eleven moments to replay


def test_the_replay_slider_steps_with_the_keyboard_and_plays_to_the_end(
    page, runtime, world, screenshots, tmp_path
):
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    run_id = finished_run(
        runtime,
        world.a_member.actor,
        synthetic_grid(tmp_path, size=3, duration=DURATION, vehicles_per_hour=2400, seed=0),
        name="3×3 grid, fixed cycle",
        controller="fixed-time",
        duration=DURATION,
    )
    sign_in_page(page, runtime)
    page.goto(f"/citybrain/runs/{run_id}")
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
