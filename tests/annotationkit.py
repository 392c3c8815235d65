"""Helpers for annotation tests: a small text dataset with known truth, extra workers, and one
call per service step (each in its own transaction, as the API and CLI make them)."""

from __future__ import annotations

import random

import sqlalchemy as sa
from datakit import DataKit, png, zip_bytes

from aicommons import data
from aicommons.core.errors import Forbidden
from aicommons.core.identity import actor_for_user_id, create_user
from aicommons.core.schemas import UserCreate
from aicommons.data import annotation
from aicommons.data.annotation.tables import AnnotationItem, AnnotationTask

LABELS = ["positive", "negative", "neutral"]
N_TEXTS = 30
WORDS = {"positive": "wonderful, would buy again", "negative": "broken on arrival, refund please", "neutral": "arrived on a Tuesday"}


def truth_label(index: int) -> str:
    return LABELS[index % 3]


def record_id(index: int) -> str:
    return f"r{index:08d}"


def texts_csv(n: int = N_TEXTS) -> bytes:
    """`n` unlabelled reviews; record i (id r0000000i) is truly LABELS[i % 3]."""
    lines = ["text"] + [f'"Review {i}: {WORDS[truth_label(i)]}"' for i in range(n)]
    return "\n".join(lines).encode()


TRUTH = {record_id(i): truth_label(i) for i in range(N_TEXTS)}


class Crowd:
    """Workers by profile: "reliable" (right 95% of the time), "noisy" (60%), "spammer" (always
    "positive", in half a second). Answers are seeded by worker and record: the same every run."""

    ACCURACY = {"reliable": 0.95, "noisy": 0.6}

    def __init__(self, profiles: dict[str, str], seed: int = 0):
        self.profiles = profiles  # user id -> profile
        self.seed = seed

    def choose(self, actor, task):
        profile = self.profiles[actor.user_id]
        if profile == "spammer":
            return "positive"
        truth = TRUTH[task.record_id]
        rng = random.Random(f"{self.seed}:{actor.email}:{task.record_id}")
        if rng.random() < self.ACCURACY[profile]:
            return truth
        return rng.choice([label for label in LABELS if label != truth])

    def seconds(self, actor):
        return 0.5 if self.profiles[actor.user_id] == "spammer" else 6.0


class AnnotationKit:
    """Org A owns the data and the project (a_admin creates it, a_member reviews); workers come
    from org A and org B."""

    def __init__(self, runtime, world):
        self.runtime = runtime
        self.world = world
        self.data = DataKit(runtime, world.a_member.actor)
        self.owner = world.a_admin.actor
        self.reviewer = world.a_member.actor
        self._version = None
        self._extra = 0

    # --- data and people ---

    def text_version(self):
        if self._version is None:
            self._version = self.data.imported(self.data.dataset("reviews").id, "reviews.csv", texts_csv(), label_field=None)
        return self._version

    def image_version(self, n: int = 4):
        images = {f"img{i}.png": png((40 * i, 90, 160), size=(32, 24)) for i in range(n)}
        return self.data.imported(self.data.dataset("photos", "image").id, "photos.zip", zip_bytes(images))

    def worker(self, org: str = "b"):
        """A new member of org A or B."""
        self._extra += 1
        org_id = self.world.org_a if org == "a" else self.world.org_b
        with self.runtime.session() as session:
            user = create_user(session, self.world.operator.actor, UserCreate(email=f"worker{self._extra}@{org}.test", org_id=org_id))
            return actor_for_user_id(session, user.id)

    def workers(self, n: int):
        """The four world members (two per org), then new org-B members."""
        w = self.world
        base = [w.a_member.actor, w.b_member.actor, w.a_admin.actor, w.b_admin.actor]
        return base[:n] + [self.worker("b") for _ in range(max(0, n - len(base)))]

    # --- service steps ---

    def project(self, *, version=None, actor=None, **spec):
        spec.setdefault("name", "sentiment")
        spec.setdefault("schema", {"kind": "single", "labels": LABELS})
        spec.setdefault("gold_rate", 0.0)
        version = version or self.text_version()
        with self.runtime.session() as session:
            return annotation.create_project(
                session, actor or self.owner, annotation.ProjectCreate(dataset_version_id=version.id, **spec),
                cache=data.manifest_cache(self.runtime),
            )

    def get(self, project_id, actor=None):
        with self.runtime.session() as session:
            return annotation.get_project(session, actor or self.owner, project_id)

    def join(self, project_id, *actors):
        with self.runtime.session() as session:
            return [annotation.join_project(session, a, project_id) for a in actors]

    def next(self, project_id, actor):
        with self.runtime.session() as session:
            return annotation.next_task(session, actor, project_id)

    def answer(self, task_id, actor, value, seconds=5.0, **kwargs):
        with self.runtime.session() as session:
            return annotation.submit_answer(session, actor, task_id, annotation.AnswerSubmit(value=value, seconds=seconds), **kwargs)

    def workers_of(self, project_id):
        with self.runtime.session() as session:
            return {w.user_id: w for w in annotation.list_workers(session, self.owner, project_id)}

    def work(self, project_id, actors, choose, *, seconds=5.0, rounds=1000):
        """Let the workers take turns until none gets a task; `choose(actor, task)` answers,
        `seconds` is a number or `seconds(actor)`. Returns the tasks each worker got, in order."""
        got = {a.user_id: [] for a in actors}
        self.paused: dict[str, str] = {}
        active = list(actors)
        for _ in range(rounds):
            if not active:
                break
            for actor in list(active):
                try:
                    task = self.next(project_id, actor)
                except Forbidden as stopped:  # flagged too fast or for low gold accuracy: no more tasks
                    self.paused[actor.user_id] = str(stopped)
                    task = None
                if task is None:
                    active.remove(actor)
                    continue
                got[actor.user_id].append(task)
                self.answer(task.id, actor, choose(actor, task), seconds=seconds(actor) if callable(seconds) else seconds)
        return got

    def aggregate(self, project_id, method=None, actor=None):
        with self.runtime.session() as session:
            job = annotation.start_aggregation(session, actor or self.owner, project_id, annotation.AggregateParams(method=method))
        return self.data.run(job)

    def results(self, project_id, **kwargs):
        items, cursor = [], None
        while True:
            with self.runtime.session() as session:
                page = annotation.list_results(session, self.owner, project_id, limit=200, cursor=cursor, **kwargs)
            items += page.items
            if page.next_cursor is None:
                return {r.record_id: r for r in items}
            cursor = page.next_cursor

    def review(self, project_id, record, decision, value=None, actor=None):
        with self.runtime.session() as session:
            return annotation.review_result(
                session, actor or self.reviewer, project_id, record, annotation.ReviewDecision(decision=decision, value=value)
            )

    def publish(self, project_id, actor=None):
        with self.runtime.session() as session:
            return annotation.publish_results(session, self.runtime.blobs, actor or self.reviewer, project_id, cache=data.manifest_cache(self.runtime))

    # --- looking inside ---

    def item_answers(self, project_id) -> dict[str, int]:
        """Answers per record, all workers counted (from the answers table)."""
        from aicommons.data.annotation.tables import AnnotationAnswer

        with self.runtime.session() as session:
            rows = session.execute(
                sa.select(AnnotationItem.record_id, sa.func.count(AnnotationAnswer.id))
                .outerjoin(AnnotationAnswer, AnnotationAnswer.item_id == AnnotationItem.id)
                .where(AnnotationItem.project_id == project_id, AnnotationItem.is_gold.is_(False))
                .group_by(AnnotationItem.record_id)
            ).all()
        return dict(rows)

    def expire(self, task_id):
        """Move a task's expiry into the past, as if ten minutes had gone by."""
        import datetime as dt

        with self.runtime.session() as session:
            task = session.get(AnnotationTask, task_id)
            task.assigned_at -= dt.timedelta(minutes=11)
            task.expires_at -= dt.timedelta(minutes=11)
