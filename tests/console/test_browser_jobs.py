"""Jobs and serving in a real browser: a job's page follows its progress live (htmx polling) until
it ends, cancel and retry from the page, and an endpoint's "try it" form answering with the
model's probabilities. Screenshots are saved as test artefacts."""

from __future__ import annotations

import json
import threading

from consolekit import BROWSER, IRIS_FEATURES, playwright_expect, sign_in_page

from aicommons.core import jobs
from aicommons.core.jobs.worker import WorkerLoop
from aicommons.core.schemas import JobSubmit

pytestmark = BROWSER
expect = playwright_expect()


def _submit(runtime, world, **params):
    with runtime.session() as session:
        return jobs.submit_job(
            session,
            world.a_member.actor,
            JobSubmit(type="diagnostics.sleep", params=params),
        )


def test_a_jobs_page_follows_it_live_then_cancel_and_retry(
    page, runtime, world, screenshots
):
    running = _submit(runtime, world, steps=4, seconds=0.8)
    sign_in_page(page, runtime)
    page.goto("/jobs")
    expect(page.get_by_role("link", name="diagnostics.sleep")).to_be_visible()
    page.screenshot(path=screenshots / "jobs-list.png", full_page=True)

    page.locator(f'a[href="/jobs/{running.id}"]').click()
    expect(page.get_by_role("status")).to_have_text("排队中")
    worker = threading.Thread(
        target=WorkerLoop(runtime, "browser-test-worker").run_one, daemon=True
    )
    worker.start()
    # No reload: the polled fragment shows the job running, then done.
    expect(page.get_by_role("status")).to_have_text("运行中", timeout=10_000)
    expect(page.locator(".job-log")).to_contain_text("step 1/4 done", timeout=10_000)
    page.screenshot(path=screenshots / "jobs-running.png", full_page=True)
    expect(page.get_by_role("status")).to_have_text("已成功", timeout=15_000)
    expect(page.locator(".job-log")).to_contain_text("step 4/4 done")
    expect(page.locator(".job-result")).to_contain_text('"steps": 4')
    expect(page.get_by_role("button", name="取消作业")).to_have_count(0)
    worker.join(10)
    page.screenshot(path=screenshots / "jobs-succeeded.png", full_page=True)

    queued = _submit(runtime, world, steps=1, seconds=0)
    page.goto(f"/jobs/{queued.id}")
    page.get_by_role("button", name="取消作业").click()
    expect(page.get_by_role("status")).to_have_text("已取消")
    page.get_by_role("button", name="重试作业").click()
    expect(page.get_by_role("status")).to_have_text("排队中")
    with runtime.session() as session:
        assert jobs.get_job(session, world.a_member.actor, queued.id).status == "queued"


def test_an_endpoints_try_it_form_shows_the_models_probabilities(
    page, runtime, iris, screenshots
):
    sign_in_page(page, runtime)
    page.goto("/endpoints")
    page.get_by_role("link", name="iris").click()
    field = page.get_by_label("特征（JSON）")
    field.fill("{not json")
    page.get_by_role("button", name="预测").click()
    expect(page.locator("#try-features-error")).to_contain_text("这不是 JSON")
    page.get_by_label("特征（JSON）").fill(
        json.dumps(dict(zip(IRIS_FEATURES, [6.7, 3.0, 5.2, 2.3], strict=True)))
    )
    page.get_by_role("button", name="预测").click()
    expect(page.locator(".predicted-label")).to_have_text("virginica")
    expect(page.locator("#latency-p50")).to_be_visible()
    page.screenshot(path=screenshots / "serving-try-it.png", full_page=True)

    page.set_viewport_size({"width": 768, "height": 1024})  # a tablet
    page.goto("/endpoints")
    page.get_by_label("端点名称").fill("iris-two")
    page.get_by_label("最大批量").fill("0")
    page.get_by_role("button", name="部署", exact=True).click()
    expect(page.locator("#deploy-max_batch_size-error")).to_be_visible()
    page.screenshot(path=screenshots / "serving-endpoints-tablet.png", full_page=True)
    page.get_by_label("最大批量").fill("8")
    page.get_by_role("button", name="部署", exact=True).click()
    page.wait_for_url("**/endpoints/iris-two")
    expect(page.get_by_role("heading", name="iris-two")).to_be_visible()
