"""The datasets and models pages in a real browser: a version's statistics charts and its diff,
starting a cleaning job from its form, a model's lineage graph and version comparison, moving an
alias with the keyboard, and the sign-in lock after repeated failures. Each flow asserts what the
user sees and saves screenshots."""

from __future__ import annotations

from consolekit import (
    BROWSER,
    give_password,
    playwright_expect,
    sign_in_page,
    submit_sign_in,
)

from aicommons.core import identity

pytestmark = BROWSER
expect = playwright_expect()


def test_a_versions_statistics_its_diff_and_a_cleaning_job_from_the_form(
    page, runtime, reviews, screenshots
):
    dataset, _first, _second = reviews
    sign_in_page(page, runtime)
    page.goto(f"/datasets/{dataset.id}/versions/2")
    expect(page.get_by_role("heading", name="每个标签的记录数")).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(3)
    page.screenshot(path=screenshots / "dataset-version-statistics.png", full_page=True)

    page.get_by_label("将 v2 与之比较").select_option("1")
    page.get_by_role("button", name="显示差异").click()
    expect(page.get_by_role("heading", name="v2 到 v1 的变化")).to_be_visible()
    expect(page.locator('[data-count="removed"]')).to_have_text("1")
    page.screenshot(path=screenshots / "dataset-diff.png", full_page=True)

    page.goto(f"/datasets/{dataset.id}/versions/2")
    page.get_by_role("link", name="清洗", exact=True).click()
    page.get_by_label("文本相似度阈值（0–1）").fill("1.5")
    page.get_by_role("button", name="开始清洗").click()
    expect(page.locator("#threshold-error")).to_have_text(
        "相似度阈值必须是大于 0、不超过 1 的数。"
    )
    expect(page.get_by_label("文本相似度阈值（0–1）")).to_have_value("1.5")
    page.screenshot(path=screenshots / "dataset-clean-refused.png", full_page=True)
    page.get_by_label("文本相似度阈值（0–1）").fill("0.9")
    page.get_by_role("button", name="开始清洗").click()
    page.wait_for_url("**/jobs/job_*")


def test_a_models_lineage_graph_comparison_and_moving_an_alias_with_the_keyboard(
    open_page, runtime, hub, screenshots
):
    page = open_page(768, 1024)  # a tablet
    sign_in_page(page, runtime)
    page.goto(f"/models/{hub.model.id}")
    page.get_by_role("link", name="谱系").click()
    graph = page.locator("svg.lineage")
    expect(graph).to_be_visible()
    expect(graph.locator("g.node")).to_have_count(6)
    expect(graph).to_contain_text("reviews v1")
    expect(graph).to_contain_text("sentiment-prod → production")
    page.screenshot(path=screenshots / "model-lineage.png", full_page=True)

    page.get_by_role("link", name="版本比较").click()
    table = page.locator("table.side-by-side")
    expect(table.locator("tr.metric").first).to_contain_text("0.895")
    expect(table).to_contain_text("0.125")
    expect(page.locator("svg.chart")).to_have_count(3)
    page.screenshot(path=screenshots / "model-compare.png", full_page=True)

    page.get_by_role("link", name="别名").click()
    page.get_by_label("别名", exact=True).focus()
    page.keyboard.type("staging")
    page.keyboard.press("Tab")
    page.keyboard.press("End")  # the select lists the newest first: End picks v1
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    row = page.locator("table.aliases tr", has_text="staging")
    expect(row).to_contain_text("v1")
    page.screenshot(path=screenshots / "model-aliases.png", full_page=True)


def test_repeated_failed_sign_ins_lock_the_e_mail_with_a_clear_message(
    page, runtime, world, screenshots
):
    give_password(runtime, "member@a.test")
    page.goto("/sign-in")
    for _ in range(identity.MAX_FAILURES_PER_EMAIL + 1):
        submit_sign_in(page, "member@a.test", "not the password")
    expect(page.get_by_role("alert")).to_have_text(
        "登录失败次数过多，请 15 分钟后再试。"
    )
    page.screenshot(path=screenshots / "sign-in-locked.png")
