"""Creating an annotation project in the console: the list's "New project" button, the form (the
API's own `annotation.create_project`), then the new project's page. Only the organisation's own
dataset versions are offered (the service labels nothing else); another organisation's version,
posted by hand, is refused. Bad input is refused next to its field with what was typed kept, and
nothing is stored. The last test fills the form in a real browser."""

from __future__ import annotations

import html
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from annotationkit import LABELS, N_TEXTS, AnnotationKit, texts_csv
from consolekit import browser_test, csrf_of, playwright_expect, sign_in_page
from datakit import DataKit
from support import assert_db_unchanged, db_state

from aicommons.data import annotation
from aicommons.data.annotation.tables import AnnotationItem, AnnotationProject


@pytest.fixture
def ak(runtime, world):
    return AnnotationKit(runtime, world)


@pytest.fixture
def texts(ak):
    """Org A's private text dataset of N_TEXTS unlabelled texts, one version."""
    return ak.text_version()


def good(version) -> dict[str, str]:
    return {
        "name": "review-sentiment",
        "dataset_version": f"{version.dataset_id}@{version.number}",
        "kind": "single",
        "labels": "\n".join(LABELS) + "\n",
        "guidelines": "Pick the **overall** tone.",
        "overlap": "3",
        "max_overlap": "5",
        "adaptive": "on",
        "confidence_threshold": "0.9",
        "visibility": "public",
        "method": "ds",
        "min_seconds": "2",
        "reward_points": "1",
        "deadline": "",
        "prelabeller": "",
        "gold": "",
        "gold_rate": "0.1",
        "qualification_items": "",
        "qualification_pass_rate": "0.8",
    }


def projects_of(runtime) -> list[AnnotationProject]:
    with runtime.session() as session:
        rows = session.scalars(sa.select(AnnotationProject)).all()
        session.expunge_all()
        return list(rows)


def other_orgs_datasets(runtime, world):
    """Org B's private and public text datasets, one version each."""
    kit = DataKit(runtime, world.b_member.actor)
    hidden = kit.dataset("b-secret-reviews")
    shown = kit.dataset("b-open-reviews", visibility="public")
    return (kit.imported(hidden.id, "r.csv", texts_csv(4), label_field=None),
            kit.imported(shown.id, "r.csv", texts_csv(4), label_field=None))


def test_the_annotation_list_offers_a_new_project(console):
    listing = console("member@a.test").get("/annotation").text
    assert '<a class="button" href="/annotation/new">新建项目</a>' in listing
    assert '<a href="/annotation/new">用本机构的数据新建标注项目</a>' in listing  # no project yet: the notice says so too


def test_the_form_offers_the_orgs_own_versions_in_chinese_and_in_english(console, runtime, world, ak, texts):
    second = ak.data.imported(texts.dataset_id, "more.csv", texts_csv(N_TEXTS + 2), label_field=None)
    hidden, shown = other_orgs_datasets(runtime, world)
    client = console("member@a.test")
    page = client.get("/annotation/new")
    assert page.status_code == 200 and "<h1>新建标注项目</h1>" in page.text
    shown_form = page.text
    assert f'<option value="{texts.dataset_id}@2">reviews v2</option>' in shown_form and f'<option value="{texts.dataset_id}@1">' in shown_form
    assert shown_form.index(f"{texts.dataset_id}@2") < shown_form.index(f"{texts.dataset_id}@1")  # newest first
    assert '<optgroup label="reviews (文本)">' in shown_form and second.number == 2
    for other in (hidden, shown):  # another organisation's versions, public or not, cannot be labelled here
        assert other.dataset_id not in shown_form
    assert "b-open-reviews" not in shown_form and "b-secret-reviews" not in shown_form
    for kind, name in (("single", "单标签"), ("multi", "多标签"), ("spans", "文本片段"), ("boxes", "图像框")):
        assert f'<option value="{kind}"' in shown_form and name in shown_form
    assert '<option value="ds" selected>' in shown_form and '<option value="public" selected>公开</option>' in shown_form
    assert 'name="overlap" type="number" min="1" max="20" step="1" value="3"' in shown_form
    assert 'id="adaptive" name="adaptive" value="on" checked' in shown_form
    assert "每行一个：类别、实体类型或物体类别" in shown_form  # each field explains itself

    client.cookies.set("aic_lang", "en")
    english = client.get("/annotation/new").text
    assert "<h1>New annotation project</h1>" in english and "Single label" in english and "Text spans" in english
    assert "One per line: the classes, the entity types or the object classes." in english
    assert '<optgroup label="reviews (text)">' in english


def test_no_dataset_of_ones_own_says_where_to_make_one(console):
    page = console("member@a.test").get("/annotation/new").text
    assert "本机构还没有可标注的数据集版本" in page and 'href="/datasets/new"' in page


def test_a_member_creates_a_classification_project_and_lands_on_its_page(console, runtime, world, texts):
    client = console("member@a.test")
    token = csrf_of(client.get("/annotation/new").text)
    before = projects_of(runtime)
    sent = {**good(texts), "deadline": "2099-12-31T18:00", "gold": '{"r00000001": "negative"}', "gold_rate": "0.2",
            "qualification_items": "r00000001", "method": "mv", "adaptive": ""}
    created = client.post("/annotation/new", data={"csrf_token": token, **sent}, follow_redirects=False)
    assert created.status_code == 303, created.text[:2000]
    after = projects_of(runtime)
    assert len(after) == len(before) + 1 == 1
    project = after[0]
    assert created.headers["location"] == f"/annotation/projects/{project.id}"
    with runtime.session() as session:
        stored = annotation.get_project(session, world.a_member.actor, project.id)
        items = session.scalar(sa.select(sa.func.count()).select_from(AnnotationItem).where(AnnotationItem.project_id == project.id))
    assert (stored.name, stored.org_id, stored.dataset_version_id, stored.label_schema.kind, stored.label_schema.labels) == (
        "review-sentiment", world.org_a, texts.id, "single", LABELS)
    assert (stored.overlap, stored.max_overlap, stored.adaptive, stored.method, stored.visibility) == (3, 5, False, "mv", "public")
    assert (stored.gold_count, stored.gold_rate, stored.qualification_count) == (1, 0.2, 1)
    assert stored.deadline == datetime(2099, 12, 31, 10, 0, tzinfo=UTC)  # typed in China Standard Time
    assert stored.guidelines == "Pick the **overall** tone." and items == N_TEXTS
    page = client.get(created.headers["location"]).text
    assert "<h1>review-sentiment</h1>" in page and "<strong>overall</strong>" in page


def test_a_named_entity_project_marks_spans_of_text(console, runtime, world, texts):
    client = console("member@a.test")
    token = csrf_of(client.get("/annotation/new").text)
    sent = {**good(texts), "name": "review-entities", "kind": "spans", "labels": "PRODUCT\nDAY", "visibility": "private", "overlap": "2",
            "max_overlap": "2"}
    created = client.post("/annotation/new", data={"csrf_token": token, **sent}, follow_redirects=False)
    assert created.status_code == 303
    (project,) = projects_of(runtime)
    assert (project.kind, project.labels, project.visibility, project.overlap) == ("spans", ["PRODUCT", "DAY"], "private", 2)


# (what is changed in the good form, the field refused, its message)
REFUSALS = [
    ({"name": "  "}, "name", "名称须为 1 到 100 个字符"),
    ({"name": "n" * 101}, "name", "名称须为 1 到 100 个字符"),
    ({"name": "Sentiment"}, "name", "本机构已有同名标注项目"),  # taken, in any case
    ({"labels": " \n "}, "labels", "请给出 1 到 500 个互不相同的标签"),  # a classification project without classes
    ({"labels": "yes\nno\nyes"}, "labels", "请给出 1 到 500 个互不相同的标签"),
    ({"labels": "x" * 101}, "labels", "每个最多 100 个字符"),
    ({"dataset_version": "ds_nope@1"}, "dataset_version", "请从列出的本机构数据集版本中选择"),
    ({"dataset_version": "REVIEWS@9"}, "dataset_version", "请从列出的本机构数据集版本中选择"),
    ({"dataset_version": ""}, "dataset_version", "请从列出的本机构数据集版本中选择"),
    ({"kind": "video"}, "kind", "请从列出的答案类型中选择"),
    ({"kind": "boxes"}, "kind", "无法创建该项目：A 'boxes' project labels images"),  # text has no images
    ({"overlap": "0"}, "overlap", "每条目标注次数须为 1 到 20 的整数"),
    ({"overlap": "three"}, "overlap", "每条目标注次数须为 1 到 20 的整数"),
    ({"overlap": "4", "max_overlap": "3"}, "max_overlap", "且不少于每条目标注次数"),
    ({"confidence_threshold": "0.5"}, "confidence_threshold", "停止所需置信度须大于 0.5"),
    ({"visibility": "shared"}, "visibility", "请选择私有或公开"),
    ({"method": "vote"}, "method", "请从列出的汇总方法中选择"),
    ({"min_seconds": "-1"}, "min_seconds", "可信的最短答题时间须为 0 到 3600 秒"),
    ({"reward_points": "lots"}, "reward_points", "每个答案的积分须为"),
    ({"deadline": "2001-01-01T10:00"}, "deadline", "请填写一个将来的日期和时间"),  # past: the service refuses it
    ({"deadline": "next week"}, "deadline", "请填写一个将来的日期和时间"),
    ({"prelabeller": "oracle"}, "prelabeller", "请从列表中选择预标注器"),
    ({"gold": '["r00000001"]'}, "gold", "请以 JSON 对象写出记录 ID 与答案"),
    ({"gold": '{"r99": "positive"}'}, "gold", "无法创建该项目：Gold record 'r99' is not a record"),
    ({"gold": '{"r00000001": "maybe"}'}, "gold", "uses the unknown label 'maybe'"),
    ({"gold_rate": "0.9"}, "gold_rate", "标准条目占比须为 0 到 0.5"),
    ({"qualification_items": "r00000002"}, "qualification_items", "Qualification item 'r00000002' is not a gold item"),
    ({"gold": '{"r00000001": "negative"}', "qualification_items": "r00000001, r00000001"}, "qualification_items", "最多列出 100 个互不相同"),
    ({"qualification_pass_rate": "2"}, "qualification_pass_rate", "及格线须为 0 到 1"),
]


def test_bad_input_is_refused_next_to_its_field_keeping_what_was_typed(console, runtime, ak, texts):
    ak.project(name="sentiment", version=texts)  # takes the name
    client = console("member@a.test")
    token = csrf_of(client.get("/annotation/new").text)
    before = db_state(runtime)
    assert "annotation_projects" in before
    for changes, field, message in REFUSALS:
        changes = {k: v.replace("REVIEWS", texts.dataset_id) for k, v in changes.items()}
        typed = {**good(texts), "guidelines": "kept <text>", **changes}
        refused = client.post("/annotation/new", data={"csrf_token": token, **typed})
        page = refused.text
        assert refused.status_code == 422, changes
        assert f'<p id="{field}-error" class="field-error" role="alert">' in page, (changes, page[-3000:])
        assert message in html.unescape(page) and page.count('class="field-error"') == 1, (changes, message)
        assert f'aria-describedby="{field}-error"' in page or f'aria-describedby="{field}-hint {field}-error" aria-invalid="true"' in page, changes
        assert ">kept &lt;text&gt;</textarea>" in page  # what was typed is kept
        if field != "name":
            assert 'value="review-sentiment"' in page
        if field != "dataset_version":
            assert f'<option value="{texts.dataset_id}@1" selected>' in page
    assert_db_unchanged(before, db_state(runtime))
    # Every field the schema refuses is named at once.
    refused = client.post("/annotation/new", data={"csrf_token": token, **good(texts), "name": "", "labels": "", "overlap": "0"})
    assert refused.status_code == 422
    for field in ("name", "labels", "overlap"):
        assert f'<p id="{field}-error"' in refused.text
    # A form without its token is refused too.
    assert client.post("/annotation/new", data=good(texts)).status_code == 403
    assert_db_unchanged(before, db_state(runtime))


def test_another_orgs_version_is_refused_whether_private_or_public(console, runtime, world, texts):
    hidden, shown = other_orgs_datasets(runtime, world)
    client = console("member@a.test")
    token = csrf_of(client.get("/annotation/new").text)
    before = db_state(runtime)
    refused = client.post("/annotation/new", data={"csrf_token": token, **good(hidden)})
    assert refused.status_code == 422 and '<p id="dataset_version-error"' in refused.text
    assert "请从列出的本机构数据集版本中选择" in refused.text and "b-secret-reviews" not in refused.text  # no hint that it exists
    refused = client.post("/annotation/new", data={"csrf_token": token, **good(shown)})
    assert refused.status_code == 422 and '<p id="dataset_version-error"' in refused.text
    assert "belongs to another organisation" in refused.text
    assert_db_unchanged(before, db_state(runtime))
    # Org B's own member may label its private dataset through the same form.
    other = console("member@b.test")
    created = other.post("/annotation/new", data={"csrf_token": csrf_of(other.get("/annotation/new").text), **good(hidden)},
                         follow_redirects=False)
    assert created.status_code == 303
    assert [p.org_id for p in projects_of(runtime)] == [world.org_b]


@browser_test
def test_a_project_is_created_in_the_browser_with_the_keyboard(page, runtime, world, texts, screenshots):
    expect = playwright_expect()
    sign_in_page(page, runtime)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="标注").click()
    page.get_by_role("link", name="新建项目").click()
    page.wait_for_url("**/annotation/new")
    page.get_by_label("项目名称").click()
    page.keyboard.type("review-tone")
    page.get_by_label("要标注的数据集版本").select_option(label="reviews v1")
    page.get_by_label("标注类型").select_option(value="single")
    page.get_by_label("标签", exact=True).click()
    for label in LABELS:
        page.keyboard.type(label)
        page.keyboard.press("Enter")
    page.get_by_label("每条目标注次数", exact=True).fill("2")
    page.get_by_label("标注指南（可选）").click()
    page.keyboard.type("Pick the overall tone.")
    page.screenshot(path=screenshots / "annotation-new-project.png", full_page=True)
    page.get_by_role("button", name="创建项目").press("Enter")  # Enter: Chromium may drop a click that follows a full-page screenshot
    page.wait_for_url("**/annotation/projects/anp_*")
    expect(page.get_by_role("heading", level=1)).to_have_text("review-tone")
    expect(page.locator(".facts")).to_contain_text("positive")
    (project,) = projects_of(runtime)
    assert (project.name, project.labels, project.overlap, project.dataset_version_id) == ("review-tone", LABELS, 2, texts.id)
    assert page.url.endswith(f"/annotation/projects/{project.id}")
