"""The console in a real browser: Playwright driving Debian's headless Chromium (/usr/bin/chromium,
installed by scripts/ensure-chromium.sh; no browser is ever downloaded) against a live server.

Each flow asserts what the user sees and saves screenshots under the test run's temporary folder
(printed with -s), the artefacts to attach to CI runs and docs/console.md.
"""

from __future__ import annotations

import io

import numpy as np
import skops.io as sio
from consolekit import (
    BROWSER,
    PASSWORD,
    give_password,
    playwright_expect,
    sign_in_page,
    submit_sign_in,
)
from filingkit import FilingKit
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression

from aicommons import models
from aicommons.core.identity import actor_for_user_id, bootstrap_operator
from aicommons.data.builtin_datasets import BUILTINS
from aicommons.data.datasets import create_dataset
from aicommons.data.manifest import build_table
from aicommons.data.schemas import DatasetCreate
from aicommons.data.versions import write_version

pytestmark = BROWSER
expect = playwright_expect()


def _publish_builtin(runtime, name):
    with runtime.session() as session:
        admin, _ = bootstrap_operator(session, "root@operator.test")
        operator = actor_for_user_id(session, admin.id)
        modality, licence, description, tags, load = BUILTINS[name]
        dataset = create_dataset(session, operator, DatasetCreate(
            name=name, modality=modality, visibility="public", licence=licence, description=description, tags=tags))
        write_version(session, runtime.blobs, operator, dataset.id, build_table(load(runtime.blobs)), operation="builtin", parameters={"source": name})


def test_sign_in_with_a_wrong_then_the_right_password(page, runtime, screenshots):
    give_password(runtime, "member@a.test")
    page.goto("/profile")
    submit_sign_in(page, "member@a.test", "not my password")
    expect(page.locator("#password-error")).to_have_text("电子邮箱或密码错误。")
    page.screenshot(path=screenshots / "sign-in-refused.png")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/profile")
    expect(page.get_by_role("heading", name="个人资料")).to_be_visible()
    page.goto("/")
    expect(page.get_by_role("heading", name="Org A")).to_be_visible()
    page.screenshot(path=screenshots / "home.png", full_page=True)


def test_browse_a_built_in_dataset_searching_as_you_type(page, runtime, world, screenshots):
    _publish_builtin(runtime, "sklearn-digits")
    with runtime.session() as session:
        create_dataset(session, world.a_member.actor, DatasetCreate(name="our-reviews", modality="text"))
    sign_in_page(page, runtime)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="数据集").click()
    expect(page.get_by_role("link", name="our-reviews")).to_be_visible()
    page.get_by_label("按名称搜索").press_sequentially("digits", delay=30)  # htmx swaps the rows as the user types
    expect(page.get_by_role("link", name="our-reviews")).to_have_count(0)
    page.screenshot(path=screenshots / "datasets-search.png")
    page.get_by_role("link", name="sklearn-digits").click()
    page.get_by_role("link", name="v1").click()
    expect(page.get_by_text("共 1,797 条记录")).to_be_visible()
    first = page.locator(".record img").first
    expect(first).to_be_visible()
    page.wait_for_function("[...document.querySelectorAll('.record img')].slice(0, 8).every(i => i.complete && i.naturalWidth === 8)")
    page.screenshot(path=screenshots / "dataset-records.png", full_page=True)


def test_open_a_model_card(page, runtime, world, screenshots):
    X, y = load_breast_cancer(return_X_y=True)
    weights = sio.dumps(LogisticRegression(max_iter=5000).fit(X.astype(np.float32), y))
    with runtime.session() as session:
        model = models.create_model(session, world.a_member.actor, models.ModelCreate(
            name="cancer-screening", task="tabular-classification", licence="Apache-2.0", name_zh="乳腺癌筛查"))
        models.upload_version(session, runtime.blobs, world.a_member.actor, model.id, io.BytesIO(weights), "m.skops",
                              models.VersionMeta(metrics={"accuracy": 0.953}))
    sign_in_page(page, runtime)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="模型").click()
    page.get_by_role("link", name="乳腺癌筛查").click()
    expect(page.get_by_role("heading", name="模型卡 (v1)")).to_be_visible()
    expect(page.locator("article.model-card table")).to_contain_text("accuracy")
    page.screenshot(path=screenshots / "model-card.png", full_page=True)


def test_find_a_filed_model_in_the_public_registry_and_check_its_certificate(page, runtime, world, screenshots):
    filed = FilingKit(runtime, world).approved()
    certificate = runtime.blobs.read_bytes(filed.certificate_sha256).decode()
    page.goto("/registry")  # no sign-in
    page.get_by_label("搜索模型、机构、服务提供者").fill("cancer")
    page.get_by_role("button", name="搜索").click()
    page.get_by_role("link", name=filed.number).click()
    expect(page.get_by_role("heading", name=filed.number)).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("已备案")
    page.screenshot(path=screenshots / "registry-entry.png", full_page=True)
    page.get_by_role("link", name="证书核验").first.click()
    page.get_by_label("证书（JSON）").fill(certificate)
    page.get_by_role("button", name="核验").click()
    expect(page.locator("#verdict")).to_contain_text("证书有效")
    page.screenshot(path=screenshots / "certificate-check.png", full_page=True)


def test_switch_language_to_english_and_back(page, runtime, screenshots):
    sign_in_page(page, runtime)
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="What your organisation has")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "en"
    page.goto("/datasets")
    expect(page.get_by_role("heading", name="Datasets")).to_be_visible()  # the choice sticks (a cookie)
    page.screenshot(path=screenshots / "datasets-english.png")
    page.get_by_role("button", name="中文").click()
    expect(page.get_by_role("heading", name="数据集")).to_be_visible()
