"""The annotation task page in a real browser: label three tasks with the keyboard alone, draw a
box by dragging on the image, mark a span by selecting text with the keyboard. Each flow asserts
what the worker sees and what the service stored, and saves screenshots."""

from __future__ import annotations

import sqlalchemy as sa
from annotationkit import N_TEXTS, AnnotationKit
from consolekit import BROWSER, playwright_expect, sign_in_page

from aicommons.data.annotation.tables import AnnotationAnswer, AnnotationItem

pytestmark = BROWSER
expect = playwright_expect()


def stored_answers(runtime, project_id):
    """{record id: value} of the project's answers."""
    with runtime.session() as session:
        rows = session.execute(
            sa.select(AnnotationItem.record_id, AnnotationAnswer.value)
            .join(AnnotationItem, AnnotationItem.id == AnnotationAnswer.item_id)
            .where(AnnotationAnswer.project_id == project_id)
        ).all()
    return dict(rows)


def test_label_three_tasks_with_the_keyboard(page, runtime, world, screenshots):
    ak = AnnotationKit(runtime, world)
    project = ak.project(name="review-sentiment", adaptive=False, overlap=1, max_overlap=1, min_seconds=0,
                         guidelines="Pick the **overall** tone of the review.")
    sign_in_page(page, runtime)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="标注").click()
    page.get_by_role("link", name="review-sentiment").click()
    page.get_by_role("button", name="加入并开始标注").click()
    page.wait_for_url(f"**/annotation/projects/{project.id}/task")
    expect(page.get_by_role("button", name="1 positive")).to_be_visible()  # the key shows on its button
    for done, key in enumerate("123"):
        expect(page.locator("#progress")).to_contain_text(f"你已标注：{done}/{N_TEXTS}")
        expect(page.locator("#record-text")).to_contain_text(f"Review {done}:")
        expect(page.locator("#answer-form")).to_have_attribute("data-ready", "true")
        page.keyboard.press(key)  # picks the label and submits: the next task follows
    expect(page.locator("#progress")).to_contain_text(f"你已标注：3/{N_TEXTS}")
    expect(page.locator("#record-text")).to_contain_text("Review 3:")
    page.screenshot(path=screenshots / "annotation-task.png", full_page=True)
    assert stored_answers(runtime, project.id) == {"r00000000": "positive", "r00000001": "negative", "r00000002": "neutral"}

    assert ak.aggregate(project.id).status == "succeeded"  # fills the review queue
    page.get_by_role("link", name="review-sentiment").click()
    expect(page.locator('[data-figure="items-done"]')).to_have_text(f"3/{N_TEXTS}")
    expect(page.get_by_role("heading", name="审核队列")).to_be_visible()
    expect(page.locator(".review-queue tbody tr")).to_have_count(3)
    expect(page.locator("table.workers")).to_contain_text("member@a.test")
    page.screenshot(path=screenshots / "annotation-project.png", full_page=True)


def test_draw_a_box_by_dragging_on_the_image(page, runtime, world, screenshots):
    ak = AnnotationKit(runtime, world)
    project = ak.project(name="pets", version=ak.image_version(n=2), schema={"kind": "boxes", "labels": ["cat", "dog"]},
                         overlap=1, max_overlap=1, min_seconds=0)
    ak.join(project.id, world.a_member.actor)
    sign_in_page(page, runtime)
    page.goto(f"/annotation/projects/{project.id}/task")
    expect(page.locator("#answer-form")).to_have_attribute("data-ready", "true")
    page.wait_for_function("document.getElementById('box-image').naturalWidth === 32")
    stage = page.locator("#box-image").bounding_box()
    scale = stage["width"] / 32  # the 32×24 image is shown enlarged
    page.mouse.move(stage["x"] + 2 * scale, stage["y"] + 3 * scale)
    page.mouse.down()
    page.mouse.move(stage["x"] + 12 * scale, stage["y"] + 10 * scale, steps=4)
    page.mouse.move(stage["x"] + 20 * scale, stage["y"] + 15 * scale, steps=4)
    page.mouse.up()
    page.keyboard.press("2")  # the box just drawn is a dog
    expect(page.locator("#parts li")).to_have_count(1)
    expect(page.locator("#parts li")).to_contain_text("dog (2, 3)–(20, 15)")
    expect(page.locator(".box-layer .box")).to_have_count(1)
    page.screenshot(path=screenshots / "annotation-boxes.png", full_page=True)
    page.keyboard.press("Enter")
    expect(page.locator("#progress")).to_contain_text("你已标注：1/2")
    assert list(stored_answers(runtime, project.id).values()) == [[[2, 3, 20, 15, "dog"]]]


def test_mark_a_span_with_the_keyboard(page, runtime, world, screenshots):
    ak = AnnotationKit(runtime, world)
    project = ak.project(name="products", schema={"kind": "spans", "labels": ["PRODUCT", "OPINION"]}, overlap=1, max_overlap=1,
                         min_seconds=0)
    ak.join(project.id, world.a_member.actor)
    sign_in_page(page, runtime)
    page.goto(f"/annotation/projects/{project.id}/task")
    expect(page.locator("#answer-form")).to_have_attribute("data-ready", "true")
    text = page.locator("#span-text")  # "Review 0: wonderful, would buy again"
    text.focus()
    page.keyboard.press("Control+Home")
    page.keyboard.press("Shift+ArrowRight")
    for _ in range(5):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("1")
    for _ in range(4):
        page.keyboard.press("ArrowRight")
    for _ in range(9):
        page.keyboard.press("Shift+ArrowRight")
    page.keyboard.press("2")
    expect(page.locator("#parts li")).to_have_count(2)
    expect(page.locator("#parts li").first).to_contain_text("“Review” PRODUCT")
    expect(page.locator(".span-backdrop mark")).to_have_count(2)
    page.screenshot(path=screenshots / "annotation-spans.png", full_page=True)
    page.locator("#parts li").first.get_by_role("button").press("Enter")  # remove the first, by keyboard
    expect(page.locator("#parts li")).to_have_count(1)
    text.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#progress")).to_contain_text(f"你已标注：1/{N_TEXTS}")
    assert stored_answers(runtime, project.id) == {"r00000000": [[10, 19, "OPINION"]]}
