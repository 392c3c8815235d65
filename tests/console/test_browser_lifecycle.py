"""The whole lifecycle in a real browser, as a new user of a new, empty organisation walks it: a
dataset made from a CSV file, its version's statistics, a model trained on it and its card and
lineage, a test suite and its report, a filing a reviewer approves, an endpoint of the filed version
tried with a record, and, signed out, the model in the public registry with its certificate checked.

Every step is done through the console's pages. The services are called only to make the accounts
an operator would make (the organisation, its member, a platform reviewer) and to check at the end
what the pages did. A worker thread runs the queued jobs meanwhile, as `aicommons serve`'s workers
do, and the pages follow them. The first half is in Chinese (the default), the rest in English
after the language switch; the reviewer and the visitor, in browsers of their own, read Chinese.
"""

from __future__ import annotations

import csv
import json
import re
import threading

import pytest
from consolekit import BROWSER, playwright_expect, sign_in_page
from filingkit import FAST_TESTS, new_person

from aicommons import data, filing, models, serving
from aicommons.core.identity import actor_for_user_id, create_org, create_user, get_user_by_email, local_operator
from aicommons.core.jobs.worker import WorkerLoop
from aicommons.core.schemas import OrgCreate, OrgRole, UserCreate

pytestmark = BROWSER
expect = playwright_expect()

NEWCOMER = "newcomer@c.test"
REVIEWER = "reviewer@operator.test"
ORG_NAME = "Org C Botanics"
JOB_MS = 120_000  # a job on two loaded cores, run by the worker thread while the page polls
PAGE_MS = 15_000  # a page or an htmx swap


@pytest.fixture
def newcomer(runtime, world) -> str:
    """A new enterprise with one member, as the operator adds them: nothing in it yet."""
    with runtime.session() as session:
        org = create_org(session, world.operator.actor, OrgCreate(name=ORG_NAME, kind="enterprise"))
        create_user(session, world.operator.actor, UserCreate(email=NEWCOMER, org_id=org.id, org_role=OrgRole.member))
    new_person(runtime, world, REVIEWER, world.operator.actor.org_id, reviewer=True)
    return org.id


@pytest.fixture
def worker(runtime):
    """The platform's job worker, in a thread of this process, until the test ends."""
    stop = threading.Event()
    thread = threading.Thread(target=WorkerLoop(runtime, "lifecycle-worker").run, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(60)


@pytest.fixture
def iris_csv(tmp_path):
    """scikit-learn's iris as the CSV a user would have on disk: four measurements and the species."""
    from sklearn.datasets import load_iris

    bunch = load_iris()
    path = tmp_path / "iris.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["sepal_length", "sepal_width", "petal_length", "petal_width", "species"])
        for row, target in zip(bunch.data, bunch.target, strict=True):
            writer.writerow([*(f"{v:.1f}" for v in row), bunch.target_names[target]])
    return path


def _nav(page, name):
    page.get_by_role("navigation", name=re.compile("^(主导航|Main)$")).get_by_role("link", name=name, exact=True).click()


def _follow_job_to_success(page, succeeded):
    """On a job's page (which polls itself): wait until it says the job succeeded."""
    page.wait_for_url("**/jobs/job_*")
    expect(page.get_by_role("status")).to_have_text(succeeded, timeout=JOB_MS)


def _fill_the_filing_form(page, model_name):
    page.get_by_label("Model", exact=True).select_option(label=model_name)
    page.get_by_label("Provider").fill(ORG_NAME)
    page.get_by_label("Service form").select_option("api")
    page.get_by_label("Application field").fill("Iris species identification")
    page.get_by_label("Algorithm type").select_option("classification")
    page.get_by_label("Intended use", exact=True).fill("Suggests the species of an iris from four measurements; a botanist confirms it.")
    page.get_by_label("Self-assessment report").fill("Tested on the held-out split of the iris records.")
    page.get_by_label("What the public registry shows").fill("Names an iris species from its sepal and petal measurements.")
    page.get_by_label("Contact").fill(NEWCOMER)
    for item in filing.Checklist.default().items:
        page.locator(f"#answer-{item.id}").fill(f"How we meet “{item.principle}”.")
        if item.evidence_required:
            page.locator(f"#evidence-{item.id}").set_input_files(
                {"name": f"{item.id}.txt", "mimeType": "text/plain", "buffer": f"our procedure for {item.id}".encode()}
            )
    # Small samples and budgets: the filing suite in seconds.
    page.get_by_text("Evaluation parameters (optional)").click()
    page.get_by_label("Test parameters over the filing suite's, as JSON").fill(json.dumps(FAST_TESTS))


def test_a_new_user_walks_the_whole_lifecycle_in_the_browser_in_both_languages(
    open_page, page, runtime, newcomer, worker, iris_csv, screenshots
):
    def shot(on_page, name):
        on_page.screenshot(path=screenshots / f"lifecycle-{name}.png", full_page=True)

    # --- in Chinese: a blank organisation -------------------------------------------------------
    sign_in_page(page, runtime, NEWCOMER)
    expect(page.get_by_role("heading", name=ORG_NAME)).to_be_visible()
    expect(page.get_by_role("heading", name="本机构拥有")).to_be_visible()
    expect(page.locator('[data-figure="datasets"]')).to_have_text("0")
    expect(page.locator('[data-figure="models"]')).to_have_text("0")
    shot(page, "01-home-empty")

    # A dataset, and its first version imported from the CSV file.
    _nav(page, "数据集")
    expect(page.get_by_text("没有匹配的数据集。")).to_be_visible()
    page.get_by_role("link", name="新建数据集").click()
    page.get_by_label("名称", exact=True).fill("iris")
    page.get_by_label("模态").select_option("tabular")
    page.get_by_label("许可证").fill("BSD-3-Clause")
    page.get_by_role("button", name="创建数据集").click()
    page.wait_for_url(re.compile(r"/datasets/ds_\w+/import$"))
    expect(page.get_by_role("heading", name="向 iris 导入数据")).to_be_visible()
    page.get_by_label("文件", exact=True).set_input_files(iris_csv)
    page.get_by_label("标签字段").fill("species")
    shot(page, "02-import-form")
    page.get_by_role("button", name="开始导入").click()
    _follow_job_to_success(page, "已成功")
    shot(page, "03-import-job")

    # The version's records and statistics.
    _nav(page, "数据集")
    page.get_by_role("link", name="iris", exact=True).click()
    page.get_by_role("link", name="v1", exact=True).click()
    expect(page.get_by_role("heading", name="iris v1")).to_be_visible()
    expect(page.get_by_text("共 150 条记录")).to_be_visible()
    expect(page.get_by_role("heading", name="每个标签的记录数")).to_be_visible()
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.locator("table.columns")).to_contain_text("petal_width")
    expect(page.locator(".record .label").first).to_have_text(re.compile("^(setosa|versicolor|virginica)$"))
    shot(page, "04-dataset-version")

    # A model, and its first version trained on that dataset version.
    _nav(page, "模型")
    page.get_by_role("link", name="新建模型").click()
    page.get_by_label("名称", exact=True).fill("iris-species")
    page.get_by_label("中文名称（可选）").fill("鸢尾花种类")
    page.get_by_label("任务").select_option("tabular-classification")
    page.get_by_role("button", name="创建模型").click()
    page.wait_for_url(re.compile(r"/models/mdl_\w+$"))
    expect(page.get_by_text("还没有版本。")).to_be_visible()
    page.get_by_role("navigation", name="关于此模型").get_by_role("link", name="训练新版本").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("训练 iris-species 的新版本")
    page.get_by_label("数据集版本").select_option(label="iris v1")
    page.get_by_role("radio", name=re.compile("tabular-logistic")).check()
    shot(page, "05-train-form")
    page.get_by_role("button", name="开始训练").click()
    _follow_job_to_success(page, "已成功")
    shot(page, "06-training-job")

    # Its card and its lineage, from the data to the version.
    _nav(page, "模型")
    page.get_by_role("link", name="鸢尾花种类").click()
    expect(page.get_by_role("heading", name="模型卡 (v1)")).to_be_visible()
    expect(page.locator("dl.facts").last).to_contain_text("accuracy")
    shot(page, "07-model-card")
    page.get_by_role("navigation", name="关于此模型").get_by_role("link", name="谱系").click()
    graph = page.locator("svg.lineage")
    expect(graph).to_be_visible()
    expect(graph).to_contain_text("iris v1")
    expect(page.locator("ul.steps")).to_contain_text("iris v1")
    shot(page, "08-lineage")

    # --- in English from here ---------------------------------------------------------------------
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", name="Lineage")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "en"

    # A quick suite on the version, followed to its end, and its report.
    _nav(page, "Evaluations")
    page.get_by_role("link", name="Run a suite").click()
    page.get_by_label("Model", exact=True).select_option(label="iris-species")
    page.get_by_label("Suite").select_option("quick")
    shot(page, "09-evaluation-form")
    page.get_by_role("button", name="Start the run").click()
    page.wait_for_url("**/evaluations/ev_*")
    expect(page.get_by_role("heading", name="Evaluation of iris-species v1")).to_be_visible()
    report = page.get_by_role("link", name="Report (HTML)")
    expect(report).to_be_visible(timeout=JOB_MS)
    expect(page.locator("#run-body")).to_contain_text("2 passed")
    shot(page, "10-evaluation")
    # The report is a document of its own, with no way back into the console: read it in a new tab.
    with page.context.expect_page() as opened:
        report.click(modifiers=["ControlOrMeta"])
    report_tab = opened.value
    report_tab.wait_for_load_state()
    expect(report_tab.get_by_role("heading", name=re.compile("^Evaluation report"))).to_be_visible()
    expect(report_tab.locator("body")).to_contain_text("iris-species")
    shot(report_tab, "11-evaluation-report")
    report_tab.close()

    # The filing: the application, the checklist with its evidence, submitted for testing.
    _nav(page, "Filings")
    page.get_by_role("link", name="File a model").click()
    expect(page.get_by_role("heading", name="File a model")).to_be_visible()
    _fill_the_filing_form(page, "iris-species")
    shot(page, "12-filing-form")
    page.get_by_role("button", name="Save and submit for testing").click()
    page.wait_for_url(re.compile(r"/filings/fil_\w+$"))
    filing_url = page.url
    expect(page.get_by_role("heading", name="Filing of iris-species v1")).to_be_visible()
    # The page follows the filing suite (htmx) until it is graded and waits for a reviewer.
    expect(page.get_by_role("heading", name=re.compile("^Risk level: "))).to_be_visible(timeout=JOB_MS)
    expect(page.locator(".filing-status .status-in_review")).to_be_visible()
    shot(page, "13-filing-graded")

    # --- a reviewer of the filing office, in a browser of their own (Chinese) --------------------
    reviewer = open_page(1024, 860)
    sign_in_page(reviewer, runtime, REVIEWER)
    _nav(reviewer, "备案")
    reviewer.get_by_role("link", name="备案审核队列").click()
    expect(reviewer.get_by_role("cell", name="Iris species identification")).to_be_visible()
    reviewer.get_by_role("link", name="审核 iris-species v1").click()
    for index in range(1, len(filing.Checklist.default().items) + 1):
        reviewer.get_by_role("radiogroup", name=f"第 {index} 项的审核结论").get_by_label("符合", exact=True).check()
    reviewer.get_by_label("审核意见（驳回时必填）").fill("材料齐全，逐项符合。")
    shot(reviewer, "14-review")
    reviewer.get_by_role("button", name="批准").click()
    reviewer.wait_for_url(filing_url)
    expect(reviewer.locator(".filing-status")).to_contain_text("已备案")
    reviewer.context.close()

    # --- the applicant again, in English: the number, the certificate, an endpoint ---------------
    page.goto(filing_url)
    number_heading = page.get_by_role("heading", name=re.compile("^Filing number "))
    expect(number_heading).to_be_visible()
    number = number_heading.inner_text().removeprefix("Filing number").strip()
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the certificate (JSON)").click()
    certificate = download.value.path()
    shot(page, "15-filed")

    _nav(page, "Endpoints")
    expect(page.get_by_text("No endpoints yet: deploy a model below.")).to_be_visible()
    page.get_by_label("Endpoint name").fill("iris-species")
    page.get_by_label("Model", exact=True).select_option(label="iris-species · tabular-classification")
    page.get_by_label("Version", exact=True).fill("1")  # the filed version, not whatever comes next
    shot(page, "16-deploy-form")
    page.get_by_role("button", name="Deploy", exact=True).click()
    page.wait_for_url("**/endpoints/iris-species")
    expect(page.locator("#served-version")).to_have_text("v1")

    # Try it with a record like the data's: a virginica's measurements.
    features = page.get_by_label("Features (JSON)")
    expect(features).to_contain_text("petal_width")  # the form starts from a record of the model's features
    features.fill('{"sepal_length": 6.7, "sepal_width": 3.0, "petal_length": 5.2, "petal_width": 2.3}')
    page.get_by_role("button", name="Predict").click()
    expect(page.get_by_role("heading", name="Predictions")).to_be_visible(timeout=PAGE_MS)
    expect(page.locator(".predicted-label")).to_have_text("virginica")
    shot(page, "17-try-it")

    # The model's lineage now runs from the data to the endpoint.
    page.locator("dl.facts").get_by_role("link", name="iris-species").click()
    page.get_by_role("navigation", name="About this model").get_by_role("link", name="Lineage").click()
    expect(page.locator("svg.lineage g.node")).to_have_count(4)
    expect(page.locator("ul.steps")).to_contain_text("Model version v1 → Endpoint iris-species")
    shot(page, "18-lineage-served")

    # --- anyone, signed out (Chinese): the registry and the certificate --------------------------
    visitor = open_page(1024, 860)
    visitor.goto("/registry")
    visitor.get_by_label("搜索模型、机构、服务提供者").fill("iris")
    visitor.get_by_role("button", name="搜索").click()
    expect(visitor.get_by_role("row", name=re.compile(re.escape(number)))).to_contain_text(ORG_NAME)
    visitor.get_by_role("link", name=number).click()
    expect(visitor.get_by_role("heading", name=number)).to_be_visible()
    expect(visitor.locator(".facts")).to_contain_text("已备案")
    expect(visitor.locator(".facts")).to_contain_text("iris-species v1")
    shot(visitor, "19-registry-entry")
    visitor.get_by_role("link", name="证书核验").last.click()
    visitor.get_by_label("或上传证书文件").set_input_files(certificate)
    visitor.get_by_role("button", name="核验").click()
    expect(visitor.locator("#verdict")).to_contain_text("证书有效")
    expect(visitor.locator("#verdict")).to_contain_text(number)
    shot(visitor, "20-certificate-verified")

    # What the pages did, as the services record it.
    with runtime.session() as session:
        applicant = _actor(session, NEWCOMER)
        (model,) = models.list_models(session, applicant, org_id=newcomer).items
        (version,) = models.list_versions(session, applicant, model.id)
        (dataset,) = data.list_datasets(session, applicant).items
        (dataset_version,) = data.list_versions(session, applicant, dataset.id)
        filed = filing.get_filing(session, applicant, filing_url.rsplit("/", 1)[1])
        endpoint = serving.get_endpoint(session, applicant, "iris-species")
    assert dataset_version.record_count == 150
    assert version.operation == "train" and version.dataset_version_ids == [dataset_version.id]
    assert (filed.status, filed.number, filed.version_id) == ("approved", number, version.id)
    assert endpoint.model_id == model.id and endpoint.version_ref == "1"


def _actor(session, email):
    return actor_for_user_id(session, get_user_by_email(session, local_operator(session), email).id)
