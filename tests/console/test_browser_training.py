"""Making models in a real browser: a new user creates a model, trains its first version on a
dataset version and sees it on the model's page; uploads a version (a pickle refused next to the
file field) and starts compressing it. Each flow asserts what the user sees and saves screenshots."""

from __future__ import annotations

import pickle
import re

import numpy as np
import skops.io as sio
from consolekit import BROWSER, playwright_expect, sign_in_page
from sklearn.linear_model import LogisticRegression

from aicommons.core import jobs

pytestmark = BROWSER
expect = playwright_expect()


def test_a_new_user_creates_a_model_and_trains_its_first_version(
    page, runtime, world, kit, flowers, screenshots
):
    dataset, _version = flowers
    sign_in_page(page, runtime)
    page.goto("/models/new")
    page.get_by_role("button", name="创建模型").click()
    expect(page.locator("#name-error")).to_have_text("名称须为 1 到 100 个字符。")
    page.get_by_label("名称", exact=True).fill("flower-classifier")
    page.get_by_label("中文名称（可选）").fill("花卉分类")
    page.get_by_label("任务").select_option("tabular-classification")
    page.get_by_label("标签").fill("flowers, demo")
    page.screenshot(path=screenshots / "training-new-model.png", full_page=True)
    page.get_by_role("button", name="创建模型").click()
    page.wait_for_url(re.compile(r"/models/mdl_\w+$"))
    model_url = page.url
    expect(page.get_by_role("heading", level=1)).to_contain_text("flower-classifier")

    page.goto(model_url + "/train")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "训练 flower-classifier 的新版本"
    )
    page.get_by_label("数据集版本").select_option(f"{dataset.id}@1")
    page.get_by_role("radio", name=re.compile("tabular-logistic")).check()
    page.get_by_label("训练参数（可选）").fill("C=0.5")
    page.screenshot(path=screenshots / "training-train-form.png", full_page=True)
    page.get_by_role("button", name="开始训练").click()
    page.wait_for_url("**/jobs/job_*")
    job_id = page.url.rsplit("/", 1)[1]
    with runtime.session() as session:
        job = jobs.get_job(session, world.a_member.actor, job_id)
    assert kit.run(job).status == "succeeded"
    page.goto(model_url)
    expect(page.get_by_role("link", name="v1", exact=True)).to_be_visible()
    page.screenshot(path=screenshots / "training-first-version.png", full_page=True)


def test_uploading_refuses_a_pickle_then_a_skops_version_is_compressed(
    page, runtime, world, flowers, screenshots
):
    from aicommons import models

    with runtime.session() as session:
        model = models.create_model(
            session,
            world.a_member.actor,
            models.ModelCreate(name="uploaded", task="tabular-classification"),
        )
    x = np.array([[0, 0, 0], [1, 1, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
    fitted = LogisticRegression().fit(x, [0, 1, 0, 1])
    sign_in_page(page, runtime)
    page.goto(f"/models/{model.id}/upload")
    page.get_by_label("模型文件").set_input_files(
        files=[
            {
                "name": "model.pkl",
                "mimeType": "application/octet-stream",
                "buffer": pickle.dumps(fitted),
            }
        ]
    )
    page.get_by_label("类别名称（可选）").fill("setosa\nvirginica")
    page.get_by_role("button", name="上传版本").click()
    expect(page.locator("#file-error")).to_contain_text("pickle")
    expect(page.get_by_label("类别名称（可选）")).to_have_value("setosa\nvirginica")
    page.screenshot(
        path=screenshots / "training-upload-pickle-refused.png", full_page=True
    )
    page.get_by_label("模型文件").set_input_files(
        files=[
            {
                "name": "model.skops",
                "mimeType": "application/octet-stream",
                "buffer": sio.dumps(fitted),
            }
        ]
    )
    page.get_by_role("button", name="上传版本").click()
    page.wait_for_url(f"**/models/{model.id}?version=1")

    page.goto(f"/models/{model.id}/versions/1/compress")
    expect(page.get_by_role("heading", level=1)).to_have_text("压缩 uploaded v1")
    page.get_by_role("radio", name=re.compile("int8-dynamic")).check()
    page.screenshot(path=screenshots / "training-compress-form.png", full_page=True)
    page.get_by_role("button", name="开始压缩").click()
    page.wait_for_url("**/jobs/job_*")
