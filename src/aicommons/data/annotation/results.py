"""Aggregation (a job), results, review and publishing.

The `annotation.aggregate` job reads every answer of the project, aggregates them with the chosen
method (aggregation.aggregate), weighting each worker by its quality weight (flagged workers get
0: their votes are dropped), and computes agreement (Krippendorff's alpha for single and multi
labels, Fleiss' kappa for single labels) over all answers. Gold items take their known answer
(confidence 1, method "gold"). Results and metrics are written in one step with the job's final
checkpoint, so a job whose worker dies recomputes and writes them exactly once. Re-aggregating
updates values and keeps reviews.

A review accepts, rejects or corrects a result. Accepting or correcting fixes the item's true
value: each answer agreeing with it adds one correct answer to its worker's skill, each other
answer one wrong. Rejecting says only that the aggregated value is wrong: answers that gave it
count wrong. Reviewing a result again replaces what the earlier review added.

Publishing writes a new version of the project's dataset (operation "annotate", lineage to the
project's version): single labels go to `label`; multi labels to `label` (sorted, joined by "|")
and to `annotations` as `{"label"}` objects; spans to `annotations` as `{"start", "end",
"label"}`; boxes to `annotations` as `{"label", "bbox": [x, y, w, h]}`. A rejected result leaves
its record unlabelled (label, or annotations for spans and boxes, empty); records without a
result are unchanged.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.blobs import BlobStore
from aicommons.core.db import utcnow
from aicommons.core.errors import Conflict, NotFound, invalid_parameter
from aicommons.core.jobs import JobContext, job_type, submit_job
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Action, Actor
from aicommons.core.schemas import JobRead, JobSubmit, Page
from aicommons.data.annotation import aggregation, agreement
from aicommons.data.annotation.assignment import add_skill, refresh_flags
from aicommons.data.annotation.projects import KIND, label_schema, project_row
from aicommons.data.annotation.schemas import AggregateParams, LabelSchema, ResultRead, ReviewDecision
from aicommons.data.annotation.tables import AnnotationAnswer, AnnotationItem, AnnotationProject, AnnotationResult, AnnotationWorker
from aicommons.data.manifest import ManifestCache, build_table, table_records
from aicommons.data.schemas import VersionRead
from aicommons.data.tables import DatasetVersion
from aicommons.data.versions import write_version

RESULTS_SAMPLE = 200


# --- aggregation ------------------------------------------------------------------------------


class AggregateJobParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    project_id: str = Field(max_length=40)
    method: str = Field(max_length=10)


def start_aggregation(session: Session, actor: Actor, project_id: str, params: AggregateParams) -> JobRead:
    """Queue the aggregation of the project's answers; follow the job for progress."""
    project = project_row(session, actor, project_id, Action.write, lock=True)
    method = params.method or project.method
    if method not in aggregation.METHODS:
        raise invalid_parameter("method", "start_aggregation", f"one of {list(aggregation.METHODS)}", method)
    if not session.scalar(sa.select(sa.func.count()).where(AnnotationAnswer.project_id == project.id)):
        raise Conflict(f"Annotation project {project.name!r} has no answers to aggregate yet.")
    job_params = AggregateJobParams(project_id=project.id, method=method)
    job = submit_job(session, actor, JobSubmit(type="annotation.aggregate", params=job_params.model_dump(mode="json")))
    project.aggregation_job_id = job.id
    project.updated_at = utcnow()
    session.flush()
    audit.record(
        session, actor, "annotation.aggregate.start", KIND, project.id, org_id=project.org_id,
        detail={"job_id": job.id, "method": method},
    )
    return job


@job_type("annotation.aggregate", params=AggregateJobParams)
def run_aggregation(ctx: JobContext, params: AggregateJobParams) -> dict[str, Any]:
    if done := ctx.state.get("result"):
        return done
    ctx.progress(0.05, "reading answers")
    with ctx.runtime.session() as session:
        project = project_row(session, ctx.actor, params.project_id, Action.write)
        schema = label_schema(project)
        rows = session.execute(
            sa.select(AnnotationItem.record_id, AnnotationAnswer.user_id, AnnotationAnswer.value)
            .join(AnnotationItem, AnnotationItem.id == AnnotationAnswer.item_id)
            .where(AnnotationAnswer.project_id == project.id)
            .order_by(AnnotationItem.id, AnnotationAnswer.created_at, AnnotationAnswer.id)
        ).all()
        weights = dict(
            session.execute(
                sa.select(AnnotationWorker.user_id, AnnotationWorker.weight).where(AnnotationWorker.project_id == project.id)
            ).all()
        )
        gold = dict(
            session.execute(
                sa.select(AnnotationItem.record_id, AnnotationItem.gold_value)
                .where(AnnotationItem.project_id == project.id, AnnotationItem.is_gold.is_(True))
            ).all()
        )
    answers = [aggregation.Answer(item=r.record_id, worker=r.user_id, value=r.value) for r in rows]
    ctx.log(f"{len(answers)} answers from {len(weights)} workers; method {params.method}")
    ctx.progress(0.2, f"aggregating {len(answers)} answers with {params.method}")
    aggregated = aggregation.aggregate(
        schema.kind, answers, method=params.method, labels=list(schema.labels), weights=weights, seed=0, gold=gold
    )
    ctx.progress(0.8, "measuring agreement")
    metrics = _agreement(schema, answers)
    support = Counter(a.item for a in answers)
    values: dict[str, dict[str, Any]] = {}
    for result in aggregated:
        values[result.item] = {
            "value": result.value, "confidence": _unit(result.confidence), "support": int(result.support),
            "posteriors": {k: round(float(v), 6) for k, v in result.posteriors.items()} if result.posteriors else None,
            "method": params.method,
        }
    for record_id, value in gold.items():
        if support[record_id]:
            values[record_id] = {"value": value, "confidence": 1.0, "support": support[record_id], "posteriors": None, "method": "gold"}
    ctx.progress(0.9, f"storing {len(values)} results")
    state: dict[str, Any] = {}
    with ctx.step(state) as session:
        project = project_row(session, ctx.actor, params.project_id, Action.write, lock=True)
        stored = _store_results(session, project, values, ctx.job_id)
        now = utcnow()
        project.agreement = metrics
        project.aggregated_method = params.method
        project.aggregated_at = now
        project.updated_at = now
        audit.record(
            session, ctx.actor, "annotation.aggregate", KIND, project.id, org_id=project.org_id,
            detail={"job_id": ctx.job_id, "method": params.method, "results": stored, "answers": len(answers), **metrics},
        )
        state["result"] = {"project_id": project.id, "method": params.method, "results": stored, "answers": len(answers), **metrics}
    ctx.progress(1.0, f"{state['result']['results']} results")
    return state["result"]


def _unit(value: float) -> float:
    value = float(value)
    return round(min(max(value, 0.0), 1.0), 6) if math.isfinite(value) else 0.0


def _agreement(schema: LabelSchema, answers: list[Any]) -> dict[str, float | None]:
    """Alpha for single and multi labels, kappa for single labels; None where undefined (too few
    items with two answers, or no variation at all)."""
    alpha = kappa = None
    if schema.kind in ("single", "multi"):
        alpha = _finite(lambda: agreement.krippendorff_alpha(answers, schema.kind))
    if schema.kind == "single":
        kappa = _finite(lambda: agreement.fleiss_kappa(answers))
    return {"krippendorff_alpha": alpha, "fleiss_kappa": kappa}


def _finite(compute: Any) -> float | None:
    try:
        value = compute()
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(value), 6) if value is not None and math.isfinite(value) else None


def _store_results(session: Session, project: AnnotationProject, values: dict[str, dict[str, Any]], job_id: str) -> int:
    items = dict(
        session.execute(sa.select(AnnotationItem.record_id, AnnotationItem.id).where(AnnotationItem.project_id == project.id)).all()
    )
    existing = {r.record_id: r for r in session.scalars(sa.select(AnnotationResult).where(AnnotationResult.project_id == project.id))}
    now = utcnow()
    for record_id, row in existing.items():
        if record_id not in values and row.review is None:
            session.delete(row)
    for record_id, value in values.items():
        row = existing.get(record_id)
        if row is None:
            row = AnnotationResult(item_id=items[record_id], project_id=project.id, record_id=record_id, review_comment="", review_feedback={})
            session.add(row)
        row.value = value["value"]
        row.confidence = value["confidence"]
        row.support = value["support"]
        row.posteriors = value["posteriors"]
        row.method = value["method"]
        row.job_id = job_id
        row.aggregated_at = now
    session.flush()
    return len(values)


# --- reading and review -----------------------------------------------------------------------


def _final(row: AnnotationResult) -> Any:
    if row.review == "rejected":
        return None
    return row.reviewed_value if row.review == "corrected" else row.value


def _read(row: AnnotationResult) -> ResultRead:
    return ResultRead(
        project_id=row.project_id, record_id=row.record_id, value=row.value, confidence=row.confidence, support=row.support,
        posteriors=row.posteriors, method=row.method, review=row.review, reviewed_value=row.reviewed_value,  # type: ignore[arg-type]
        review_comment=row.review_comment, reviewed_by=row.reviewed_by, reviewed_at=row.reviewed_at, final_value=_final(row),
        aggregated_at=row.aggregated_at,
    )


def list_results(
    session: Session,
    actor: Actor,
    project_id: str,
    *,
    review: str | None = None,
    max_confidence: float | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[ResultRead]:
    """The aggregated results (owner org), newest items first; `review` ("none", "accepted",
    "rejected", "corrected") and `max_confidence` pick, say, the unreviewed uncertain ones."""
    project = project_row(session, actor, project_id, Action.write)
    stmt = sa.select(AnnotationResult).where(AnnotationResult.project_id == project.id)
    if review is not None:
        if review not in ("none", "accepted", "rejected", "corrected"):
            raise invalid_parameter("review", "list_results", "one of 'none', 'accepted', 'rejected', 'corrected'", review)
        stmt = stmt.where(AnnotationResult.review.is_(None) if review == "none" else AnnotationResult.review == review)
    if max_confidence is not None:
        stmt = stmt.where(AnnotationResult.confidence <= max_confidence)
    rows, next_cursor = page_rows(session, stmt, AnnotationResult.item_id, limit=limit, cursor=cursor, owner="list_results")
    return Page[ResultRead](items=[_read(r) for r in rows], next_cursor=next_cursor)


def review_result(session: Session, actor: Actor, project_id: str, record_id: str, decision: ReviewDecision) -> ResultRead:
    """Accept, reject or correct a result (owner org members); feeds the answering workers' skill."""
    project = project_row(session, actor, project_id, Action.write, lock=True)
    row = session.scalar(
        sa.select(AnnotationResult).where(AnnotationResult.project_id == project.id, AnnotationResult.record_id == record_id)
    )
    if row is None:
        raise NotFound(f"Annotation project {project.name!r} has no aggregated result for record {record_id!r}; aggregate its answers first.")
    schema = label_schema(project)
    item = session.get(AnnotationItem, row.item_id)
    assert item is not None
    corrected = None
    if decision.decision == "correct":
        from aicommons.data.annotation.projects import item_limits

        corrected = schema.check(decision.value, **item_limits(item.payload), where="The corrected value")
    before = _read(row)
    truth = row.value if decision.decision == "accept" else corrected
    feedback: dict[str, list[float]] = {}
    answers = session.execute(sa.select(AnnotationAnswer.user_id, AnnotationAnswer.value).where(AnnotationAnswer.item_id == item.id)).all()
    for answer in answers:
        counts = feedback.setdefault(answer.user_id, [0.0, 0.0])
        if truth is not None:
            counts[0 if schema.agree(answer.value, truth) else 1] += 1.0
        elif schema.agree(answer.value, row.value):  # rejected: giving the rejected value was wrong
            counts[1] += 1.0
    feedback = {user: counts for user, counts in feedback.items() if any(counts)}
    changed_workers = sorted(set(feedback) | set(row.review_feedback or {}))
    for user_id in changed_workers:
        worker = session.get(AnnotationWorker, (project.id, user_id))
        if worker is None:
            continue
        old = (row.review_feedback or {}).get(user_id, [0.0, 0.0])
        new = feedback.get(user_id, [0.0, 0.0])
        add_skill(worker, new[0] - old[0], new[1] - old[1])
    row.review = {"accept": "accepted", "reject": "rejected", "correct": "corrected"}[decision.decision]
    row.reviewed_value = corrected
    row.review_comment = decision.comment
    row.reviewed_by = actor.user_id
    row.reviewed_at = utcnow()
    row.review_feedback = feedback
    session.flush()
    for user_id in changed_workers:
        worker = session.get(AnnotationWorker, (project.id, user_id))
        if worker is not None:
            refresh_flags(session, actor, project, worker)
    after = _read(row)
    audit.record(
        session, actor, "annotation.result.review", KIND, project.id, org_id=project.org_id, before=before, after=after,
        detail={"record_id": record_id, "decision": row.review, "skill_feedback": feedback},
    )
    return after


# --- publishing -------------------------------------------------------------------------------


def publish_results(session: Session, blobs: BlobStore, actor: Actor, project_id: str, *, cache: ManifestCache | None = None) -> VersionRead:
    """A new version of the project's dataset labelled with the reviewed-or-aggregated values.
    `cache` (`data.manifest_cache(runtime)`) saves reading the manifest from the blob store."""
    project = project_row(session, actor, project_id, Action.write, lock=True)
    if project.aggregated_at is None:
        raise Conflict(f"Annotation project {project.name!r} has no aggregated results yet; run the aggregation first.")
    version = session.get(DatasetVersion, project.dataset_version_id)
    assert version is not None
    table = cache.table(version.manifest_sha256) if cache is not None else _read_manifest(blobs, version.manifest_sha256)
    results = {r.record_id: r for r in session.scalars(sa.select(AnnotationResult).where(AnnotationResult.project_id == project.id))}
    records = table_records(table)
    counts: Counter[str] = Counter()
    confidences = []
    for record in records:
        row = results.get(record.record_id or "")
        if row is None:
            counts["unchanged"] += 1
            continue
        counts[row.review or "aggregated"] += 1
        _label(record, project.kind, _final(row))
        if row.review is None:
            confidences.append(row.confidence)
    labelled = len(records) - counts["unchanged"] - counts["rejected"]
    parameters = {
        "project_id": project.id,
        "method": project.aggregated_method,
        "parameters": {
            "kind": project.kind, "labels": list(project.labels), "overlap": project.overlap, "max_overlap": project.max_overlap,
            "adaptive": project.adaptive, "confidence_threshold": project.confidence_threshold, "gold_rate": project.gold_rate,
            "qualification_pass_rate": project.qualification_pass_rate, "min_seconds": project.min_seconds,
        },
        "alpha": (project.agreement or {}).get("krippendorff_alpha"),
        "kappa": (project.agreement or {}).get("fleiss_kappa"),
    }
    report = {
        "summary": f"labelled {labelled} of {len(records)} records from annotation project {project.name!r}",
        "labelled": labelled, "counts": dict(sorted(counts.items())),
        "mean_confidence": round(sum(confidences) / len(confidences), 6) if confidences else None,
        "results_sample": [_read(r).model_dump(mode="json") for r in list(results.values())[:RESULTS_SAMPLE]],
    }
    result = write_version(
        session, blobs, actor, project.dataset_id, build_table(records), operation="annotate", parameters=parameters,
        parent_version_id=project.dataset_version_id, report=report,
    )
    project.published_version_id = result.id
    project.updated_at = utcnow()
    session.flush()
    audit.record(
        session, actor, "annotation.publish", KIND, project.id, org_id=project.org_id,
        detail={"version_id": result.id, "number": result.number, "labelled": labelled, "counts": dict(counts)},
    )
    return result


def _read_manifest(blobs: BlobStore, sha256: str) -> pa.Table:
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(blobs.read_bytes(sha256)))


def _label(record: Any, kind: str, value: Any) -> None:
    """Write a final value into a manifest record (None: leave it unlabelled)."""
    if kind == "single":
        record.label = value
    elif kind == "multi":
        record.label = "|".join(value) if value else None
        record.annotations = [{"label": label} for label in value] if value is not None else None
    elif kind == "spans":
        record.annotations = [{"start": s, "end": e, "label": label} for s, e, label in value] if value is not None else None
    else:
        record.annotations = (
            [{"label": label, "bbox": [x0, y0, _plain(x1 - x0), _plain(y1 - y0)]} for x0, y0, x1, y1, label in value]
            if value is not None else None
        )


def _plain(value: float) -> float | int:
    value = round(float(value), 6)
    return int(value) if value.is_integer() else value
