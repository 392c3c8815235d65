"""De-identification as a job: a version in, a de-identified version and a report out.

Text fields are scanned with the detectors and rewritten under a YAML policy; images have
faces blurred or boxed out; chosen quasi-identifier columns are generalised until k-anonymity
holds. The report counts entities by type, keeps sample before/after pairs (so only the data
owner may read it), and holds a residual scan: the detectors rerun on the output, which must
find nothing.
"""

from __future__ import annotations

import secrets
from collections import Counter
from typing import Any, Literal

import pyarrow as pa
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.orm import Session

from aicommons.core.errors import Invalid
from aicommons.core.jobs import JobContext, job_type, submit_job
from aicommons.core.permissions import Action, Actor
from aicommons.core.schemas import JobRead, JobSubmit
from aicommons.data import deid
from aicommons.data.manifest import RESERVED
from aicommons.data.operations import commit_version, finished_result, source_table
from aicommons.data.tables import Dataset
from aicommons.data.versions import version_row, write_version

SAMPLES = 20


class KAnonymity(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quasi_identifiers: list[str] = Field(min_length=1, max_length=20)
    k: int = Field(5, ge=2, le=1000)
    max_suppression: float = Field(0.05, ge=0, le=0.5)


class DeidParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: str | dict[str, Any] | None = Field(None, description="YAML text or a mapping; default: the built-in policy.")
    fields: list[str] | None = Field(None, description="Text fields to scan; default: every string field.")
    faces: Literal["blur", "box", "off"] = "blur"
    k_anonymity: KAnonymity | None = None

    @field_validator("policy")
    @classmethod
    def _policy_loads(cls, value: str | dict[str, Any] | None) -> str | dict[str, Any] | None:
        if value is not None:
            deid.load_policy(value)  # raises Invalid naming the bad key, before anything is queued
        return value

    def loaded_policy(self) -> deid.Policy:
        return deid.DEFAULT_POLICY if self.policy is None else deid.load_policy(self.policy)


class DeidJobParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version_id: str = Field(max_length=40)
    deid: DeidParams


def start_deid(session: Session, actor: Actor, version_id: str, params: DeidParams) -> JobRead:
    version = version_row(session, actor, version_id, Action.write)
    known = {c["name"] for c in version.columns}
    asked = set(params.fields or []) | set(params.k_anonymity.quasi_identifiers if params.k_anonymity else [])
    if unknown := sorted(asked - known):
        raise Invalid(f"Fields {unknown} are not in version {version_id!r}; its fields are {sorted(known)}.")
    job = DeidJobParams(version_id=version_id, deid=params)
    return submit_job(session, actor, JobSubmit(type="data.deid", params=job.model_dump(mode="json")))


def dataset_secret(session: Session, dataset_id: str) -> bytes:
    """The dataset's own key for hashes and pseudonyms: made on first use, never shown."""
    dataset = session.scalar(sa.select(Dataset).where(Dataset.id == dataset_id).with_for_update())
    assert dataset is not None
    if dataset.deid_secret is None:
        dataset.deid_secret = secrets.token_hex(32)
    return bytes.fromhex(dataset.deid_secret)


@job_type("data.deid", params=DeidJobParams)
def run_deid(ctx: JobContext, params: DeidJobParams) -> dict[str, Any]:
    if done := finished_result(ctx):
        return done
    dataset_id, table = source_table(ctx, params.version_id, Action.write)
    with ctx.runtime.session() as session:
        secret = dataset_secret(session, dataset_id)
    report: dict[str, Any] = {"records": table.num_rows}
    table, report["text"] = _text(ctx, table, params.deid, secret)
    if params.deid.faces != "off" and table["file_sha256"].null_count < table.num_rows:
        table, report["images"] = _images(ctx, table, params.deid.faces)
    if params.deid.k_anonymity:
        table, report["k_anonymity"] = _k_anonymity(table, params.deid.k_anonymity)
    residual = report["text"]["residual"] + report.get("images", {}).get("residual_faces", 0)
    report["summary"] = (
        f"{sum(report['text']['by_type'].values())} entities replaced, "
        f"{report.get('images', {}).get('faces', 0)} faces hidden, residual findings: {residual}"
    )
    if residual:
        raise Invalid(f"The residual scan still finds personal data ({residual} findings); no version was written.")
    ctx.progress(0.95, "writing the version")
    return commit_version(
        ctx,
        lambda session: write_version(
            session, ctx.runtime.blobs, ctx.actor, dataset_id, table, operation="deid",
            parameters=params.deid.model_dump(mode="json"), parent_version_id=params.version_id,
            job_id=ctx.job_id, report=report,
        ),
    )


def _text_fields(table: pa.Table, fields: list[str] | None) -> list[str]:
    if fields is not None:
        return fields
    return [n for n in table.column_names if n not in RESERVED and pa.types.is_string(table[n].type)]


def _text(ctx: JobContext, table: pa.Table, params: DeidParams, secret: bytes) -> tuple[pa.Table, dict[str, Any]]:
    policy = params.loaded_policy()
    counts: Counter[str] = Counter()
    samples: list[dict[str, Any]] = []
    residual: list[dict[str, Any]] = []
    ids = table["record_id"].to_pylist()
    fields = _text_fields(table, params.fields)
    for position, name in enumerate(fields):
        values = table[name].to_pylist()
        out = []
        for index, value in enumerate(values):
            if not isinstance(value, str) or not value:
                out.append(value)
                continue
            result = deid.deidentify(value, policy, secret)
            counts.update(result.counts)
            if result.text != value and len(samples) < SAMPLES:
                samples.append({"record_id": ids[index], "field": name, "before": value, "after": result.text})
            for span in deid.residual_scan(result, policy):
                residual.append({"record_id": ids[index], "field": name, "type": span.type})
            out.append(result.text)
            if index % 1000 == 0:
                ctx.progress(0.1 + 0.6 * (position + index / max(len(values), 1)) / len(fields), f"{name}: {index}/{len(values)}")
        table = table.set_column(table.column_names.index(name), name, pa.array(out, type=table[name].type))
    report = {
        "fields": fields,
        "by_type": dict(sorted(counts.items())),
        "samples": samples,
        "residual": len(residual),
        "residual_sample": residual[:SAMPLES],
    }
    return table, report


def _images(ctx: JobContext, table: pa.Table, mode: str) -> tuple[pa.Table, dict[str, Any]]:
    blobs = ctx.runtime.blobs
    faces = residual = 0
    new_files = []
    for sha in table["file_sha256"].to_pylist():
        if sha is None:
            new_files.append(None)
            continue
        image, found = deid.blur_faces(blobs.read_bytes(sha), mode=mode)
        faces += found
        if found:
            residual += deid.count_faces(image)
            sha = blobs.put_bytes(image).sha256
        new_files.append(sha)
    table = table.set_column(table.column_names.index("file_sha256"), "file_sha256", pa.array(new_files, type=pa.string()))
    return table, {"faces": faces, "mode": mode, "residual_faces": residual}


def _k_anonymity(table: pa.Table, spec: KAnonymity) -> tuple[pa.Table, dict[str, Any]]:
    result = deid.generalise_for_k(table, spec.quasi_identifiers, spec.k, max_suppression=spec.max_suppression)
    if result.k_reached < spec.k:
        raise Invalid(
            f"k-anonymity with k={spec.k} over {spec.quasi_identifiers} was not reached (best k={result.k_reached}) "
            f"within {spec.max_suppression:.0%} suppression."
        )
    return result.rows, {
        "k_requested": spec.k,
        "k_reached": result.k_reached,
        "suppressed": result.suppressed,
        "levels": result.levels,
    }
