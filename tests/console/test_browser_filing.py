"""Filing in a real browser, as three people: an applicant files a model through the form, a
reviewer from another organisation approves it from the queue, and anyone, signed out, finds it in
the public registry and verifies its certificate. The filing's evaluation job runs in this process
between the steps, as a worker would."""

from __future__ import annotations

import json
import re

from consolekit import BROWSER, playwright_expect, sign_in_page
from filingkit import FAST_TESTS, FilingKit

from aicommons import filing

pytestmark = BROWSER
expect = playwright_expect()


def _fill_the_filing_form(page, fk):
    page.get_by_label("模型", exact=True).select_option(fk.model.id)
    page.get_by_label("服务提供者").fill("Org A Health")
    page.get_by_label("服务形式").select_option("api")
    page.get_by_label("应用领域").fill("乳腺癌筛查辅助")
    page.get_by_label("算法类型").select_option("classification")
    page.get_by_label("预期用途", exact=True).fill(
        "为放射科医生提供辅助决策，不单独作出诊断。"
    )
    page.get_by_label("自评估报告").fill("在留出集上测试；每个结果都由临床医生确认。")
    page.get_by_label("拟公示内容").fill("标记需要医生复核的肿瘤测量结果。")
    page.get_by_label("联系方式").fill("filing@a.test")
    for item in filing.Checklist.default().items:
        page.locator(f"#answer-{item.id}").fill(f"我们关于“{item.principle}”的做法。")
        if item.evidence_required:
            page.locator(f"#evidence-{item.id}").set_input_files(
                {
                    "name": f"{item.id}.txt",
                    "mimeType": "text/plain",
                    "buffer": f"procedure for {item.id}".encode(),
                }
            )
    # Small samples keep the filing suite's run quick.
    page.get_by_text("测试参数（可选）").click()
    params = page.get_by_label("覆盖备案测试套件默认值的测试参数（JSON）")
    params.fill(json.dumps(FAST_TESTS))


def _run_queued_jobs(fk):
    while fk.data.worker.run_one():
        pass


def test_file_a_model_approve_it_and_verify_its_certificate_in_the_public_registry(
    open_page, page, runtime, world, screenshots
):
    fk = FilingKit(runtime, world)

    # The applicant fills in the filing form and submits it.
    sign_in_page(page, runtime, "member@a.test")
    page.get_by_role("navigation", name="主导航").get_by_role(
        "link", name="备案", exact=True
    ).click()
    page.get_by_role("link", name="模型备案申请").click()
    expect(page.get_by_role("heading", name="模型备案申请")).to_be_visible()
    _fill_the_filing_form(page, fk)
    page.screenshot(path=screenshots / "filing-form.png", full_page=True)
    page.get_by_role("button", name="保存并提交测试").click()
    page.wait_for_url("**/filings/fil_*")
    expect(page.locator(".filing-status")).to_contain_text("测试中")
    filing_url = page.url

    # The filing suite runs; the filing is graded and waits for a reviewer, and the page follows (htmx).
    _run_queued_jobs(fk)
    expect(page.locator(".filing-status")).to_contain_text("待审核", timeout=10_000)
    expect(page.get_by_role("heading", name=re.compile("^风险等级："))).to_be_visible()

    # A reviewer from the operator's organisation judges every item and approves.
    reviewer = open_page(1024, 860)
    sign_in_page(reviewer, runtime, "reviewer@operator.test")
    reviewer.goto("/filings")
    reviewer.get_by_role("link", name="备案审核队列").click()
    expect(reviewer.get_by_role("heading", name="备案审核队列")).to_be_visible()
    expect(reviewer.get_by_role("cell", name="乳腺癌筛查辅助")).to_be_visible()
    reviewer.screenshot(path=screenshots / "review-queue.png", full_page=True)
    reviewer.get_by_role("link", name="审核 cancer v1").click()
    for index in range(1, len(filing.Checklist.default().items) + 1):
        reviewer.get_by_role(
            "radiogroup", name=f"第 {index} 项的审核结论"
        ).get_by_label("符合", exact=True).check()
    reviewer.get_by_label("审核意见（驳回时必填）").fill("材料齐全，逐项符合。")
    reviewer.get_by_role("button", name="批准").click()
    reviewer.wait_for_url(filing_url)
    expect(reviewer.locator(".filing-status")).to_contain_text("已备案")
    number = (
        reviewer.get_by_role("heading", name="备案号")
        .inner_text()
        .removeprefix("备案号")
        .strip()
    )
    reviewer.context.close()

    # The applicant downloads the certificate.
    page.reload()
    expect(page.get_by_role("heading", name=f"备案号 {number}")).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="下载备案证书（JSON）").click()
    certificate = download.value.path()

    # Anyone, signed out, finds it in the public registry and verifies the certificate.
    visitor = open_page(1024, 860)
    visitor.goto("/registry")
    expect(visitor.get_by_role("link", name=number)).to_be_visible()
    visitor.screenshot(path=screenshots / "registry-after-approval.png", full_page=True)
    visitor.get_by_role("link", name=number).click()
    expect(visitor.locator(".facts")).to_contain_text("已备案")
    visitor.get_by_role("link", name="证书核验").last.click()
    visitor.get_by_label("或上传证书文件").set_input_files(certificate)
    visitor.get_by_role("button", name="核验").click()
    expect(visitor.locator("#verdict")).to_contain_text("证书有效")
    expect(visitor.locator("#verdict")).to_contain_text(number)
    visitor.screenshot(path=screenshots / "certificate-verified.png", full_page=True)
    visitor.context.close()
