"""The datasets and models pages in a real browser: a version's statistics charts and its diff,
starting a cleaning job from its form, a model's lineage graph and version comparison, moving an
alias with the keyboard, and the sign-in lock after repeated failures. Each flow asserts what the
user sees and saves screenshots."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
from consolekit import CHROMIUM, give_password, sign_in_page
from datakit import REVIEWS_CSV, DataKit
from sklearn.linear_model import LogisticRegression

from aicommons import models, serving
from aicommons.core import identity
from aicommons.core.ids import new_id
from aicommons.models.artifacts import inspect_model_file
from aicommons.models.hub import register_version

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason="no /usr/bin/chromium: run scripts/ensure-chromium.sh",
    ),
]
sync_api = pytest.importorskip("playwright.sync_api")


def test_a_versions_statistics_its_diff_and_a_cleaning_job_from_the_form(
    page, runtime, world, screenshots
):
    kit = DataKit(runtime, world.a_member.actor)
    dataset = kit.dataset("reviews")
    kit.imported(dataset.id, "reviews.csv", REVIEWS_CSV)
    kit.imported(
        dataset.id,
        "more.csv",
        REVIEWS_CSV + "新增的一条评论，内容很长,positive\n".encode(),
    )
    sign_in_page(page, runtime)
    page.goto(f"/datasets/{dataset.id}/versions/2")
    sync_api.expect(
        page.get_by_role("heading", name="每个标签的记录数")
    ).to_be_visible()
    sync_api.expect(page.locator("svg.chart")).to_have_count(3)
    page.screenshot(path=screenshots / "dataset-version-statistics.png", full_page=True)

    page.get_by_label("将 v2 与之比较").select_option("1")
    page.get_by_role("button", name="显示差异").click()
    sync_api.expect(page.get_by_role("heading", name="v2 到 v1 的变化")).to_be_visible()
    sync_api.expect(page.locator('[data-count="removed"]')).to_have_text("1")
    page.screenshot(path=screenshots / "dataset-diff.png", full_page=True)

    page.goto(f"/datasets/{dataset.id}/versions/2")
    page.get_by_role("link", name="清洗", exact=True).click()
    page.get_by_label("文本相似度阈值（0–1）").fill("1.5")
    page.get_by_role("button", name="开始清洗").click()
    sync_api.expect(page.locator("#threshold-error")).to_have_text(
        "相似度阈值必须是大于 0、不超过 1 的数。"
    )
    sync_api.expect(page.get_by_label("文本相似度阈值（0–1）")).to_have_value("1.5")
    page.screenshot(path=screenshots / "dataset-clean-refused.png", full_page=True)
    page.get_by_label("文本相似度阈值（0–1）").fill("0.9")
    page.get_by_role("button", name="开始清洗").click()
    page.wait_for_url("**/jobs/job_*")


def _small_model(runtime, world, kit):
    dataset = kit.dataset("reviews")
    trained_on = kit.imported(dataset.id, "reviews.csv", REVIEWS_CSV)
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 4)).astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.skops"
        path.write_bytes(
            sio.dumps(
                LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))
            )
        )
        artifact = inspect_model_file(path)
    actor = world.a_member.actor
    comparison = {
        "parent": {
            "size_bytes": 900,
            "latency_ms": {
                "1": {"p50": 0.25, "p95": 0.4},
                "32": {"p50": 1.5, "p95": 2.0},
            },
        },
        "child": {
            "size_bytes": 400,
            "latency_ms": {
                "1": {"p50": 0.125, "p95": 0.2},
                "32": {"p50": 0.75, "p95": 1.0},
            },
        },
    }
    with runtime.session() as session:
        model = models.create_model(
            session,
            actor,
            models.ModelCreate(
                name="sentiment", task="tabular-classification", name_zh="评论情感"
            ),
        )
        v1 = register_version(
            session,
            runtime.blobs,
            actor,
            model.id,
            artifact,
            operation="train",
            job_id=new_id("job"),
            meta=models.VersionMeta(
                metrics={"accuracy": 0.9, "f1": 0.88},
                dataset_version_ids=[trained_on.id],
            ),
        )
        v2 = register_version(
            session,
            runtime.blobs,
            actor,
            model.id,
            dataclasses.replace(artifact, details={"comparison": comparison}),
            operation="compress.int8-dynamic",
            job_id=new_id("job"),
            parent_version_id=v1.id,
            meta=models.VersionMeta(metrics={"accuracy": 0.895, "f1": 0.87}),
        )
        models.set_alias(session, actor, model.id, "production", v2.id)
        serving.deploy(
            session,
            actor,
            serving.EndpointCreate(
                name="sentiment-prod", model_id=model.id, version="production"
            ),
        )
    return model


def test_a_models_lineage_graph_comparison_and_moving_an_alias_with_the_keyboard(
    browser, server, runtime, world, screenshots
):
    model = _small_model(runtime, world, DataKit(runtime, world.a_member.actor))
    context = browser.new_context(
        base_url=server, viewport={"width": 768, "height": 1024}
    )  # a tablet
    page = context.new_page()
    try:
        sign_in_page(page, runtime)
        page.goto(f"/models/{model.id}")
        page.get_by_role("link", name="谱系").click()
        graph = page.locator("svg.lineage")
        sync_api.expect(graph).to_be_visible()
        sync_api.expect(graph.locator("g.node")).to_have_count(6)
        sync_api.expect(graph).to_contain_text("reviews v1")
        sync_api.expect(graph).to_contain_text("sentiment-prod → production")
        page.screenshot(path=screenshots / "model-lineage.png", full_page=True)

        page.get_by_role("link", name="版本比较").click()
        table = page.locator("table.side-by-side")
        sync_api.expect(table.locator("tr.metric").first).to_contain_text("0.895")
        sync_api.expect(table).to_contain_text("0.125")
        sync_api.expect(page.locator("svg.chart")).to_have_count(3)
        page.screenshot(path=screenshots / "model-compare.png", full_page=True)

        page.get_by_role("link", name="别名").click()
        page.get_by_label("别名", exact=True).focus()
        page.keyboard.type("staging")
        page.keyboard.press("Tab")
        page.keyboard.press("End")  # the select lists the newest first: End picks v1
        page.keyboard.press("Tab")
        page.keyboard.press("Enter")
        row = page.locator("table.aliases tr", has_text="staging")
        sync_api.expect(row).to_contain_text("v1")
        page.screenshot(path=screenshots / "model-aliases.png", full_page=True)
    finally:
        context.close()


def test_repeated_failed_sign_ins_lock_the_e_mail_with_a_clear_message(
    page, runtime, world, screenshots
):
    give_password(runtime, "member@a.test")
    page.goto("/sign-in")
    for _ in range(identity.MAX_FAILURES_PER_EMAIL + 1):
        page.get_by_label("电子邮箱").fill("member@a.test")
        page.get_by_label("密码").fill("not the password")
        page.get_by_role("button", name="登录").click()
    sync_api.expect(page.get_by_role("alert")).to_have_text(
        "登录失败次数过多，请 15 分钟后再试。"
    )
    page.screenshot(path=screenshots / "sign-in-locked.png")
