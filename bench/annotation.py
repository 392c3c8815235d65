"""Annotation: label accuracy for labels spent, on simulated crowds over real ground truth.

The digits (1,797 images, 10 labels) and a sample of the Chinese review-sentiment corpus (2
labels) keep their true labels; a seeded crowd of workers with Dawid-Skene confusion matrices —
reliable, noisy, biased and spamming, in the mix `simulation.DEFAULT_MIX` — labels them. For the
same crowd in the same run:

- the peer: majority vote at a fixed overlap of 3 and of 5 labels per item (each item labelled by
  that many distinct workers drawn at random), aggregated with crowd-kit's MajorityVote;
- ours: a project with the platform's defaults (adaptive overlap, gold items mixed in, spam
  flags, the project's aggregator), worked through the service functions the API calls: each
  step a random worker asks for its next task and answers it as its confusion matrix says.

Labels spent count every answer, gold included. Goal: our accuracy on the non-gold items at
least majority vote's at overlap 5, with at most 60% of its labels.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).parent))
from reporting import Figure, arguments, report  # noqa: E402

from aicommons import data  # noqa: E402
from aicommons.core.config import Settings  # noqa: E402
from aicommons.core.home import init_home  # noqa: E402
from aicommons.core.identity import actor_for_user_id, create_org, create_user, local_operator  # noqa: E402
from aicommons.core.jobs import get_job  # noqa: E402
from aicommons.core.jobs.worker import WorkerLoop  # noqa: E402
from aicommons.core.runtime import Runtime  # noqa: E402
from aicommons.core.schemas import OrgCreate, OrgRole, UserCreate  # noqa: E402
from aicommons.data import annotation  # noqa: E402
from aicommons.data.annotation.aggregation import aggregate  # noqa: E402
from aicommons.data.annotation.simulation import Crowd  # noqa: E402
from aicommons.data.builtin_datasets import chinese_reviews, digits  # noqa: E402
from aicommons.data.manifest import build_table  # noqa: E402
from aicommons.data.versions import write_version  # noqa: E402

WORKERS = 40
GOLD_SHARE = 0.03  # of the items, with known answers the project owner supplies


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def peer(crowd: Crowd, truth: dict[str, str], items: list[str], overlap: int, seed: int) -> tuple[float, int]:
    answers = crowd.answers(truth, overlap, seed=seed)
    voted = {a.item: a.value for a in aggregate("single", answers, method="mv", labels=list(crowd.labels), seed=seed)}
    return float(np.mean([voted[i] == truth[i] for i in items])), len(answers)


class Platform:
    """A throw-away home with an owner org and one user per simulated worker."""

    def __init__(self, folder: Path):
        settings = Settings(home=folder / "home", workers=0, builtin_datasets=False)
        init_home(settings)
        self.runtime = Runtime.from_settings(settings)
        with self.runtime.session() as session:
            operator = local_operator(session)
            owner_org = create_org(session, operator, OrgCreate(name="Label Owner", kind="enterprise"))
            crowd_org = create_org(session, operator, OrgCreate(name="Crowd", kind="enterprise"))
            owner = create_user(session, operator, UserCreate(email="owner@owner.example", org_id=owner_org.id, org_role=OrgRole.admin))
            self.owner = actor_for_user_id(session, owner.id)
            self.crowd_org = crowd_org.id
            self.operator = operator
        self.users: dict[str, Any] = {}

    def worker(self, worker_id: str) -> Any:
        if worker_id not in self.users:
            with self.runtime.session() as session:
                user = create_user(session, self.operator, UserCreate(email=f"{worker_id}@crowd.example", org_id=self.crowd_org))
                self.users[worker_id] = actor_for_user_id(session, user.id)
        return self.users[worker_id]

    def dataset_version(self, name: str, modality: str, table: pa.Table) -> str:
        with self.runtime.session() as session:
            dataset = data.create_dataset(session, self.owner, data.DatasetCreate(name=name, modality=modality))
            return write_version(session, self.runtime.blobs, self.owner, dataset.id, table, operation="import", parameters={}).id

    def run_jobs(self) -> None:
        worker = WorkerLoop(self.runtime, "bench-annotation")
        while worker.run_one():
            pass


def ours(platform: Platform, crowd: Crowd, name: str, modality: str, table: pa.Table, truth: dict[str, str], gold: dict[str, str], seed: int) -> tuple[dict[str, str], int, dict[str, Any]]:
    version_id = platform.dataset_version(name, modality, table)
    with platform.runtime.session() as session:
        project = annotation.create_project(session, platform.owner, annotation.ProjectCreate(
            name=name, dataset_version_id=version_id, schema=annotation.LabelSchema(kind="single", labels=list(crowd.labels)),
            gold=gold, visibility="public",
        ), cache=data.manifest_cache(platform.runtime))
    rng = np.random.default_rng(seed)
    active = [w.id for w in crowd.workers]
    for worker_id in active:
        with platform.runtime.session() as session:
            annotation.join_project(session, platform.worker(worker_id), project.id)
    spent = 0
    started = time.perf_counter()
    while active:
        worker_id = active[int(rng.integers(len(active)))]
        actor = platform.worker(worker_id)
        try:
            with platform.runtime.session() as session:
                task = annotation.next_task(session, actor, project.id)
        except Exception as refused:  # a worker the platform stopped (failed qualification): out of the crowd
            log(f"{worker_id} refused: {refused}")
            task = None
        if task is None:
            active.remove(worker_id)
            continue
        label, seconds = crowd.worker(worker_id).answer(truth[task.record_id], rng)
        with platform.runtime.session() as session:
            annotation.submit_answer(session, actor, task.id, annotation.AnswerSubmit(value=label, seconds=seconds))
        spent += 1
        if spent % 1000 == 0:
            log(f"{name}: {spent} labels, {time.perf_counter() - started:.0f} s")
    with platform.runtime.session() as session:
        job = annotation.start_aggregation(session, platform.owner, project.id, annotation.AggregateParams())
    platform.run_jobs()
    with platform.runtime.session() as session:
        finished = get_job(session, platform.owner, job.id)
        assert finished.status == "succeeded", finished.error
        results: dict[str, str] = {}
        cursor = None
        while True:
            page = annotation.list_results(session, platform.owner, project.id, limit=200, cursor=cursor)
            results.update({r.record_id: r.value for r in page.items})
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        workers = annotation.list_workers(session, platform.owner, project.id)
        final = annotation.get_project(session, platform.owner, project.id)
    kind_of = {actor.user_id: crowd.worker(worker_id).kind for worker_id, actor in platform.users.items()}
    flagged: dict[str, int] = {}
    for w in workers:
        if w.flags:
            flagged[kind_of[w.user_id]] = flagged.get(kind_of[w.user_id], 0) + 1
    return results, spent, {"flagged": flagged, "project": final}


def digits_case(blobs: Any) -> tuple[pa.Table, dict[str, str]]:
    table = build_table(digits(blobs))
    return table, dict(zip(table["record_id"].to_pylist(), map(str, table["label"].to_pylist()), strict=True))


def reviews_case(blobs: Any, count: int, seed: int) -> tuple[pa.Table, dict[str, str]]:
    table = build_table(chinese_reviews(blobs))
    table = table.take(np.sort(np.random.default_rng(seed).permutation(table.num_rows)[:count]))
    return table, dict(zip(table["record_id"].to_pylist(), map(str, table["label"].to_pylist()), strict=True))


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reviews", type=int, default=1500, help="Review-sentiment items to label.")
    args = parser.parse_args()
    figures: list[Figure] = []
    details: list[str] = []
    with tempfile.TemporaryDirectory(prefix="aicommons-bench-annotation-") as folder:
        platform = Platform(Path(folder))
        for name, modality, (table, truth) in (
            ("digits", "image", digits_case(platform.runtime.blobs)),
            ("review-sentiment", "text", reviews_case(platform.runtime.blobs, args.reviews, args.seed)),
        ):
            labels = sorted(set(truth.values()))
            crowd = Crowd.draw(WORKERS, labels, seed=args.seed)
            rng = np.random.default_rng(args.seed)
            gold_ids = sorted(rng.choice(sorted(truth), size=max(5, int(GOLD_SHARE * len(truth))), replace=False).tolist())
            gold = {record: truth[record] for record in gold_ids}
            items = sorted(set(truth) - set(gold))
            mv3, spent3 = peer(crowd, truth, items, 3, args.seed)
            mv5, spent5 = peer(crowd, truth, items, 5, args.seed)
            log(f"{name}: {len(truth)} items, {len(gold)} gold; MV@3 {mv3:.4f} ({spent3} labels), MV@5 {mv5:.4f} ({spent5} labels)")
            started = time.perf_counter()
            results, spent, extra = ours(platform, crowd, f"bench-{name}", modality, table, truth, gold, args.seed)
            accuracy = float(np.mean([results.get(i) == truth[i] for i in items]))
            log(f"{name}: ours {accuracy:.4f} with {spent} labels in {time.perf_counter() - started:.0f} s; flagged workers by kind {extra['flagged']}")
            figures += [
                Figure(f"{name}: accuracy, ours vs majority vote at overlap 5", "", accuracy, mv5, f">= {mv5:.4f}"),
                Figure(f"{name}: accuracy, ours vs majority vote at overlap 3", "", accuracy, mv3, f">= {mv3:.4f}"),
                Figure(f"{name}: labels spent, ours vs majority vote at overlap 5", "labels", spent, spent5, f"<= {0.6 * spent5:.0f}", higher_is_better=False),
            ]
            agreement = getattr(extra["project"], "agreement", None)
            kinds = {kind: len(crowd.by_kind(kind)) for kind in ("reliable", "noisy", "biased", "spammer")}
            details.append(f"{name}: {len(truth)} items ({len(gold)} gold), workers {kinds}, flagged {extra['flagged']}; "
                           f"ours {spent / len(truth):.2f} labels per item; MV@3 {spent3}, MV@5 {spent5} labels; agreement {agreement}")
        platform.runtime.close()
    report("Annotation: aicommons' default project vs majority vote at fixed overlap, same simulated crowd", "majority vote", figures, args.json)
    for line in details:
        print(line)


if __name__ == "__main__":
    main()
