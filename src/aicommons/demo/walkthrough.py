"""The lifecycle, walked end to end on built-in data, as an enterprise and a platform reviewer would.

import the built-in datasets → clean and de-identify the review corpus → train the digits CNN and
the sentiment model → compress both → evaluate → file (as the applicant) → approve (as a reviewer)
→ deploy → predict → seed the observatory (sample enterprises and statistics) and bill the demo's
compute to its vouchers → City Brain: a generated road grid as a traffic dataset, fixed time and
max pressure simulated on it, and a learned controller trained on it and run beside them. Every stage calls the same service functions as the API and the CLI, and
long stages are ordinary jobs, run here by an in-process worker so the demo needs no server.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

from aicommons import compute, data, evaluation, filing, models, serving
from aicommons.core import identity
from aicommons.core.errors import Invalid, NotFound
from aicommons.core.home import DEMO_ORG_NAME, DEMO_USER_EMAIL
from aicommons.core.jobs import get_job
from aicommons.core.jobs.worker import WorkerLoop
from aicommons.core.permissions import Actor
from aicommons.core.runtime import Runtime
from aicommons.core.schemas import JobRead, OrgCreate, OrgKind, OrgRole, UserCreate, Visibility
from aicommons.core.tables import Org, User
from aicommons.data.builtin_datasets import publish_builtin_datasets
from aicommons.data.versions import write_version
from aicommons.observatory import enterprises, statistics

REVIEWER_EMAIL = "reviewer@aicommons.local"
REVIEWER_ORG = "aicommons Filing Office"
# Rows of the review corpus the sentiment model trains on: enough for a real model, small enough
# for the demo's three-minute budget on two cores.
REVIEW_SAMPLE = 6000

Progress = Callable[[str, float, str], None]  # stage key, fraction, message


@dataclass
class StageResult:
    key: str
    title: str
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


STAGES = [
    ("datasets", "Import the built-in datasets"),
    ("clean", "Clean and de-identify the review corpus"),
    ("train", "Train the digits CNN and the sentiment model"),
    ("compress", "Compress the CNN to int8"),
    ("evaluate", "Evaluate (accuracy, robustness, privacy, efficiency)"),
    ("file", "File the CNN (as the applicant)"),
    ("approve", "Approve the filing (as a reviewer)"),
    ("deploy", "Deploy a public endpoint"),
    ("predict", "Predict through the endpoint"),
    ("observatory", "Seed the observatory and bill the demo's compute"),
    ("citybrain", "City Brain: simulate signal controllers and train one"),
]
# The City Brain stage's grid and simulated seconds per episode: seconds of SUMO on two cores.
GRID_SIZE, GRID_DURATION, GRID_TRAINING_EPISODES = 3, 600.0, 2


class Walkthrough:
    def __init__(self, runtime: Runtime, progress: Progress | None = None):
        self.runtime = runtime
        self.progress = progress or (lambda key, fraction, message: None)
        self.results: list[StageResult] = []
        self.facts: dict[str, Any] = {}
        self._stage = ""

    # --- running ----------------------------------------------------------------------------

    @staticmethod
    def walked_before(runtime: Runtime) -> bool:
        """Whether this home already holds the demo's outcome: a model of the demo org in the registry."""
        with runtime.session() as session:
            return bool(filing.search_registry(session, org=DEMO_ORG_NAME, status="approved", limit=1).items)

    def run(self, *, stop_after: str | None = None) -> list[StageResult]:
        """Walk the stages in order (up to and including `stop_after`), each timed."""
        if stop_after is not None and stop_after not in dict(STAGES):
            raise Invalid(f"Unknown demo stage {stop_after!r}; stages: {', '.join(k for k, _ in STAGES)}.")
        stop = threading.Event()
        worker = threading.Thread(target=WorkerLoop(self.runtime, f"demo-{time.time_ns()}").run, args=(stop,), daemon=True)
        worker.start()
        try:
            self.applicant, self.reviewer, self.operator = self._actors()
            for key, title in STAGES:
                self._stage = key
                started = time.perf_counter()
                self.progress(key, 0.0, "starting")
                detail = getattr(self, f"_{key}")()
                self.progress(key, 1.0, "done")
                self.results.append(StageResult(key, title, time.perf_counter() - started, detail))
                if key == stop_after:
                    break
        finally:
            stop.set()
            worker.join(timeout=30)
        return self.results

    def _wait(self, job: JobRead, share: tuple[float, float] = (0.0, 1.0)) -> JobRead:
        """Follow a job the in-process worker runs; fail the demo, naming the job, if it fails."""
        low, high = share
        while True:
            with self.runtime.session() as session:
                job = get_job(session, self.applicant, job.id)
            self.progress(self._stage, low + (high - low) * job.progress, f"{job.type}: {job.message}")
            if job.status in ("succeeded", "failed", "cancelled"):
                break
            time.sleep(0.2)
        if job.status != "succeeded":
            raise RuntimeError(f"The demo's job {job.id} ({job.type}) {job.status}: {job.error or job.message}")
        return job

    def _actors(self) -> tuple[Actor, Actor, Actor]:
        with self.runtime.session() as session:
            operator = identity.local_operator(session)
            publish_builtin_datasets(session, self.runtime, operator)
            org_id = session.scalar(sa.select(Org.id).where(Org.name == DEMO_ORG_NAME))
            if org_id is None:
                org_id = identity.create_org(session, operator, OrgCreate(name=DEMO_ORG_NAME, kind=OrgKind.enterprise, visibility=Visibility.public)).id
            applicant_id = session.scalar(sa.select(User.id).where(User.email == DEMO_USER_EMAIL))
            if applicant_id is None:
                applicant_id = identity.create_user(session, operator, UserCreate(email=DEMO_USER_EMAIL, org_id=org_id, org_role=OrgRole.admin, display_name="Demo engineer")).id
            office_id = session.scalar(sa.select(Org.id).where(Org.name == REVIEWER_ORG))
            if office_id is None:
                office_id = identity.create_org(session, operator, OrgCreate(name=REVIEWER_ORG, kind=OrgKind.government)).id
            reviewer_id = session.scalar(sa.select(User.id).where(User.email == REVIEWER_EMAIL))
            if reviewer_id is None:
                reviewer_id = identity.create_user(
                    session, operator, UserCreate(email=REVIEWER_EMAIL, org_id=office_id, platform_roles=["reviewer"], display_name="Filing reviewer")
                ).id
            return identity.actor_for_user_id(session, applicant_id), identity.actor_for_user_id(session, reviewer_id), operator

    # --- stages -----------------------------------------------------------------------------

    def _datasets(self) -> dict[str, Any]:
        """The enterprise's own copies of the public digits and review datasets (a sample of the
        reviews), each a new version with the public version as its source."""
        copies = {}
        for name, public_name, sample in (("demo-digits", "sklearn-digits", None), ("demo-reviews", "chinese-review-sentiment", REVIEW_SAMPLE)):
            with self.runtime.session() as session:
                public = data.find_dataset(session, self.operator, public_name)
                source = data.resolve_version(session, self.operator, public.id, None)
                table = data.read_version_table(session, data.manifest_cache(self.runtime), self.applicant, source.id)
                if sample is not None and table.num_rows > sample:
                    table = table.take(np.sort(np.random.default_rng(0).permutation(table.num_rows)[:sample]))
                modality = "image" if name == "demo-digits" else "text"
                try:
                    dataset = data.find_dataset(session, self.applicant, name)
                except NotFound:
                    dataset = data.create_dataset(session, self.applicant, data.DatasetCreate(name=name, modality=modality, description=f"A copy of {public_name}."))
                version = write_version(
                    session, self.runtime.blobs, self.applicant, dataset.id, table,
                    operation="import", parameters={"source_version_id": source.id, "sample": sample},
                )
            copies[name] = version.id
            self.progress(self._stage, 0.5, f"{name}: {version.record_count:,} records")
        self.facts.update(digits_version=copies["demo-digits"], reviews_version=copies["demo-reviews"])
        return {"records": {n: _records(self.runtime, self.applicant, v) for n, v in copies.items()}}

    def _clean(self) -> dict[str, Any]:
        with self.runtime.session() as session:
            job = data.start_clean(session, self.applicant, self.facts["reviews_version"], data.CleanParams(operation="dedup"))
        cleaned = self._wait(job, (0.0, 0.5)).result["version_id"]
        with self.runtime.session() as session:
            job = data.start_deid(session, self.applicant, cleaned, data.DeidParams(fields=["text"]))
        deidentified = self._wait(job, (0.5, 1.0)).result["version_id"]
        self.facts["reviews_clean_version"] = deidentified
        before = _records(self.runtime, self.applicant, self.facts["reviews_version"])
        after = _records(self.runtime, self.applicant, deidentified)
        return {"records_before": before, "records_after": after, "duplicates_removed": before - _records(self.runtime, self.applicant, cleaned)}

    def _train(self) -> dict[str, Any]:
        specs = (
            ("demo-digits-cnn", "image-classification", self.facts["digits_version"], "image-cnn"),
            ("demo-sentiment", "text-classification", self.facts["reviews_clean_version"], "text-tfidf"),
        )
        detail = {}
        for index, (name, task, dataset_version_id, recipe) in enumerate(specs):
            with self.runtime.session() as session:
                model = _model(session, self.applicant, name, task)
                job = models.start_training(session, self.applicant, model.id, models.TrainParams(dataset_version_id=dataset_version_id, recipe=recipe, seed=0))
            done = self._wait(job, (index / 2, (index + 1) / 2))
            self.facts[name] = done.result["version_id"]
            detail[name] = done.result.get("metrics", {}).get("accuracy")
        return {"accuracy": detail}

    def _compress(self) -> dict[str, Any]:
        """Static int8 for the CNN, calibrated on its training data. The sentiment model is a
        sparse TF-IDF linear model: it has no MatMul or Conv weights for int8 to shrink, so it is
        served as trained."""
        with self.runtime.session() as session:
            job = models.start_compression(session, self.applicant, self.facts["demo-digits-cnn"], models.CompressParams(method="int8-static"))
        done = self._wait(job)
        self.facts["demo-digits-cnn-int8"] = done.result["version_id"]
        deltas = done.result["comparison"]
        return {"demo-digits-cnn": {"method": "int8-static", "size_ratio": deltas.get("size_ratio"), "speedup_b32": deltas.get("speedup_b32"), "accuracy_points": deltas.get("accuracy_points")}}

    def _evaluate(self) -> dict[str, Any]:
        detail = {}
        for index, name in enumerate(("demo-digits-cnn-int8", "demo-sentiment")):
            with self.runtime.session() as session:
                run = evaluation.start_evaluation(session, self.applicant, evaluation.EvaluationCreate(version_id=self.facts[name], suite="default"))
            self._wait(_job_of(run), (index / 2, (index + 1) / 2))
            with self.runtime.session() as session:
                run = evaluation.get_evaluation(session, self.applicant, run.id)
            self.facts[f"{name}-evaluation"] = run.id
            detail[name] = {r.name: r.status for r in run.results}
        return detail

    def _file(self) -> dict[str, Any]:
        return filing_stage(self)

    def _approve(self) -> dict[str, Any]:
        return approval_stage(self)

    def _deploy(self) -> dict[str, Any]:
        with self.runtime.session() as session:
            version = models.get_version(session, self.applicant, self.facts["demo-digits-cnn-int8"])
            name = f"demo-digits-{version.model_id[-6:].lower()}-v{version.number}"
            existing = {e.name for e in serving.list_endpoints(session, self.applicant)}
            if name not in existing:
                serving.deploy(session, self.applicant, serving.EndpointCreate(name=name, model_id=version.model_id, version=str(version.number), visibility="public"))
        self.facts["endpoint"] = name
        return {"endpoint": name, "visibility": "public"}

    def _predict(self) -> dict[str, Any]:
        """Ten digits sent as PNG files by a user of another org: the endpoint is public because the
    version it serves is filed."""
        with self.runtime.session() as session:
            table = data.read_version_table(session, data.manifest_cache(self.runtime), self.applicant, self.facts["digits_version"])
        images = [self.runtime.blobs.read_bytes(sha) for sha in table["file_sha256"].to_pylist()[:10]]
        labels = table["label"].to_pylist()[:10]
        host = serving.EndpointHost(self.runtime)
        try:
            answer = asyncio.run(host.predict_as(self.reviewer, self.facts["endpoint"], serving.Payload(instances=images)))
        finally:
            host.close()
        predicted = [row["label"] for row in answer.predictions]
        return {"correct": sum(str(p) == str(t) for p, t in zip(predicted, labels, strict=True)), "of": len(labels), "caller": REVIEWER_EMAIL}

    def _observatory(self) -> dict[str, Any]:
        return observatory_stage(self)

    def _citybrain(self) -> dict[str, Any]:
        return citybrain_stage(self)


def _job_of(run: evaluation.EvaluationRead) -> JobRead:
    return JobRead.model_construct(id=run.job_id)


def _records(runtime: Runtime, actor: Actor, version_id: str) -> int:
    with runtime.session() as session:
        return data.get_version(session, actor, version_id).record_count


def _model(session: Any, actor: Actor, name: str, task: str) -> models.ModelRead:
    try:
        return models.find_model(session, actor, name)
    except NotFound:
        return models.create_model(session, actor, models.ModelCreate(name=name, task=task, licence="Apache-2.0", description=f"The demo's {task} model."))


# The demo applicant's answers to the ethics checklist: one evidence document (the evaluation
# report the platform just produced) backs the items that require evidence.
DEMO_ANSWERS = {
    "intended-use": "Reading handwritten digits (0–9) on scanned forms; not for identity or legal decisions.",
    "affected-groups": "People whose forms are scanned; misreads delay their forms, they are not denied anything.",
    "human-oversight": "Every form whose top-class probability is under 0.9 goes to a clerk; clerks audit 1% of the rest.",
    "data-sources-consent": "UCI handwritten digits (BSD-3-Clause), collected with consent for research; no personal data.",
    "fallback": "When the model is unavailable or unsure, forms are read by clerks as before.",
    "transparency": "The model card, this filing's public report and the registry entry describe it.",
    "explainability": "Per-class probabilities are returned with each answer; the confusion matrix is in the report.",
    "repeatability": "Trained under a fixed seed; the evaluation records model and data digests and library versions.",
    "safety": "The evaluation's robustness test bounds the accuracy lost to blur, noise and rotation.",
    "security": "Served behind token authentication with per-organisation quotas; the ONNX file is content-addressed.",
    "robustness": "See the robustness section of the evaluation report.",
    "fairness": "Digits carry no sensitive attribute; fairness is not applicable.",
    "data-governance": "The training data is versioned, with lineage from the public dataset.",
    "accountability": "Demo Enterprise's engineering lead owns the model and this filing.",
    "human-agency": "Clerks can override any reading.",
    "inclusive-growth": "Faster form processing for everyone; no group is excluded.",
}


def filing_stage(walk: Walkthrough) -> dict[str, Any]:
    """The applicant files the compressed CNN: the filing suite runs and grades it."""
    runtime, applicant = walk.runtime, walk.applicant
    version_id = walk.facts["demo-digits-cnn-int8"]
    with runtime.session() as session:
        draft = filing.create_filing(session, applicant, filing.FilingCreate(
            version_id=version_id, provider=DEMO_ORG_NAME, service_form="api", application_field="form digitisation (表单数字化)",
            algorithm_type="classification", self_assessment="Accuracy, robustness, privacy and efficiency measured by the platform's filing suite.",
            public_content="A digit reader for scanned forms: 8×8 grey images in, a digit and its probabilities out.",
            intended_use=DEMO_ANSWERS["intended-use"], contact="demo@demo-enterprise.local",
        ))
        report = evaluation.render_html(evaluation.build_report_input(session, runtime.blobs, applicant, walk.facts["demo-digits-cnn-int8-evaluation"]))
        evidence = filing.attach_evidence(session, runtime.blobs, applicant, draft.id, io.BytesIO(report.encode()), "evaluation-report.html", "text/html")
        needs_evidence = {item.id for item in filing.Checklist.default().items if item.evidence_required}
        answers = [
            filing.ChecklistAnswer(item=item, answer=text, evidence=[evidence.sha256] if item in needs_evidence else [])
            for item, text in DEMO_ANSWERS.items()
        ]
        filing.update_filing(session, applicant, draft.id, filing.FilingUpdate(answers=answers))
        submitted = filing.submit_filing(session, applicant, draft.id)
    walk._wait(_job_of_evaluation(runtime, applicant, submitted.evaluation_id))
    with runtime.session() as session:
        graded = filing.get_filing(session, applicant, draft.id)
    if graded.status != "in_review":
        raise RuntimeError(f"The demo's filing {graded.id} is {graded.status}, not in review: {graded.message}")
    walk.facts["filing"] = graded.id
    grade = graded.grade or {}
    return {"status": graded.status, "risk_level": f"{grade.get('level')} ({grade.get('level_en')})", "reasons": [r["rule"] for r in grade.get("reasons", [])]}


def approval_stage(walk: Walkthrough) -> dict[str, Any]:
    """A platform reviewer from another org judges every checklist item and approves."""
    runtime, reviewer = walk.runtime, walk.reviewer
    judgements = [filing.ItemJudgement(item=item.id, verdict="met") for item in filing.Checklist.default().items]
    judgements = [j if j.item != "fairness" else filing.ItemJudgement(item="fairness", verdict="not_applicable", comment="No sensitive attribute.") for j in judgements]
    with runtime.session() as session:
        approved = filing.review_filing(
            session, filing.Issuer.of(runtime), reviewer, walk.facts["filing"],
            filing.FilingReview(decision="approve", judgements=judgements, comment="Evidence and evaluation reviewed."),
        )
    walk.facts["filing_number"] = approved.number
    return {"filing_number": approved.number, "risk_level": approved.risk_level, "certificate_sha256": approved.certificate_sha256}


def _job_of_evaluation(runtime: Runtime, actor: Actor, evaluation_id: str | None) -> JobRead:
    with runtime.session() as session:
        run = evaluation.get_evaluation(session, actor, evaluation_id or "")
    return _job_of(run)


# What the filing office grants the demo enterprise, in fen and percent of each charge:
# a ¥500 算力券 paying half of each compute charge, a ¥200 智评券 paying all of an evaluation's.
DEMO_VOUCHERS = (("compute", 50_000, 50), ("evaluation", 20_000, 100))


def observatory_stage(walk: Walkthrough) -> dict[str, Any]:
    """Sample enterprises and statistics (marked sample) with the regional evaluation; the filing
    office grants the demo enterprise a 算力券 and a 智评券, the operator tops up its prepaid balance
    and bills the demo's metered jobs, vouchers first."""
    runtime, office, operator = walk.runtime, walk.reviewer, walk.operator
    org_id = walk.applicant.org_id
    with runtime.session() as session:
        registry = enterprises.add_sample_enterprises(session, operator)
        observations = statistics.add_sample_observations(session, operator)
        ranking = statistics.run_evaluation(session, operator, statistics.SAMPLE_EVALUATION)
        year_end = datetime(datetime.now(UTC).year + 1, 1, 1, tzinfo=UTC)
        for kind, face_value_fen, share_percent in DEMO_VOUCHERS:
            compute.issue_voucher(session, office, compute.VoucherCreate(
                org_id=org_id, kind=kind, face_value_fen=face_value_fen, share_percent=share_percent, valid_until=year_end,
                idempotency_key=f"demo-voucher-{kind}-{org_id}",
            ))  # fmt: skip
        compute.topup(session, operator, compute.TopupCreate(org_id=org_id, amount_fen=10_000, idempotency_key=f"demo-topup-{org_id}"))
        billed = compute.charge_usage(session, operator, until=datetime.now(UTC))
        balance = compute.get_balance(session, walk.applicant, org_id)
    leader = ranking.rows[0] if ranking.rows else None
    return {
        "sample_enterprises": registry.created + registry.updated + registry.unchanged,
        "sample_observations": observations,
        "first_region": leader.region_name if leader else None,
        "billed_items": billed.items_billed,
        "billed_fen": billed.billed_fen,
        "prepaid_fen": balance.prepaid_fen,
    }


def citybrain_stage(walk: Walkthrough) -> dict[str, Any]:
    """A 3×3 grid generated with SUMO's netgenerate (nothing downloaded) becomes the enterprise's
    traffic dataset; fixed time and max pressure are simulated on it; a learned controller is
    trained on the dataset version (its lineage) and run beside them, so the console's City Brain
    pages have runs to replay and compare. Skipped when the citybrain extra is not installed."""
    try:
        import libsumo  # noqa: F401
    except ImportError:
        return {"skipped": "the citybrain extra (SUMO) is not installed: pip install -e '.[citybrain]'"}
    from aicommons.scenarios.citybrain import runs, training
    from aicommons.scenarios.citybrain.schemas import RunCreate
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    runtime, applicant = walk.runtime, walk.applicant
    with tempfile.TemporaryDirectory(prefix="demo-grid-") as scratch:
        net_file, route_file = synthetic_grid(Path(scratch) / "generated", size=GRID_SIZE, duration=GRID_DURATION, vehicles_per_hour=1800, seed=0)
        upload = Path(scratch) / "demo-grid"
        upload.mkdir()
        shutil.copy(net_file, upload / "grid.net.xml")
        shutil.copy(route_file, upload / "rush.rou.xml")
        net_sha256, routes_sha256 = runs.store_network(runtime.blobs, net_file, route_file)
        with runtime.session() as session:
            try:
                dataset = data.find_dataset(session, applicant, "demo-grid-traffic")
            except NotFound:
                dataset = data.create_dataset(session, applicant, data.DatasetCreate(
                    name="demo-grid-traffic", modality="traffic", description="A generated 3×3 signalised grid and 10 minutes of demand."))
            job = data.import_path(session, runtime.blobs, applicant, dataset.id, upload, data.ImportOptions(format="sumo"))
    imported = walk._wait(job, (0.0, 0.1))
    travel_times: dict[str, float] = {}

    def simulate(controller: str, params: dict[str, Any], share: tuple[float, float]) -> None:
        with runtime.session() as session:
            run = runs.start_run(session, runtime.blobs, applicant, RunCreate(
                name=f"demo grid: {controller}", net_sha256=net_sha256, routes_sha256=routes_sha256, controller=controller, params=params,
                seeds=[0], duration=GRID_DURATION))
        walk._wait(JobRead.model_construct(id=run.job_id), share)
        with runtime.session() as session:
            travel_times[controller] = runs.get_run(session, applicant, run.id).summary["average_travel_time"].mean

    simulate("fixed-time", {}, (0.1, 0.25))
    simulate("max-pressure", {}, (0.25, 0.4))
    with runtime.session() as session:
        job = training.start_training(session, runtime, applicant, training.TrainingCreate(
            model="demo-grid-policy", dataset_version_id=imported.result["version_id"], episodes=GRID_TRAINING_EPISODES,
            episode_duration=GRID_DURATION, demonstration_episodes=1))
    trained = walk._wait(job, (0.4, 0.85))
    simulate("learned", {"model": f"demo-grid-policy@{trained.result['number']}"}, (0.85, 1.0))
    return {"average_travel_time_s": {name: round(value, 1) for name, value in travel_times.items()}}
