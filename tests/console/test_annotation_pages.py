"""The annotation pages: the projects list with progress, a project's quality and review queue,
and the worker's task page, whose form goes through the same service as the API and refuses
bad answers (unknown label, span past the text, box past the image) with the reason next to the
answer and nothing stored."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from annotationkit import LABELS, N_TEXTS, TRUTH, AnnotationKit
from consolekit import counted_page, counted_statements, csrf_of
from support import assert_db_unchanged, db_state

from aicommons.data import annotation
from aicommons.data.annotation.tables import AnnotationAnswer


@pytest.fixture
def ak(runtime, world):
    return AnnotationKit(runtime, world)


def answers_of(runtime, project_id):
    with runtime.session() as session:
        return session.execute(
            sa.select(AnnotationAnswer.user_id, AnnotationAnswer.value).where(AnnotationAnswer.project_id == project_id)
        ).all()


def task_url(project_id):
    return f"/annotation/projects/{project_id}/task"


def held_task_id(page: str) -> str:
    return re.search(r'/tasks/(ant_[^/]+)/answer"', page).group(1)


def test_projects_list_shows_progress_and_hides_another_orgs_private_project(ak, console, world):
    private = ak.project(name="sentiment", visibility="private", adaptive=False, overlap=1, max_overlap=1)
    public = ak.project(name="topics", schema={"kind": "multi", "labels": ["price", "delivery"]})
    ak.join(private.id, world.a_member.actor)
    task = ak.next(private.id, world.a_member.actor)
    ak.answer(task.id, world.a_member.actor, TRUTH[task.record_id])

    own = console("member@a.test")
    listed = own.get("/annotation").text
    assert "<h1>标注</h1>" in listed and ">sentiment<" in listed and ">topics<" in listed
    assert f"1/{N_TEXTS}" in listed  # items done of items
    assert f'href="{task_url(private.id)}"' in listed  # joined: straight to labelling
    assert f'action="/annotation/projects/{public.id}/join"' in listed  # not joined yet

    other = console("member@b.test")
    assert ">topics<" not in other.get("/annotation").text  # takes part in nothing yet
    everything = other.get("/annotation", params={"show": "all"}).text
    assert ">topics<" in everything and ">sentiment<" not in everything
    for url in (f"/annotation/projects/{private.id}", task_url(private.id)):
        assert other.get(url).status_code == 404
    page = other.get(f"/annotation/projects/{public.id}").text
    refused = other.post(f"/annotation/projects/{private.id}/join", data={"csrf_token": csrf_of(page)})
    assert refused.status_code == 404


def test_project_page_shows_worker_quality_and_a_review_queue_the_owner_works_through(ak, console, runtime, world):
    project = ak.project(adaptive=False, overlap=2, max_overlap=2, guidelines="Label the **overall** tone.")
    workers = [world.a_member.actor, world.b_member.actor]
    ak.join(project.id, *workers)
    def choose(actor, task):  # the second worker differs on every fifth item
        return "positive" if actor is workers[1] and int(task.record_id[1:]) % 5 == 0 else TRUTH[task.record_id]

    ak.work(project.id, workers, choose)
    assert ak.aggregate(project.id).status == "succeeded"

    owner = console("member@a.test")
    page = owner.get(f"/annotation/projects/{project.id}").text
    assert f'data-figure="items-done">{N_TEXTS}/{N_TEXTS}<' in page and f'data-figure="answers">{2 * N_TEXTS}<' in page
    assert "<strong>overall</strong>" in page  # the guidelines, rendered
    assert "标注员质量" in page and "member@b.test" in page and "<svg" in page  # the quality chart
    assert re.search(r'data-figure="alpha">-?\d', page)  # agreement from the aggregation
    assert page.count('name="record_id"') == N_TEXTS  # nothing reviewed yet: all in the queue

    before = db_state(runtime)
    record = "r00000001"
    bad = owner.post(f"/annotation/projects/{project.id}/review",
                     data={"csrf_token": csrf_of(page), "record_id": record, "decision": "correct", "value": "sideways"})
    assert bad.status_code == 422 and "unknown label &#39;sideways&#39;" in bad.text
    assert re.search(r'aria-invalid="true" aria-describedby="correction-\d+-error"', bad.text)
    assert_db_unchanged(before, db_state(runtime))

    done = owner.post(f"/annotation/projects/{project.id}/review",
                      data={"csrf_token": csrf_of(page), "record_id": record, "decision": "correct", "value": TRUTH[record]})
    assert done.status_code == 200 and done.url.path == f"/annotation/projects/{project.id}"
    assert done.text.count('name="record_id"') == N_TEXTS - 1
    assert ak.results(project.id, review="corrected")[record].final_value == TRUTH[record]

    # A worker of another org sees the project and their own part, not the others' quality or the queue.
    worker = console("member@b.test").get(f"/annotation/projects/{project.id}").text
    assert 'id="my-quality"' in worker and "标注员质量" not in worker and 'name="record_id"' not in worker
    assert "member@a.test" not in worker


def test_the_task_page_submits_labels_through_the_service_and_hands_out_the_next(ak, console, runtime, world):
    project = ak.project(adaptive=False, overlap=1, max_overlap=1)
    client = console("member@a.test")
    page = client.get(f"/annotation/projects/{project.id}").text
    joined = client.post(f"/annotation/projects/{project.id}/join", data={"csrf_token": csrf_of(page)})
    assert joined.url.path == task_url(project.id)
    first = joined.text
    assert f"你已标注：0/{N_TEXTS}" in first and "Review 0:" in first
    for key, label in zip("123", LABELS, strict=True):
        assert f'data-key="{key}" aria-keyshortcuts="{key}"><kbd>{key}</kbd> {label}</button>' in first
    assert client.get(task_url(project.id)).text.count(held_task_id(first)) >= 1  # reloading keeps the same task

    answered = client.post(f"/annotation/projects/{project.id}/tasks/{held_task_id(first)}/answer",
                           data={"csrf_token": csrf_of(first), "value": "negative", "seconds": "3.5"})
    assert answered.url.path == task_url(project.id) and f"你已标注：1/{N_TEXTS}" in answered.text
    assert "Review 1:" in answered.text and held_task_id(answered.text) != held_task_id(first)
    assert answers_of(runtime, project.id) == [(world.a_member.actor.user_id, "negative")]

    # Skipping gives the task back: the item goes to someone else, never again to this worker.
    second = held_task_id(answered.text)
    skipped = client.post(f"/annotation/projects/{project.id}/tasks/{second}/skip", data={"csrf_token": csrf_of(answered.text)})
    assert "Review 2:" in skipped.text and held_task_id(skipped.text) != second
    assert len(answers_of(runtime, project.id)) == 1
    ak.join(project.id, world.b_member.actor)
    assert ak.next(project.id, world.b_member.actor).record_id == "r00000001"


def test_bad_labels_are_refused_next_to_the_buttons_and_nothing_is_stored(ak, console, runtime, world):
    project = ak.project()
    ak.join(project.id, world.a_member.actor)
    client = console("member@a.test")
    page = client.get(task_url(project.id)).text
    answer_url = f"/annotation/projects/{project.id}/tasks/{held_task_id(page)}/answer"
    other = console("member@b.test")
    other_page = other.get("/annotation").text
    before = db_state(runtime)
    for sent, message in [({"value": "sideways"}, "unknown label &#39;sideways&#39;"), ({}, "请选择一个标签。"),
                          ({"value": ["positive", "negative"]}, "请选择一个标签。")]:
        refused = client.post(answer_url, data={"csrf_token": csrf_of(page), **sent})
        assert refused.status_code == 422 and message in refused.text
        assert 'aria-invalid="true" aria-describedby="answer-error"' in refused.text and 'id="answer-error"' in refused.text
        assert held_task_id(refused.text) == held_task_id(page)  # the same task, to answer again
    assert client.post(answer_url, data={"value": "positive"}).status_code == 403  # no CSRF token
    assert_db_unchanged(before, db_state(runtime))
    # Another worker may not answer this task.
    assert other.post(answer_url, data={"csrf_token": csrf_of(other_page), "value": "positive"}).status_code == 403
    assert_db_unchanged(before, db_state(runtime))


def test_spans_past_the_text_are_refused_and_good_spans_are_stored(ak, console, runtime, world):
    project = ak.project(name="ner", schema={"kind": "spans", "labels": ["PRODUCT", "DAY"]}, overlap=1, max_overlap=1)
    ak.join(project.id, world.a_member.actor)
    client = console("member@a.test")
    page = client.get(task_url(project.id)).text
    assert '<textarea id="span-text"' in page and "Review 0:" in page
    answer_url = f"/annotation/projects/{project.id}/tasks/{held_task_id(page)}/answer"
    length = len("Review 0: wonderful, would buy again")
    before = db_state(runtime)
    refused = client.post(answer_url, data={"csrf_token": csrf_of(page), "span": [f'[0, {length + 5}, "PRODUCT"]', "not json"]})
    assert refused.status_code == 422 and f"past the end of the {length}-character text" in refused.text
    assert f'value="[0, {length + 5}, &#34;PRODUCT&#34;]"' in refused.text  # kept as typed
    unknown = client.post(answer_url, data={"csrf_token": csrf_of(page), "span": '[0, 6, "PLACE"]'})
    assert unknown.status_code == 422 and "unknown label" in unknown.text
    assert_db_unchanged(before, db_state(runtime))
    stored = client.post(answer_url, data={"csrf_token": csrf_of(page), "span": ['[10, 19, "PRODUCT"]', '[0, 6, "DAY"]']})
    assert stored.url.path == task_url(project.id)
    assert answers_of(runtime, project.id) == [(world.a_member.actor.user_id, [[0, 6, "DAY"], [10, 19, "PRODUCT"]])]


def test_boxes_outside_the_image_are_refused_and_the_image_is_served_to_the_worker_only(ak, console, runtime, world):
    project = ak.project(name="boxes", version=ak.image_version(n=2), schema={"kind": "boxes", "labels": ["cat", "dog"]},
                         overlap=1, max_overlap=1)
    ak.join(project.id, world.b_member.actor)  # of another org: the dataset is private to A
    client = console("member@b.test")
    page = client.get(task_url(project.id)).text
    task_id = held_task_id(page)
    assert f'src="/annotation/tasks/{task_id}/file"' in page and 'data-width="32" data-height="24"' in page
    image = client.get(f"/annotation/tasks/{task_id}/file")
    assert image.status_code == 200 and image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")
    assert console("admin@b.test").get(f"/annotation/tasks/{task_id}/file").status_code == 404
    answer_url = f"/annotation/projects/{project.id}/tasks/{task_id}/answer"
    before = db_state(runtime)
    refused = client.post(answer_url, data={"csrf_token": csrf_of(page), "box": '[0, 0, 40, 10, "cat"]'})
    assert refused.status_code == 422 and "past the 32×24 image" in refused.text and 'id="answer-error"' in refused.text
    assert_db_unchanged(before, db_state(runtime))
    client.post(answer_url, data={"csrf_token": csrf_of(page), "box": '[2, 3, 20, 18, "dog"]'})
    assert answers_of(runtime, project.id) == [(world.b_member.actor.user_id, [[2, 3, 20, 18, "dog"]])]


def test_the_projects_list_asks_a_fixed_number_of_queries_however_many_projects(ak, console, runtime, world):
    client = console("member@a.test")
    for i in range(2):
        ak.project(name=f"few-{i}")
    _, few, _ = counted_page(client, runtime.engine, "/annotation")
    for i in range(6):
        project = ak.project(name=f"more-{i}")
        ak.join(project.id, world.a_member.actor)
    with counted_statements(runtime.engine) as statements:
        listed = client.get("/annotation").text
    assert len(re.findall(r'href="/annotation/projects/anp_[^/"]+"', listed)) == 8 and len(statements) == few
    with runtime.session() as session:
        assert len(annotation.list_taking_part(session, world.a_member.actor).items) == 8
