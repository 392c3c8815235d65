"""Cleaning as jobs: each operation reads a version and writes a new one with a report.

- `dedup`: exact duplicates (content hash) and near duplicates (MinHash LSH over character
  n-grams for text, perceptual hashes for images); the report lists the clusters removed.
- `text_quality`, `image_checks`: drop records that break the rules; the report counts reasons.
- `label_issues`: confident learning flags likely mislabelled records *for review*: the new
  version keeps every record and adds `label_issue`, `suggested_label` and `label_quality`.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.core.jobs import JobContext, job_type, submit_job
from aicommons.core.permissions import Action, Actor
from aicommons.core.schemas import JobRead, JobSubmit
from aicommons.data import cleaning
from aicommons.data.manifest import RESERVED
from aicommons.data.operations import commit_version, finished_result, source_table
from aicommons.data.versions import version_row, write_version

REPORT_SAMPLE = 1000


class CleanParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    operation: Literal["dedup", "text_quality", "image_checks", "label_issues"]
    near: bool = Field(True, description="dedup: also remove near duplicates, not only exact ones.")
    threshold: float = Field(0.8, gt=0, le=1, description="dedup: Jaccard similarity of text n-gram sets.")
    max_distance: int = Field(4, ge=0, le=32, description="dedup: perceptual-hash bits images may differ in.")
    text_rules: cleaning.TextRules = Field(default_factory=cleaning.TextRules)
    image_rules: cleaning.ImageRules = Field(default_factory=cleaning.ImageRules)
    seed: int = Field(0, ge=0, description="label_issues: cross-validation seed.")


class CleanJobParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version_id: str = Field(max_length=40)
    clean: CleanParams


def start_clean(session: Session, actor: Actor, version_id: str, params: CleanParams) -> JobRead:
    version_row(session, actor, version_id, Action.write)
    job = CleanJobParams(version_id=version_id, clean=params)
    return submit_job(session, actor, JobSubmit(type="data.clean", params=job.model_dump(mode="json")))


@job_type("data.clean", params=CleanJobParams)
def run_clean(ctx: JobContext, params: CleanJobParams) -> dict[str, Any]:
    if done := finished_result(ctx):
        return done
    dataset_id, table = source_table(ctx, params.version_id)
    operation = params.clean.operation
    ctx.progress(0.1, f"{operation} over {table.num_rows} records")
    table, report = OPERATIONS[operation](table, params.clean, ctx.runtime.blobs)
    ctx.log(f"{operation}: {report['summary']}")
    ctx.progress(0.9, "writing the version")
    return commit_version(
        ctx,
        lambda session: write_version(
            session, ctx.runtime.blobs, ctx.actor, dataset_id, table, operation=operation,
            parameters=params.clean.model_dump(mode="json"), parent_version_id=params.version_id,
            job_id=ctx.job_id, report=report,
        ),
    )


def _drop(table: pa.Table, ids: set[str]) -> pa.Table:
    return table.filter(pc.invert(pc.is_in(table["record_id"], value_set=pa.array(sorted(ids), type=pa.string()))))


def _file_bytes(table: pa.Table, blobs: BlobStore) -> tuple[list[str], list[bytes]]:
    rows = [(r, f) for r, f in zip(table["record_id"].to_pylist(), table["file_sha256"].to_pylist(), strict=True) if f]
    return [r for r, _ in rows], [blobs.read_bytes(f) for _, f in rows]


def _data_hashes(table: pa.Table) -> list[str]:
    """What the record holds, without its label: two records with the same data and different
    labels are duplicates (and a label conflict), not two different records."""
    fields = [n for n in table.column_names if n not in RESERVED] + ["file_sha256"]
    return [
        hashlib.sha256(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()
        for row in table.select(fields).to_pylist()
    ]


def dedup(table: pa.Table, params: CleanParams, blobs: BlobStore) -> tuple[pa.Table, dict[str, Any]]:
    ids = table["record_id"].to_pylist()
    clusters = cleaning.exact_duplicates(ids, _data_hashes(table))
    if params.near:
        survivors = _drop(table, cleaning.removed_ids(clusters))
        if "text" in survivors.column_names:
            texts = [t or "" for t in survivors["text"].to_pylist()]
            clusters += cleaning.near_duplicate_texts(survivors["record_id"].to_pylist(), texts, threshold=params.threshold)
        elif survivors["file_sha256"].null_count < survivors.num_rows:
            image_ids, images = _file_bytes(survivors, blobs)
            clusters += cleaning.near_duplicate_images(image_ids, images, max_distance=params.max_distance)
    removed = cleaning.removed_ids(clusters)
    label_of = dict(zip(ids, table["label"].to_pylist(), strict=True))
    conflicts = sum(1 for c in clusters if len({label_of[r] for r in (c.keep, *c.drop)}) > 1)
    summary = f"removed {len(removed)} duplicates in {len(clusters)} clusters ({conflicts} with conflicting labels)"
    report = {
        "summary": summary,
        "removed": len(removed),
        "clusters": len(clusters),
        "label_conflicts": conflicts,
        "cluster_sample": [c.as_dict() for c in clusters[:REPORT_SAMPLE]],
    }
    return _drop(table, removed), report


def _reasons_report(reasons: dict[str, list[str]], checked: int) -> dict[str, Any]:
    counts = Counter(reason for found in reasons.values() for reason in found)
    return {
        "summary": f"removed {len(reasons)} of {checked} records",
        "removed": len(reasons),
        "by_reason": dict(sorted(counts.items())),
        "removed_sample": [{"record_id": r, "reasons": found} for r, found in list(reasons.items())[:REPORT_SAMPLE]],
    }


def text_quality(table: pa.Table, params: CleanParams, blobs: BlobStore) -> tuple[pa.Table, dict[str, Any]]:
    if "text" not in table.column_names:
        raise Invalid("The text_quality operation needs a `text` field; this version has none.")
    reasons = {}
    for record_id, text in zip(table["record_id"].to_pylist(), table["text"].to_pylist(), strict=True):
        if found := cleaning.check_text(text or "", params.text_rules):
            reasons[record_id] = found
    return _drop(table, set(reasons)), _reasons_report(reasons, table.num_rows)


def image_checks(table: pa.Table, params: CleanParams, blobs: BlobStore) -> tuple[pa.Table, dict[str, Any]]:
    image_ids, images = _file_bytes(table, blobs)
    if not image_ids:
        raise Invalid("The image_checks operation needs images; this version has none.")
    reasons = {}
    for record_id, data in zip(image_ids, images, strict=True):
        if found := cleaning.check_image(data, params.image_rules):
            reasons[record_id] = found
    return _drop(table, set(reasons)), _reasons_report(reasons, len(image_ids))


def _features(table: pa.Table) -> np.ndarray:
    """Numeric fields as they are; text as hashed character n-grams."""
    if "text" in table.column_names:
        from sklearn.feature_extraction.text import HashingVectorizer
        from sklearn.decomposition import TruncatedSVD

        hashed = HashingVectorizer(analyzer="char", ngram_range=(1, 2), n_features=2**14).transform(
            [t or "" for t in table["text"].to_pylist()]
        )
        return TruncatedSVD(n_components=min(64, hashed.shape[1] - 1), random_state=0).fit_transform(hashed)
    numeric = [
        n for n in table.column_names
        if n not in RESERVED and (pa.types.is_integer(table[n].type) or pa.types.is_floating(table[n].type))
    ]
    if not numeric:
        raise Invalid("label_issues needs numeric fields or a `text` field to learn from; this version has neither.")
    return np.column_stack([np.nan_to_num(table[n].to_numpy(zero_copy_only=False).astype(float)) for n in numeric])


def label_issues(table: pa.Table, params: CleanParams, blobs: BlobStore) -> tuple[pa.Table, dict[str, Any]]:
    if table["label"].null_count:
        raise Invalid("label_issues needs every record labelled; some records have no label.")
    issues = cleaning.find_label_issues(_features(table), table["label"].to_pylist(), seed=params.seed)
    flagged = {issue.index: issue for issue in issues}
    n = table.num_rows
    table = table.drop_columns([c for c in ("label_issue", "suggested_label", "label_quality") if c in table.column_names])
    table = table.append_column("label_issue", pa.array([i in flagged for i in range(n)]))
    table = table.append_column("suggested_label", pa.array([flagged[i].suggested_label if i in flagged else None for i in range(n)], type=pa.string()))
    table = table.append_column("label_quality", pa.array([round(flagged[i].quality, 4) if i in flagged else None for i in range(n)], type=pa.float64()))
    ids = table["record_id"].to_pylist()
    report = {
        "summary": f"flagged {len(issues)} of {n} records for review",
        "flagged": len(issues),
        "issues_sample": [{"record_id": ids[i.index], **i.as_dict()} for i in issues[:REPORT_SAMPLE]],
    }
    return table, report


OPERATIONS = {"dedup": dedup, "text_quality": text_quality, "image_checks": image_checks, "label_issues": label_issues}
