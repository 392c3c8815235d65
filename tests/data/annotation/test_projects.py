"""Annotation projects: created on a dataset version of the owner org, items from its records,
gold and qualification checked against them; visibility, joining, updates, pre-labels; every
change audited and bad input refused with the DB unchanged."""

from __future__ import annotations

import pytest
from annotationkit import LABELS, N_TEXTS, AnnotationKit, record_id
from support import assert_db_unchanged, db_state

from aicommons import data
from aicommons.core import audit
from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound
from aicommons.data import annotation


@pytest.fixture
def ak(runtime, world):
    return AnnotationKit(runtime, world)


def _actions(runtime, operator, resource_id):
    with runtime.session() as session:
        return [e.action for e in audit.list_entries(session, operator, resource_id=resource_id, limit=200).items]


def test_create_copies_records_into_items_and_hides_gold(ak, runtime, world):
    gold = {record_id(0): "positive", record_id(1): "negative", record_id(2): "neutral"}
    project = ak.project(gold=gold, qualification_items=[record_id(0), record_id(1)], guidelines="Judge the tone.", gold_rate=0.2)
    assert project.org_id == world.org_a and project.status == "open" and project.visibility == "public"
    assert project.items == N_TEXTS - 3 and project.gold_count == 3 and project.qualification_count == 2
    assert project.label_schema.labels == LABELS and project.items_done == 0 and project.answers == 0
    dumped = project.model_dump(mode="json", by_alias=True)
    assert dumped["schema"] == {"kind": "single", "labels": LABELS}
    assert "gold" not in dumped and "negative" not in str({k: v for k, v in dumped.items() if k != "schema"})
    assert "annotation.project.create" in _actions(runtime, world.operator.actor, project.id)


def test_public_projects_are_listed_to_every_org_private_ones_only_to_their_own(ak, runtime, world):
    public = ak.project(name="open call")
    private = ak.project(name="in house", visibility="private")
    with runtime.session() as session:
        seen_by_b = {p.id for p in annotation.list_projects(session, world.b_member.actor).items}
        seen_by_a = {p.id for p in annotation.list_projects(session, world.a_member.actor).items}
        assert seen_by_b == {public.id} and seen_by_a == {public.id, private.id}
        with pytest.raises(NotFound):
            annotation.get_project(session, world.b_member.actor, private.id)
        with pytest.raises(NotFound):
            annotation.join_project(session, world.b_member.actor, private.id)
        with pytest.raises(Forbidden):  # B may see the public project, not change it
            annotation.update_project(session, world.b_admin.actor, public.id, annotation.ProjectUpdate(status="closed"))
        with pytest.raises(Forbidden):
            annotation.list_workers(session, world.b_admin.actor, public.id)


def test_join_from_another_org_and_again_changes_nothing(ak, runtime, world):
    project = ak.project()
    [first] = ak.join(project.id, world.b_member.actor)
    assert first.org_id == world.org_b and first.qualification == "none" and first.qualified and first.flags == []
    assert 0.7 < first.skill_accuracy < 0.9  # the Beta(4, 1) prior
    before = db_state(runtime)
    [again] = ak.join(project.id, world.b_member.actor)
    assert again == first
    assert_db_unchanged(before, db_state(runtime))
    assert ak.get(project.id).workers == 1


def test_update_closes_the_project_and_is_audited(ak, runtime, world):
    project = ak.project()
    ak.join(project.id, world.b_member.actor)
    with runtime.session() as session:
        updated = annotation.update_project(
            session, world.a_member.actor, project.id, annotation.ProjectUpdate(guidelines="New rules.", status="closed")
        )
    assert updated.status == "closed" and updated.guidelines == "New rules."
    assert "annotation.project.update" in _actions(runtime, world.operator.actor, project.id)
    with pytest.raises(Conflict, match="closed"):
        ak.next(project.id, world.b_member.actor)


BAD_SPECS = [
    ({"gold": {"r99999999": "positive"}}, Invalid, "'r99999999'"),
    ({"gold": {record_id(0): "joyful"}}, Invalid, "unknown label 'joyful'"),
    ({"gold": {record_id(0): "positive"}, "qualification_items": [record_id(1)]}, Invalid, f"{record_id(1)!r} is not a gold item"),
    ({"method": "vote"}, Invalid, "'method'"),
    ({"prelabeller": "oracle"}, Invalid, "pre-labeller 'oracle'"),
    ({"schema": {"kind": "boxes", "labels": ["cat"]}}, Invalid, "holds none"),
    ({"deadline": "2001-01-01T00:00:00Z"}, Invalid, "'deadline'"),
]


@pytest.mark.parametrize(("change", "error", "message"), BAD_SPECS, ids=[str(s[0])[:40] for s in BAD_SPECS])
def test_bad_projects_are_refused_and_change_nothing(ak, runtime, change, error, message):
    ak.text_version()
    ak.project(name="taken")
    before = db_state(runtime)
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        ak.project(name="new", **change)
    assert_db_unchanged(before, db_state(runtime))


def test_a_taken_name_and_another_orgs_dataset_are_refused(ak, runtime, world):
    ak.project(name="taken")
    with pytest.raises(Conflict, match="already has an annotation project named 'Taken'"):
        ak.project(name="Taken")
    # B's public dataset: B may read it, but a project publishes into its dataset, so A may not.
    b_kit = type(ak.data)(runtime, world.b_member.actor)
    b_version = b_kit.imported(b_kit.dataset("b-reviews", visibility="public").id, "b.csv", b"text\nhello\nworld\n")
    before = db_state(runtime)
    with pytest.raises(Invalid, match="belongs to another organisation"):
        ak.project(name="borrowed", version=b_version)
    with pytest.raises(NotFound):  # and nobody labels a version they cannot see
        ak.project(name="hidden", version=ak.text_version(), actor=world.b_member.actor)
    assert_db_unchanged(before, db_state(runtime))


def test_bad_schemas_fail_validation():
    with pytest.raises(ValueError, match="unique"):
        annotation.LabelSchema(kind="single", labels=["a", "a"])
    with pytest.raises(ValueError, match="at least overlap"):
        annotation.ProjectCreate(name="x", dataset_version_id="dsv_1", schema={"kind": "single", "labels": ["a"]}, overlap=4, max_overlap=3)


def test_image_boxes_project_tasks_carry_the_file_and_check_the_image_size(ak, runtime, world):
    version = ak.image_version(n=3)
    project = ak.project(name="boxes", version=version, schema={"kind": "boxes", "labels": ["cat", "dog"]}, overlap=1, max_overlap=1)
    worker = world.b_member.actor  # of another org: the dataset itself is private to A
    ak.join(project.id, worker)
    task = ak.next(project.id, worker)
    assert task.kind == "boxes" and task.item.text is None
    assert task.item.file_sha256 and task.item.fields == {"width": 32, "height": 24}
    assert task.item.file_url == f"/api/v1/annotation/tasks/{task.id}/file"
    with runtime.session() as session:  # the worker and the owner org fetch the image through the task
        sha256, name = annotation.task_file(session, worker, task.id)
        assert sha256 == task.item.file_sha256 and name.endswith(".png")
        assert annotation.task_file(session, world.a_member.actor, task.id)[0] == task.item.file_sha256
        with pytest.raises(NotFound):
            data.record_file(session, data.manifest_cache(runtime), worker, version.id, task.record_id)
        with pytest.raises(NotFound):  # another worker of the project may not
            annotation.task_file(session, world.b_admin.actor, task.id)
    before = db_state(runtime)
    for bad, message in [
        ([[0, 0, 40, 10, "cat"]], "past the 32×24 image"),
        ([[5, 5, 2, 10, "cat"]], "x0 < x1"),
        ([[0, 0, 4, 4, "bird"]], "unknown label 'bird'"),
        ("cat", "must be a list"),
    ]:
        with pytest.raises(Invalid, match=message):
            ak.answer(task.id, worker, bad)
    assert_db_unchanged(before, db_state(runtime))
    answer = ak.answer(task.id, worker, [[1, 2, 30, 20.5, "dog"], [0, 0, 3, 3, "cat"]])
    assert answer.value == [[0, 0, 3, 3, "cat"], [1, 2, 30, 20.5, "dog"]]


def test_spans_and_multi_answers_are_checked_against_the_text_and_labels(ak, runtime):
    spans = ak.project(name="ner", schema={"kind": "spans", "labels": ["PRODUCT", "DAY"]}, overlap=1, max_overlap=1)
    multi = ak.project(name="topics", schema={"kind": "multi", "labels": ["price", "delivery", "quality"]}, overlap=1, max_overlap=1)
    [worker] = ak.workers(1)
    ak.join(spans.id, worker)
    ak.join(multi.id, worker)
    task = ak.next(spans.id, worker)
    length = len(task.item.text)
    for bad, message in [
        ([[0, length + 1, "DAY"]], f"past the end of the {length}-character text"),
        ([[3, 3, "DAY"]], "start < end"),
        ([[0, 2, "PLACE"]], "unknown label 'PLACE'"),
        ([[0, 2, "DAY"], [0, 2, "DAY"]], "same span twice"),
    ]:
        with pytest.raises(Invalid, match=message):
            ak.answer(task.id, worker, bad)
    assert ak.answer(task.id, worker, [[7, 9, "DAY"], [0, 6, "PRODUCT"]]).value == [[0, 6, "PRODUCT"], [7, 9, "DAY"]]
    task = ak.next(multi.id, worker)
    with pytest.raises(Invalid, match="repeats the labels"):
        ak.answer(task.id, worker, ["price", "price"])
    with pytest.raises(Invalid, match="unknown label 'colour'"):
        ak.answer(task.id, worker, ["colour"])
    assert ak.answer(task.id, worker, ["quality", "price"]).value == ["price", "quality"]


def test_prelabels_are_suggestions_not_votes(ak, runtime, world):
    version = ak.data.imported(ak.data.dataset("labelled").id, "l.csv", b"text,label\ngood,positive\nbad,negative\nodd,sideways\n")
    project = ak.project(name="check", version=version, prelabeller="existing_label", overlap=1, max_overlap=1)
    [worker] = ak.workers(1)
    ak.join(project.id, worker)
    suggestions = {}
    while (task := ak.next(project.id, worker)) is not None:
        suggestions[task.item.text] = task.suggestions
        assert "label" not in task.item.fields
        ak.answer(task.id, worker, "neutral")
    # a suggestion outside the schema ("sideways") is dropped; none counted as a vote
    assert suggestions == {"good": "positive", "bad": "negative", "odd": None}
    assert set(ak.item_answers(project.id).values()) == {1}


def test_every_record_becomes_an_item(ak, runtime):
    project = ak.project(gold={record_id(5): "neutral"})
    from aicommons.data.annotation.tables import AnnotationItem
    import sqlalchemy as sa

    with runtime.session() as session:
        items = session.execute(sa.select(AnnotationItem.record_id, AnnotationItem.is_gold, AnnotationItem.payload).where(AnnotationItem.project_id == project.id).order_by(AnnotationItem.id)).all()
    assert [r.record_id for r in items] == [record_id(i) for i in range(N_TEXTS)]
    assert [r.record_id for r in items if r.is_gold] == [record_id(5)]
    assert items[0].payload["text"].startswith("Review 0:")
    with runtime.session() as session:
        rows = data.list_records(session, data.manifest_cache(runtime), ak.owner, ak.text_version().id, limit=5).items
    assert rows[0]["label"] is None
