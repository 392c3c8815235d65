"""Evaluation runs: plan a suite on a model version, run it as a job, store reproducible results.

A run belongs to the org that asked for it: an enterprise testing its own model, or a third party
testing a model it may run. Its plan (each test with merged parameters and thresholds) is fixed
when the run is queued. The job saves each finished test in its own transaction, so a run whose
worker dies resumes after the last finished test, and the prediction cache (per model digest and
input digest) spares the test it was in the middle of from recomputing what it had already run.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
import time
import traceback
from importlib import metadata
from typing import Any

import numpy as np
import pyarrow as pa
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aicommons import data, models
from aicommons.core import audit
from aicommons.core.blobs import BlobStore
from aicommons.core.db import utcnow
from aicommons.core.errors import Invalid, not_found
from aicommons.core.ids import new_id
from aicommons.core.jobs import JobCancelled, JobContext, LeaseLost, job_type, submit_job
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Action, Actor
from aicommons.core.runtime import Runtime
from aicommons.core.schemas import JobSubmit, Page
from aicommons.core.tables import Job
from aicommons.evaluation.catalogue import SuiteEntry, evaluation_tests, subject_builders, suites
from aicommons.evaluation.hooks import evaluation_finished
from aicommons.evaluation.outcomes import apply_thresholds, parse_thresholds
from aicommons.evaluation.schemas import EvaluationCreate, EvaluationRead, TestResultRead
from aicommons.evaluation.subject import Split, Subject
from aicommons.evaluation.tables import CachedPrediction, Evaluation
from aicommons.models.artifacts import Signature
from aicommons.models.hub import model_row
from aicommons.models.preprocessing import Preprocessor, label_indices
from aicommons.models.recipes import record_splits
from aicommons.models.tables import Model, ModelVersion

KIND = "evaluation"
# Libraries whose versions decide a run's numbers; recorded with every run.
LIBRARIES = ("aicommons", "numpy", "onnxruntime", "onnx", "scikit-learn", "fairlearn", "pyarrow", "pypinyin", "opencc-python-reimplemented", "opencv-python-headless", "pillow", "jieba")


# --- planning ---------------------------------------------------------------------------------


def start_evaluation(session: Session, actor: Actor, spec: EvaluationCreate) -> EvaluationRead:
    """Plan the run and queue its job; refuse before queueing anything that cannot run."""
    version = models.get_version(session, actor, spec.version_id)
    model_row(session, actor, version.model_id, Action.run)
    dataset_version_id = spec.dataset_version_id or next(iter(version.dataset_version_ids), None)
    if dataset_version_id is None:
        raise Invalid(f"Model version {version.id!r} records no training data to test on; pass dataset_version_id.")
    data.get_version(session, actor, dataset_version_id)  # readable, or NotFound now
    plan = _plan(spec)
    evaluation_id = new_id("ev")
    job = submit_job(session, actor, JobSubmit(type="evaluation.run", params={"evaluation_id": evaluation_id}))
    row = Evaluation(
        id=evaluation_id, org_id=actor.org_id, model_id=version.model_id, version_id=version.id,
        dataset_version_id=dataset_version_id, suite=spec.suite, plan=plan, seed=spec.seed, job_id=job.id,
        results=[], reproducibility={}, created_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, "evaluation.start", KIND, row.id, org_id=row.org_id, detail={"version_id": version.id, "suite": spec.suite, "tests": [p["name"] for p in plan]})
    return _read(session, row)


def _plan(spec: EvaluationCreate) -> list[dict[str, Any]]:
    """The suite's entries, with the caller's tests overriding entries of the same name or added."""
    entries: dict[str, SuiteEntry] = {}
    if spec.suite is not None:
        entries = {entry.test: entry for entry in suites.get(spec.suite).entries}
    for request in spec.tests:
        evaluation_tests.get(request.name)  # unknown names fail here, naming the known ones
        base = entries.get(request.name, SuiteEntry(request.name))
        entries[request.name] = SuiteEntry(
            request.name, {**base.params, **request.params}, {**base.thresholds, **parse_thresholds(request.thresholds, request.name)}
        )
    if not entries:
        raise Invalid("The evaluation has no tests: name a suite or list tests.")
    plan = []
    for name, entry in entries.items():
        test = evaluation_tests.get(name)
        thresholds = {**test.thresholds, **entry.thresholds}
        plan.append({"name": name, "params": {**test.params, **entry.params}, "thresholds": {k: list(v) for k, v in thresholds.items()}})
    _check_json(plan)
    return plan


def _check_json(plan: list[dict[str, Any]]) -> None:
    try:
        json.dumps(plan, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise Invalid(f"Test parameters must be plain JSON values: {exc}.") from None


# --- reading ----------------------------------------------------------------------------------


def _row(session: Session, actor: Actor, evaluation_id: str) -> Evaluation:
    row = session.get(Evaluation, evaluation_id)
    if row is None or not _may_read(actor, row):
        raise not_found(KIND, evaluation_id)
    return row


def _may_read(actor: Actor, row: Evaluation) -> bool:
    # Reviewers read every run: filing reviews rest on them.
    return actor.is_operator or actor.is_reviewer or row.org_id == actor.org_id


def get_evaluation(session: Session, actor: Actor, evaluation_id: str) -> EvaluationRead:
    return _read(session, _row(session, actor, evaluation_id))


def list_evaluations(
    session: Session, actor: Actor, *, model_id: str | None = None, version_id: str | None = None, limit: int = 50, cursor: str | None = None
) -> Page[EvaluationRead]:
    stmt = sa.select(Evaluation)
    if not (actor.is_operator or actor.is_reviewer):
        stmt = stmt.where(Evaluation.org_id == actor.org_id)
    if model_id:
        stmt = stmt.where(Evaluation.model_id == model_id)
    if version_id:
        stmt = stmt.where(Evaluation.version_id == version_id)
    rows, next_cursor = page_rows(session, stmt, Evaluation.id, limit=limit, cursor=cursor, owner="list_evaluations")
    return Page[EvaluationRead](items=_read_many(session, rows), next_cursor=next_cursor)


def ended_evaluations(session: Session, actor: Actor, evaluation_ids: list[str]) -> set[str]:
    """Which of these runs the actor may read have ended (succeeded, failed or cancelled), in one
    statement: what a list of filings waiting on runs asks before settling any."""
    if not evaluation_ids:
        return set()
    stmt = (
        sa.select(Evaluation.id).outerjoin(Job, Job.id == Evaluation.job_id)
        .where(Evaluation.id.in_(evaluation_ids), sa.or_(Job.id.is_(None), Job.status.in_(("succeeded", "failed", "cancelled"))))
    )
    if not (actor.is_operator or actor.is_reviewer):
        stmt = stmt.where(Evaluation.org_id == actor.org_id)
    return set(session.scalars(stmt))


def compare_evaluations(session: Session, actor: Actor, evaluation_ids: list[str]) -> dict[str, Any]:
    """Headline metrics of several runs side by side: {"runs": [...], "rows": [{test, metric, values}]}.

    Headline metrics are each test's top-level numbers, so runs of different versions of a model
    (or of different models) line up metric by metric."""
    if not 2 <= len(evaluation_ids) <= 10:
        raise Invalid(f"Compare 2 to 10 evaluations; got {len(evaluation_ids)}.")
    runs = [get_evaluation(session, actor, i) for i in evaluation_ids]
    rows: dict[tuple[str, str], list[float | None]] = {}
    for index, run in enumerate(runs):
        for result in run.results:
            for metric, value in result.metrics.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    rows.setdefault((result.name, metric), [None] * len(runs))[index] = float(value)
    return {
        "runs": [{"id": r.id, "model_id": r.model_id, "version_number": r.version_number, "status": r.status} for r in runs],
        "rows": [{"test": test, "metric": metric, "values": values} for (test, metric), values in rows.items()],
    }


def _read(session: Session, row: Evaluation) -> EvaluationRead:
    job = session.get(Job, row.job_id)
    named = session.execute(
        sa.select(ModelVersion.number, Model.name).join(Model, Model.id == ModelVersion.model_id).where(ModelVersion.id == row.version_id)
    ).first()
    return _as_read(row, job, *(named or (None, "")))


def _read_many(session: Session, rows: list[Evaluation]) -> list[EvaluationRead]:
    """Like `_read` for each row, in two statements whatever the number of rows (a list page must
    not cost a query per run)."""
    if not rows:
        return []
    jobs = {job.id: job for job in session.scalars(sa.select(Job).where(Job.id.in_({r.job_id for r in rows})))}
    named = {
        version_id: (number, name) for version_id, number, name in session.execute(
            sa.select(ModelVersion.id, ModelVersion.number, Model.name).join(Model, Model.id == ModelVersion.model_id)
            .where(ModelVersion.id.in_({r.version_id for r in rows}))
        )
    }
    return [_as_read(row, jobs.get(row.job_id), *named.get(row.version_id, (None, ""))) for row in rows]


def _as_read(row: Evaluation, job: Job | None, version_number: int | None, model_name: str) -> EvaluationRead:
    return EvaluationRead(
        id=row.id, org_id=row.org_id, model_id=row.model_id, model_name=model_name or "", version_id=row.version_id,
        version_number=int(version_number or 0),
        dataset_version_id=row.dataset_version_id, suite=row.suite, status=job.status if job else "failed",
        progress=job.progress if job else 0.0, message=(job.error or job.message or "") if job else "", job_id=row.job_id,
        seed=row.seed, results=[TestResultRead(**r) for r in row.results], reproducibility=row.reproducibility,
        created_at=row.created_at, finished_at=row.finished_at,
    )


# --- the prediction cache ---------------------------------------------------------------------


class StoredPredictionCache:
    """Probabilities as `.npy` blobs, indexed in `evaluation_predictions`; each put commits at once
    so a crashed run keeps what it computed."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> np.ndarray | None:
        model_sha256, input_sha256 = key.split(":")
        with self.runtime.session() as session:
            row = session.get(CachedPrediction, (model_sha256, input_sha256))
            output_sha256 = row.output_sha256 if row is not None else None
        if output_sha256 is None:
            self.misses += 1
            return None
        self.hits += 1
        return np.load(io.BytesIO(self.runtime.blobs.read_bytes(output_sha256)), allow_pickle=False)

    def put(self, key: str, probabilities: np.ndarray) -> None:
        model_sha256, input_sha256 = key.split(":")
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(probabilities), allow_pickle=False)
        output_sha256 = self.runtime.blobs.put_bytes(buffer.getvalue()).sha256
        try:
            with self.runtime.session() as session:
                session.add(CachedPrediction(model_sha256=model_sha256, input_sha256=input_sha256, output_sha256=output_sha256))
        except IntegrityError:
            pass  # another run stored the same prediction first: same inputs, same model, same answer


# --- the job ----------------------------------------------------------------------------------


class RunParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    evaluation_id: str = Field(max_length=40)


@job_type("evaluation.run", params=RunParams)
def run_evaluation(ctx: JobContext, params: RunParams) -> dict[str, Any]:
    """Run the plan; listeners hear of the run's end whether it succeeded, failed or was cancelled
    (its single attempt is final), so a filing waiting on it never waits forever."""
    try:
        return _run_plan(ctx, params)
    except LeaseLost:
        raise  # another worker owns the run now and will finish it
    except Exception as exc:
        status = "cancelled" if isinstance(exc, JobCancelled) else "failed"
        with ctx.runtime.session() as session:
            ended = _read(session, session.get(Evaluation, params.evaluation_id))
            _tell_listeners(session, ended.model_copy(update={"status": status, "message": _last_line(exc)}))
        raise


def _last_line(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


def _tell_listeners(session: Session, ended: EvaluationRead) -> None:
    for name in evaluation_finished:
        evaluation_finished.get(name)(session, ended)


def _run_plan(ctx: JobContext, params: RunParams) -> dict[str, Any]:
    runtime = ctx.runtime
    with runtime.session() as session:
        row = _row(session, ctx.actor, params.evaluation_id)
        plan, seed, dataset_version_id = list(row.plan), row.seed, row.dataset_version_id
        version = models.get_version(session, ctx.actor, row.version_id)
        task = models.get_model(session, ctx.actor, version.model_id).task
        table = data.read_version_table(session, data.manifest_cache(runtime), ctx.actor, dataset_version_id) if dataset_version_id else None
        manifest_sha256 = data.get_version(session, ctx.actor, dataset_version_id).manifest_sha256 if dataset_version_id else None
    cache = StoredPredictionCache(runtime)
    current: dict[str, Any] = {"index": 0}

    def progress(fraction: float, message: str = "") -> None:
        share = (current["index"] + min(max(fraction, 0.0), 1.0)) / len(plan)
        ctx.progress(0.05 + 0.9 * share, f"{plan[current['index']]['name']}: {message}" if message else plan[current["index"]]["name"])

    ctx.progress(0.01, "reading the model and its test records")
    if task in subject_builders:
        subject = subject_builders.get(task)(runtime.blobs, version, task, table, dataset_version_id=dataset_version_id, seed=seed, progress=progress)
    else:
        subject = build_subject(runtime.blobs, version, task, table, dataset_version_id=dataset_version_id, seed=seed, cache=cache, progress=progress)
    done: list[dict[str, Any]] = list(ctx.state.get("results", []))
    for index, entry in enumerate(plan):
        if index < len(done):
            continue  # finished before a restart
        current["index"] = index
        progress(0.0, "starting")
        result = _run_test(runtime.blobs, subject, entry)
        ctx.log(f"{entry['name']}: {result['status']} in {result['seconds']:.2f} s")
        done.append(result)
        with ctx.step({"results": done}) as session:
            session.get(Evaluation, params.evaluation_id).results = list(done)
    reproducibility = _reproducibility(version, subject, dataset_version_id, manifest_sha256, seed, plan, cache)
    with ctx.step({"results": done, "finished": True}) as session:
        row = session.get(Evaluation, params.evaluation_id)
        row.reproducibility = reproducibility
        row.finished_at = utcnow()
        session.flush()
        finished = _read(session, row).model_copy(update={"status": "succeeded", "progress": 1.0})
        _tell_listeners(session, finished)
    counts = finished.summary
    ctx.progress(1.0, ", ".join(f"{n} {k}" for k, n in counts.items() if n))
    return {"evaluation_id": params.evaluation_id, **counts}


def _run_test(blobs: BlobStore, subject: Subject, entry: dict[str, Any]) -> dict[str, Any]:
    """One test's result: skipped when it does not apply, error when it breaks, else the outcome
    held to its thresholds."""
    test = evaluation_tests.get(entry["name"])
    base = {"name": test.name, "title": test.title, "title_zh": test.title_zh, "category": test.category, "params": entry["params"]}
    started = time.perf_counter()
    if not isinstance(subject, test.subject_type):
        reason: str | None = f"Test {test.name!r} examines {test.subject_type.description}; this is a {subject.task or 'different'} model."
    else:
        reason = test.applies(subject)
    if reason is not None:
        return {**base, "status": "skipped", "notes": [reason], "seconds": 0.0}
    try:
        outcome = test.run(subject, dict(entry["params"]))
    except Invalid as exc:
        return {**base, "status": "skipped", "notes": [str(exc)], "seconds": round(time.perf_counter() - started, 3)}
    except Exception as exc:  # a broken test must not sink the whole run: record it and go on
        return {**base, "status": "error", "notes": [_last_line(exc)], "seconds": round(time.perf_counter() - started, 3)}
    thresholds = {metric: (op, float(value)) for metric, (op, value) in entry["thresholds"].items()}
    checks = apply_thresholds(outcome.metrics, thresholds)
    charts = {chart.name: blobs.put_bytes(chart.png).sha256 for chart in outcome.charts}
    return {
        **base, "status": "passed" if all(c.passed for c in checks) else "failed", "metrics": _plain(outcome.metrics),
        "checks": [c.as_dict() for c in checks], "charts": charts, "notes": list(outcome.notes),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _plain(value: Any) -> Any:
    """Metrics as JSON: numpy scalars to Python numbers, NaN to None, keys to strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) or np.isinf(value) else float(value)
    return value


# --- the subject ------------------------------------------------------------------------------


def build_subject(
    blobs: BlobStore, version: models.ModelVersionRead, task: str, table: pa.Table | None, *,
    dataset_version_id: str | None = None, seed: int = 0, cache: Any = None, progress: Any = None,
) -> Subject:
    """The model version and its records. When the table is the version's own training data, its
    test split (under the training seed) is evaluated and its training split is what membership
    inference attacks; otherwise the table's own test split (or all of it) is evaluated."""
    if table is None or table.num_rows == 0:
        raise Invalid("The evaluation has no records to test on.")
    files = {name: blobs.read_bytes(sha) for name, sha in version.details.get("files", {}).items()}
    preprocessor = Preprocessor(version.preprocessing, Signature.from_dict(version.signature), files)
    classes = [str(c) for c in version.details.get("classes") or []]
    evaluation_records, training_records = _splits(version, table, dataset_version_id)
    evaluation = _split(preprocessor, blobs, evaluation_records, classes)
    training = _split(preprocessor, blobs, training_records, classes) if training_records is not None else None
    from aicommons.evaluation.builtin.privacy import pii_counter

    return Subject(
        onnx_bytes=blobs.read_bytes(version.onnx_sha256), preprocessing=version.preprocessing, signature=version.signature,
        classes=classes, evaluation=evaluation, training=training, task=task, files=files, seed=seed, cache=cache,
        progress=progress, pii_scan=pii_counter(),
    )


def _splits(version: models.ModelVersionRead, table: pa.Table, dataset_version_id: str | None) -> tuple[pa.Table, pa.Table | None]:
    if dataset_version_id in version.dataset_version_ids and "label" in table.column_names:
        # The same rule and seed that split it for training: its test split is unseen data.
        splits = record_splits(table, int(version.parameters.get("seed", 0)))
        test = table.filter(pa.array([s == "test" for s in splits]))
        train = table.filter(pa.array([s == "train" for s in splits]))
        if test.num_rows and train.num_rows:
            return test, train
    if "split" in table.column_names:
        named = table["split"].to_pylist()
        test = table.filter(pa.array([s == "test" for s in named]))
        train = table.filter(pa.array([s == "train" for s in named]))
        if test.num_rows:
            return test, (train if train.num_rows else None)
    return table, None


def _split(preprocessor: Preprocessor, blobs: BlobStore, records: pa.Table, classes: list[str]) -> Split:
    raw = preprocessor.raw_instances(records, blobs)
    labels = None
    if classes and "label" in records.column_names:
        try:
            labels = label_indices(records, classes)
        except Invalid:
            labels = None  # the records' labels are not the model's classes: label-free tests only
    return Split(raw=raw, labels=labels, records=records)


def _reproducibility(
    version: models.ModelVersionRead, subject: Any, dataset_version_id: str | None, manifest_sha256: str | None,
    seed: int, plan: list[dict[str, Any]], cache: StoredPredictionCache,
) -> dict[str, Any]:
    libraries = {}
    for name in LIBRARIES:
        try:
            libraries[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "model_sha256": subject.model_sha256, "onnx_blob_sha256": version.onnx_sha256, "dataset_version_id": dataset_version_id,
        "dataset_manifest_sha256": manifest_sha256, **subject.inputs_summary(),
        "seed": seed, "split_seed": int(version.parameters.get("seed", 0)),
        "plan_sha256": hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest(),
        "python": platform.python_version(), "libraries": libraries,
        "prediction_cache": {"hits": cache.hits, "misses": cache.misses},
    }


def describe_catalogue() -> dict[str, Any]:
    """The registered tests and suites, for `GET /evaluation-tests` and `aicommons evaluation tests`."""
    tests = [evaluation_tests.get(name) for name in evaluation_tests]
    return {
        "tests": [
            {"name": t.name, "title": t.title, "title_zh": t.title_zh, "category": t.category, "description": t.description,
             "params": t.params, "thresholds": {k: list(v) for k, v in t.thresholds.items()}}
            for t in tests
        ],
        "suites": [
            {"name": s.name, "title": s.title, "title_zh": s.title_zh, "description": s.description,
             "tests": [{"name": e.test, "params": e.params, "thresholds": {k: list(v) for k, v in e.thresholds.items()}} for e in s.entries]}
            for s in (suites.get(name) for name in suites)
        ],
    }
