"""Task assignment and answers: never the same item twice, fewest answers first, gold mixed in
unannounced, the qualification gate, adaptive overlap, expiry, concurrent workers, spam flags,
and clear errors for bad submissions with the DB unchanged."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa
from annotationkit import LABELS, N_TEXTS, TRUTH, AnnotationKit, record_id
from support import assert_db_unchanged, db_state

from aicommons.core import audit
from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound
from aicommons.data import annotation
from aicommons.data.annotation.tables import AnnotationItem


@pytest.fixture
def ak(runtime, world):
    return AnnotationKit(runtime, world)


def truthful(actor, task):
    return TRUTH[task.record_id]


def test_workers_of_two_orgs_label_every_item_to_its_overlap_never_twice(ak, runtime, world):
    project = ak.project(adaptive=False, overlap=3, max_overlap=5)
    workers = ak.workers(4)
    assert {w.org_id for w in workers} == {world.org_a, world.org_b}
    ak.join(project.id, *workers)
    got = ak.work(project.id, workers, truthful)
    for tasks in got.values():
        records = [t.record_id for t in tasks]
        assert len(records) == len(set(records))  # never the same item twice
    assert ak.item_answers(project.id) == {record_id(i): 3 for i in range(N_TEXTS)}
    read = ak.get(project.id)
    assert read.items_done == N_TEXTS and read.answers == 3 * N_TEXTS and read.workers == 4
    points = {w.user_id: w.points for w in ak.workers_of(project.id).values()}
    assert points == {w.user_id: float(len(got[w.user_id])) for w in workers}


def test_items_with_fewest_answers_come_first(ak, runtime, world):
    project = ak.project(adaptive=False, overlap=3, max_overlap=3)
    first, second, third = ak.workers(3)
    ak.join(project.id, first, second, third)
    for _ in range(5):
        task = ak.next(project.id, first)
        ak.answer(task.id, first, "positive")
    # the second worker gets an unlabelled item (ties by id), not one the first worker labelled
    assert ak.next(project.id, second).record_id == record_id(5)
    # every item gets its first label before any gets a second: an item in flight counts as labelled
    seen = []
    while len(seen) < N_TEXTS - 1 and (task := ak.next(project.id, third)) is not None:
        seen.append((task.record_id, ak.item_answers(project.id)[task.record_id]))
        ak.answer(task.id, third, "positive")
    counts = [count for _, count in seen]
    assert counts == sorted(counts)  # 0s (unlabelled ones) before 1s
    assert counts.count(0) == N_TEXTS - 6 and {r for r, c in seen if c == 1} == {record_id(i) for i in range(5)}


def test_a_held_task_is_handed_out_again_until_answered(ak, runtime, world):
    project = ak.project()
    [worker] = ak.workers(1)
    ak.join(project.id, worker)
    task = ak.next(project.id, worker)
    assert ak.next(project.id, worker).id == task.id
    assert task.expires_at - task.assigned_at == annotation.TASK_TTL


def test_gold_items_are_mixed_in_unannounced_and_drive_skill(ak, runtime, world):
    gold = {record_id(i): TRUTH[record_id(i)] for i in range(6)}
    project = ak.project(gold=gold, gold_rate=0.4, adaptive=False, overlap=2, max_overlap=2)
    good, bad = ak.workers(2)
    ak.join(project.id, good, bad)
    got = ak.work(project.id, [good, bad], lambda actor, task: TRUTH[task.record_id] if actor is good else "neutral")
    good_tasks = got[good.user_id]
    gold_tasks = [t for t in good_tasks if t.record_id in gold]
    regular = [t for t in good_tasks if t.record_id not in gold]
    assert 1 <= len(gold_tasks) <= 6 and len(regular) == N_TEXTS - 6
    # indistinguishable: the same shape and no hint of gold in what the worker sees
    assert {tuple(sorted(t.model_dump())) for t in good_tasks} == {tuple(sorted(regular[0].model_dump()))}
    assert "gold" not in str([t.model_dump(mode="json") for t in gold_tasks])
    # gold items are never assigned through the regular queue: no regular item went past its overlap
    assert set(ak.item_answers(project.id).values()) <= {1, 2}
    workers = ak.workers_of(project.id)
    g, b = workers[good.user_id], workers[bad.user_id]
    assert g.gold_answers == len(gold_tasks) and g.gold_accuracy == 1.0
    assert g.skill_correct == 4.0 + len(gold_tasks) and g.skill_wrong == 1.0
    bad_gold = [t for t in got[bad.user_id] if t.record_id in gold]
    wrong = sum(1 for t in bad_gold if TRUTH[t.record_id] != "neutral")
    assert b.skill_wrong == 1.0 + wrong and b.skill_accuracy < g.skill_accuracy
    # Three wrong gold answers flag the bad worker, who then gets no more tasks, with the reason.
    if wrong >= 3:
        assert "low_gold" in [f.code for f in b.flags] and "gold answers correct" in ak.paused[bad.user_id]
    assert good.user_id not in ak.paused


def test_qualification_gate(ak, runtime, world):
    quals = [record_id(0), record_id(1), record_id(2)]
    gold = {r: TRUTH[r] for r in quals}
    project = ak.project(gold=gold, qualification_items=quals, qualification_pass_rate=0.66)
    passer, failer = ak.workers(2)
    joined = ak.join(project.id, passer, failer)
    assert [w.qualification for w in joined] == ["pending", "pending"] and not joined[0].qualified
    for worker, choose in [(passer, truthful), (failer, lambda a, t: "neutral" if TRUTH[t.record_id] != "neutral" else "positive")]:
        for expected in quals:  # qualification items first, in order
            task = ak.next(project.id, worker)
            assert task.record_id == expected
            ak.answer(task.id, worker, choose(worker, task))
    assert ak.next(project.id, passer).record_id == record_id(3)
    before = db_state(runtime)
    with pytest.raises(Forbidden, match=r"did not pass the qualification test .*0 of 3 qualification answers correct \(0%\); 66% needed"):
        ak.next(project.id, failer)
    assert_db_unchanged(before, db_state(runtime))
    workers = ak.workers_of(project.id)
    assert workers[passer.user_id].qualification == "passed" and workers[passer.user_id].qualified
    assert workers[failer.user_id].qualification == "failed" and "0 of 3" in workers[failer.user_id].qualification_reason
    assert workers[failer.user_id].gold_answers == 3 and workers[failer.user_id].skill_wrong == 4.0
    with runtime.session() as session:
        entries = audit.list_entries(session, world.operator.actor, action="annotation.worker.qualification").items
    assert sorted(e.detail["result"] for e in entries) == ["failed", "passed"]


def test_a_qualification_task_left_to_expire_counts_as_wrong(ak, runtime, world):
    quals = [record_id(0), record_id(1)]
    project = ak.project(gold={r: TRUTH[r] for r in quals}, qualification_items=quals, qualification_pass_rate=1.0)
    [worker] = ak.workers(1)
    ak.join(project.id, worker)
    task = ak.next(project.id, worker)
    ak.answer(task.id, worker, TRUTH[task.record_id])
    ak.expire(ak.next(project.id, worker).id)
    with pytest.raises(Forbidden, match="1 of 2 .* 1 left to expire unanswered"):
        ak.next(project.id, worker)


def test_adaptive_overlap_stops_early_on_agreement_and_goes_to_max_on_disagreement(ak, runtime, world):
    project = ak.project(adaptive=True, overlap=3, max_overlap=5, confidence_threshold=0.95)
    workers = ak.workers(5)
    ak.join(project.id, *workers)

    def choose(actor, task):
        if int(task.record_id[1:]) % 2 == 0:
            return TRUTH[task.record_id]  # everyone agrees
        return LABELS[ak.item_answers(project.id)[task.record_id] % 3]  # each answer differs from the last

    ak.work(project.id, workers, choose)
    answers = ak.item_answers(project.id)
    # two agreeing workers of presumed accuracy 0.8 over 3 labels: posterior 0.64/0.66 = 0.97
    assert {answers[record_id(i)] for i in range(0, N_TEXTS, 2)} == {2}
    assert {answers[record_id(i)] for i in range(1, N_TEXTS, 2)} == {5}
    assert ak.get(project.id).items_done == N_TEXTS
    with runtime.session() as session:
        item = session.scalar(sa.select(AnnotationItem).where(AnnotationItem.project_id == project.id, AnnotationItem.record_id == record_id(0)))
        assert item.state == "done" and item.confidence >= 0.95 and max(item.posterior, key=item.posterior.get) == TRUTH[record_id(0)]


def test_non_adaptive_projects_use_the_fixed_overlap(ak, runtime, world):
    project = ak.project(adaptive=False, overlap=2, max_overlap=5)
    workers = ak.workers(4)
    ak.join(project.id, *workers)
    ak.work(project.id, workers, truthful)
    assert set(ak.item_answers(project.id).values()) == {2}


def test_an_expired_task_frees_its_item_and_cannot_be_answered(ak, runtime, world):
    project = ak.project(adaptive=False, overlap=1, max_overlap=1)
    slow, other, third = ak.workers(3)
    ak.join(project.id, slow, other, third)
    held = ak.next(project.id, slow)
    assert held.record_id == record_id(0)
    assert ak.next(project.id, other).record_id == record_id(1)  # item 0 is in flight: it counts
    ak.expire(held.id)
    assert ak.next(project.id, third).record_id == record_id(0)  # freed
    before = db_state(runtime)
    with pytest.raises(Conflict, match="expired"):
        ak.answer(held.id, slow, "positive")
    assert_db_unchanged(before, db_state(runtime))
    assert ak.next(project.id, slow).record_id == record_id(2)  # never the same item again


def test_concurrent_workers_never_push_an_item_past_its_overlap(ak, runtime, world):
    project = ak.project(adaptive=False, overlap=2, max_overlap=2)
    workers = ak.workers(4)
    ak.join(project.id, *workers)
    errors = []
    start = threading.Barrier(len(workers))

    def run(actor):
        try:
            start.wait()
            while (task := ak.next(project.id, actor)) is not None:
                ak.answer(task.id, actor, TRUTH[task.record_id])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    assert ak.item_answers(project.id) == {record_id(i): 2 for i in range(N_TEXTS)}


def test_spam_flags_are_recorded_with_reasons_and_weigh_zero(ak, runtime, world):
    project = ak.project(adaptive=False, overlap=3, max_overlap=3, min_seconds=2.0)
    honest, fast, constant = ak.workers(3)
    ak.join(project.id, honest, fast, constant)
    stopped = {}
    for _ in range(9):
        for actor, value, seconds in [(honest, None, 6.0), (fast, None, 0.3), (constant, "positive", 5.0)]:
            try:
                task = ak.next(project.id, actor)
            except Forbidden as refused:
                stopped[actor.user_id] = str(refused)
                continue
            ak.answer(task.id, actor, value or TRUTH[task.record_id], seconds=seconds)
    # A worker flagged too fast gets no more tasks, and is told why; one flagged only for
    # constant answers keeps working (an honest run of one label happens on skewed data).
    assert list(stopped) == [fast.user_id] and "median answer time" in stopped[fast.user_id]
    workers = ak.workers_of(project.id)
    assert workers[honest.user_id].flags == [] and workers[honest.user_id].weight > 0
    [too_fast] = workers[fast.user_id].flags
    assert too_fast.code == "too_fast" and "0.3" in too_fast.reason and "2" in too_fast.reason
    assert workers[fast.user_id].weight == 0.0
    assert [f.code for f in workers[constant.user_id].flags] == ["constant"]
    assert "positive" in workers[constant.user_id].flags[0].reason and workers[constant.user_id].weight == 0.0
    with runtime.session() as session:
        entries = audit.list_entries(session, world.operator.actor, action="annotation.worker.flags").items
    assert {e.detail["user_id"] for e in entries} == {fast.user_id, constant.user_id}
    # flagged workers' answers do not count towards an item's overlap
    with runtime.session() as session:
        counted = dict(session.execute(sa.select(AnnotationItem.record_id, AnnotationItem.answers).where(AnnotationItem.project_id == project.id)).all())
    assert sum(counted.values()) == 9
    assert workers[fast.user_id].answers == 5  # flagged after its fifth answer, then stopped


def test_bad_submissions_get_clear_errors_and_change_nothing(ak, runtime, world):
    project = ak.project()
    other_project = ak.project(name="other")
    owner, intruder = ak.workers(2)
    outsider = ak.worker("b")
    ak.join(project.id, owner, intruder)
    ak.join(other_project.id, owner)
    task = ak.next(project.id, owner)
    done = ak.next(other_project.id, owner)
    ak.answer(done.id, owner, "positive")
    before = db_state(runtime)
    cases = [
        (lambda: ak.answer(task.id, owner, "joyful"), Invalid, "unknown label 'joyful'"),
        (lambda: ak.answer(task.id, owner, ["positive"]), Invalid, "must be a label string"),
        (lambda: ak.answer(task.id, owner, "positive", project_id=other_project.id), NotFound, "annotation task"),
        (lambda: ak.answer("ant_nope", owner, "positive"), NotFound, "annotation task"),
        (lambda: ak.answer(task.id, intruder, "positive"), Forbidden, "assigned to another worker"),
        (lambda: ak.answer(done.id, owner, "negative"), Conflict, "already been answered"),
        (lambda: ak.next(project.id, outsider), Conflict, "join it first"),
        (lambda: ak.next("anp_nope", owner), NotFound, "anp_nope"),
    ]
    for call, error, message in cases:
        with pytest.raises(error, match=message):
            call()
        assert_db_unchanged(before, db_state(runtime))
    assert ak.answer(task.id, owner, "positive").record_id == task.record_id


def test_answers_and_assignments_are_audited(ak, runtime, world):
    project = ak.project()
    [worker] = ak.workers(1)
    ak.join(project.id, worker)
    task = ak.next(project.id, worker)
    answer = ak.answer(task.id, worker, "positive")
    with runtime.session() as session:
        actions = Counter(e.action for e in audit.list_entries(session, world.a_admin.actor, limit=200).items)
        [entry] = audit.list_entries(session, world.a_admin.actor, resource_id=answer.id).items
    assert actions["annotation.task.assign"] == 1 and actions["annotation.answer"] == 1 and actions["annotation.worker.join"] == 1
    assert entry.detail["task_id"] == task.id and entry.actor_user_id == worker.user_id
