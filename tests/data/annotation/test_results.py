"""Aggregation as a job (results with confidence, agreement, atomic and retryable), review feeding
worker skill, and publishing the labels as a new dataset version with lineage."""

from __future__ import annotations

import pytest
from annotationkit import LABELS, N_TEXTS, TRUTH, AnnotationKit, Crowd, record_id
from support import assert_db_unchanged, db_state

from aicommons import data
from aicommons.core import audit, jobs
from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound
from aicommons.data import annotation
from aicommons.data.annotation import aggregation, results

GOLD = {record_id(i): TRUTH[record_id(i)] for i in range(6)}


@pytest.fixture
def ak(runtime, world):
    return AnnotationKit(runtime, world)


def _crowdsourced(ak, **spec):
    """A sentiment project worked by three reliable workers, a noisy one and a fast spammer."""
    spec.setdefault("gold", GOLD)
    spec.setdefault("gold_rate", 0.2)
    project = ak.project(**spec)
    workers = ak.workers(5)
    crowd = Crowd(dict(zip([w.user_id for w in workers], ["reliable", "reliable", "noisy", "reliable", "spammer"], strict=True)))
    ak.join(project.id, *workers)
    ak.work(project.id, workers, crowd.choose, seconds=crowd.seconds)
    return project, workers, crowd


def test_aggregation_job_stores_results_with_confidence_and_agreement(ak, runtime, world):
    project, workers, crowd = _crowdsourced(ak)
    spammer = workers[4]
    skills_before = {u: (w.skill_correct, w.skill_wrong) for u, w in ak.workers_of(project.id).items()}
    assert ak.workers_of(project.id)[spammer.user_id].weight == 0.0
    job = ak.aggregate(project.id)
    assert job.status == "succeeded", job.error
    assert job.progress == 1.0 and job.result["method"] == "ds" and job.result["results"] == N_TEXTS
    found = ak.results(project.id)
    assert set(found) == set(TRUTH)
    assert all(0.0 <= r.confidence <= 1.0 and r.support >= 1 and r.review is None for r in found.values())
    regular = [r for r in found.values() if r.record_id not in GOLD]
    assert all(r.method == "ds" and set(r.posteriors) == set(LABELS) for r in regular)
    correct = sum(r.value == TRUTH[r.record_id] for r in regular)
    assert correct >= len(regular) - 1
    assert all(found[r].value == GOLD[r] and found[r].method == "gold" and found[r].confidence == 1.0 for r in GOLD)
    read = ak.get(project.id)
    alpha, kappa = read.agreement["krippendorff_alpha"], read.agreement["fleiss_kappa"]
    assert isinstance(alpha, float) and isinstance(kappa, float) and 0 < alpha < 1 and 0 < kappa < 1
    assert read.aggregated_method == "ds" and read.aggregated_at is not None and read.aggregation_job_id == job.id
    # aggregating does not change anyone's skill: only gold answers and reviews do
    assert {u: (w.skill_correct, w.skill_wrong) for u, w in ak.workers_of(project.id).items()} == skills_before
    with runtime.session() as session:
        [entry] = audit.list_entries(session, world.a_admin.actor, action="annotation.aggregate").items
    assert entry.detail["job_id"] == job.id and entry.detail["krippendorff_alpha"] == alpha


def test_every_method_runs_and_reaggregating_keeps_reviews(ak, runtime, world):
    project, _, _ = _crowdsourced(ak, gold={}, gold_rate=0.0, adaptive=False, overlap=3, max_overlap=3)
    ak.aggregate(project.id, method="mv")
    ak.review(project.id, record_id(7), "correct", "neutral")
    for method in aggregation.METHODS:  # wawa also guards the scikit-learn >= 1.6 pitfall of crowd-kit 1.4.2
        job = ak.aggregate(project.id, method=method)
        assert job.status == "succeeded", (method, job.error)
        found = ak.results(project.id)
        assert {r.method for r in found.values()} == {method}
        assert sum(r.value == TRUTH[r.record_id] for r in found.values()) >= N_TEXTS - 3, method
        assert found[record_id(7)].review == "corrected" and found[record_id(7)].final_value == "neutral"


def test_results_are_written_in_one_step_and_a_failed_job_retries_cleanly(ak, runtime, world, monkeypatch):
    project, _, _ = _crowdsourced(ak, gold={}, gold_rate=0.0, adaptive=False, overlap=2, max_overlap=2)
    real = results._store_results

    def store_then_crash(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("worker died while storing")

    monkeypatch.setattr(results, "_store_results", store_then_crash)
    failed = ak.aggregate(project.id)
    assert failed.status == "failed" and "worker died" in failed.error
    assert ak.results(project.id) == {} and ak.get(project.id).aggregated_at is None
    monkeypatch.setattr(results, "_store_results", real)
    with runtime.session() as session:
        jobs.retry_job(session, ak.owner, failed.id)
    done = ak.data.run(failed)
    assert done.status == "succeeded" and done.result["results"] == N_TEXTS
    assert len(ak.results(project.id)) == N_TEXTS


def test_aggregation_is_refused_without_answers_or_with_an_unknown_method(ak, runtime, world):
    project = ak.project()
    before = db_state(runtime)
    with pytest.raises(Conflict, match="no answers"):
        ak.aggregate(project.id)
    [worker] = ak.workers(1)
    ak.join(project.id, worker)
    ak.answer(ak.next(project.id, worker).id, worker, "positive")
    before = db_state(runtime)
    with pytest.raises(Invalid, match="'method'"):
        ak.aggregate(project.id, method="vote")
    with pytest.raises(Forbidden):
        ak.aggregate(project.id, actor=world.b_admin.actor)
    assert_db_unchanged(before, db_state(runtime))


def test_reviews_feed_the_answering_workers_skill(ak, runtime, world):
    project, workers, _ = _crowdsourced(ak, gold={}, gold_rate=0.0, adaptive=False, overlap=3, max_overlap=3)
    ak.aggregate(project.id, method="mv")
    found = ak.results(project.id)
    record = next(r for r in found if found[r].value == TRUTH[r] == "negative")
    answers = _answers(ak, project.id, record)
    before = ak.workers_of(project.id)

    corrected = ak.review(project.id, record, "correct", "neutral")
    assert corrected.review == "corrected" and corrected.final_value == "neutral" and corrected.value == "negative"
    after = ak.workers_of(project.id)
    for user_id, value in answers.items():
        gained = (1.0, 0.0) if value == "neutral" else (0.0, 1.0)
        assert (after[user_id].skill_correct - before[user_id].skill_correct, after[user_id].skill_wrong - before[user_id].skill_wrong) == gained
    # reviewing again replaces the first review's effect: accepting confirms the aggregated value
    accepted = ak.review(project.id, record, "accept")
    assert accepted.review == "accepted" and accepted.final_value == "negative" and accepted.reviewed_value is None
    again = ak.workers_of(project.id)
    for user_id, value in answers.items():
        gained = (1.0, 0.0) if value == "negative" else (0.0, 1.0)
        assert (again[user_id].skill_correct - before[user_id].skill_correct, again[user_id].skill_wrong - before[user_id].skill_wrong) == gained
    # rejecting: those who gave the rejected value were wrong; the others learn nothing
    other = next(r for r in found if r != record and found[r].value == "positive")
    other_answers = _answers(ak, project.id, other)
    base = ak.workers_of(project.id)
    rejected = ak.review(project.id, other, "reject")
    assert rejected.review == "rejected" and rejected.final_value is None
    now = ak.workers_of(project.id)
    for user_id, value in other_answers.items():
        assert now[user_id].skill_wrong - base[user_id].skill_wrong == (1.0 if value == "positive" else 0.0)
        assert now[user_id].skill_correct == base[user_id].skill_correct
    with runtime.session() as session:
        entries = audit.list_entries(session, world.a_admin.actor, action="annotation.result.review").items
    assert sorted(e.detail["decision"] for e in entries) == ["accepted", "corrected", "rejected"]


def _answers(ak, project_id, record):
    import sqlalchemy as sa

    from aicommons.data.annotation.tables import AnnotationAnswer, AnnotationItem

    with ak.runtime.session() as session:
        rows = session.execute(
            sa.select(AnnotationAnswer.user_id, AnnotationAnswer.value)
            .join(AnnotationItem, AnnotationItem.id == AnnotationAnswer.item_id)
            .where(AnnotationItem.project_id == project_id, AnnotationItem.record_id == record)
        ).all()
    return dict(rows)


def test_bad_reviews_are_refused_and_change_nothing(ak, runtime, world):
    project, _, _ = _crowdsourced(ak, gold={}, gold_rate=0.0, adaptive=False, overlap=2, max_overlap=2)
    ak.aggregate(project.id, method="mv")
    before = db_state(runtime)
    with pytest.raises(Invalid, match="unknown label 'joyful'"):
        ak.review(project.id, record_id(3), "correct", "joyful")
    with pytest.raises(NotFound, match="no aggregated result for record 'r99'"):
        ak.review(project.id, "r99", "accept")
    with pytest.raises(Forbidden):  # B sees the public project but may not review it
        ak.review(project.id, record_id(3), "accept", actor=world.b_admin.actor)
    with pytest.raises(ValueError, match="needs the corrected value"):
        annotation.ReviewDecision(decision="correct")
    assert_db_unchanged(before, db_state(runtime))


def test_publish_writes_a_labelled_version_with_lineage(ak, runtime, world):
    project, _, _ = _crowdsourced(ak)
    before = db_state(runtime)
    with pytest.raises(Conflict, match="no aggregated results yet"):
        ak.publish(project.id)
    assert_db_unchanged(before, db_state(runtime))
    ak.aggregate(project.id)
    ak.review(project.id, record_id(9), "reject")
    ak.review(project.id, record_id(10), "correct", "neutral")
    with pytest.raises(Forbidden):
        ak.publish(project.id, actor=world.b_admin.actor)
    version = ak.publish(project.id)
    source = ak.text_version()
    assert version.operation == "annotate" and version.parent_version_id == source.id
    assert version.dataset_id == source.dataset_id and version.record_count == N_TEXTS
    read = ak.get(project.id)
    assert version.parameters["project_id"] == project.id and version.parameters["method"] == "ds"
    assert version.parameters["alpha"] == read.agreement["krippendorff_alpha"] and version.parameters["kappa"] == read.agreement["fleiss_kappa"]
    assert version.parameters["parameters"]["labels"] == LABELS and read.published_version_id == version.id
    found = ak.results(project.id)
    labels = {r["record_id"]: r["label"] for r in ak.data.records(version.id, limit=100).items}
    expected = {r: found[r].value for r in TRUTH}
    expected[record_id(9)] = None
    expected[record_id(10)] = "neutral"
    assert labels == expected
    with runtime.session() as session:
        report = data.get_report(session, runtime.blobs, ak.reviewer, version.id)
        actions = {e.action for e in audit.list_entries(session, world.a_admin.actor, limit=200).items}
    assert report["counts"] == {"aggregated": N_TEXTS - 2, "corrected": 1, "rejected": 1} and report["labelled"] == N_TEXTS - 1
    assert {"annotation.publish", "dataset.version.annotate"} <= actions


def test_multi_and_spans_projects_aggregate_and_publish_to_annotations(ak, runtime, world):
    multi = ak.project(name="topics", schema={"kind": "multi", "labels": ["price", "delivery"]}, overlap=2, max_overlap=2)
    spans = ak.project(name="ner", schema={"kind": "spans", "labels": ["DAY"]}, overlap=2, max_overlap=2)
    workers = ak.workers(2)
    for project in (multi, spans):
        ak.join(project.id, *workers)

    def topics(actor, task):
        return ["delivery", "price"] if int(task.record_id[1:]) % 2 else []

    def days(actor, task):
        text = task.item.text
        start = text.find("Tuesday")
        return [[start, start + len("Tuesday"), "DAY"]] if start >= 0 else []

    ak.work(multi.id, workers, topics)
    ak.work(spans.id, workers, days)
    for project in (multi, spans):
        assert ak.aggregate(project.id, method="mv").status == "succeeded"
    multi_version = ak.publish(multi.id)
    spans_version = ak.publish(spans.id)
    rows = {r["record_id"]: r for r in ak.data.records(multi_version.id, limit=100).items}
    assert rows[record_id(1)]["label"] == "delivery|price"
    assert rows[record_id(1)]["annotations"] == [{"label": "delivery"}, {"label": "price"}]
    assert rows[record_id(2)]["label"] is None and rows[record_id(2)]["annotations"] == []
    rows = {r["record_id"]: r for r in ak.data.records(spans_version.id, limit=100).items}
    neutral = record_id(2)  # "Review 2: arrived on a Tuesday"
    start = rows[neutral]["text"].find("Tuesday")
    assert rows[neutral]["annotations"] == [{"start": start, "end": start + 7, "label": "DAY"}]
    assert ak.get(multi.id).agreement["fleiss_kappa"] is None  # kappa is for single labels


def test_boxes_project_aggregates_and_publishes_coco_style_boxes(ak, runtime, world):
    version = ak.image_version(n=2)
    project = ak.project(name="boxes", version=version, schema={"kind": "boxes", "labels": ["cat", "dog"]}, overlap=3, max_overlap=3)
    workers = ak.workers(3)
    ak.join(project.id, *workers)
    shift = {w.user_id: i for i, w in enumerate(workers)}
    ak.work(project.id, workers, lambda actor, task: [[2 + shift[actor.user_id], 2, 20, 18, "cat"]])
    assert ak.aggregate(project.id).status == "succeeded"
    found = ak.results(project.id)
    assert {r.value[0][4] for r in found.values()} == {"cat"} and all(r.value[0][:4] == [3, 2, 20, 18] for r in found.values())
    published = ak.publish(project.id)
    rows = ak.data.records(published.id, limit=10).items
    assert all(r["annotations"] == [{"label": "cat", "bbox": [3, 2, 17, 16]}] for r in rows)
