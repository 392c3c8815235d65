"""Data operations as jobs: each reads a version (or an upload) and writes a new version.

`start_*` functions check permissions and submit; the job functions do the work in a worker,
commit the new version together with the job's checkpoint, and so run exactly once.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Conflict, Invalid
from aicommons.core.jobs import JobContext, get_job, job_type, submit_job
from aicommons.core.permissions import Action, Actor
from aicommons.core.schemas import JobRead, JobSubmit
from aicommons.data import archives, imports
from aicommons.data.datasets import dataset_row
from aicommons.data.exports import exporters
from aicommons.data.manifest import ManifestCache, build_table
from aicommons.data.schemas import Modality, SplitParams, VersionRead
from aicommons.data.splits import assign_splits
from aicommons.data.uploads import stage_path, stage_upload
from aicommons.data.versions import version_row, write_version


def manifest_cache(ctx_or_runtime: Any) -> ManifestCache:
    runtime = getattr(ctx_or_runtime, "runtime", ctx_or_runtime)
    return ManifestCache(runtime.blobs, runtime.settings.home / "cache" / "manifests")


def source_table(ctx: JobContext, version_id: str, action: Action = Action.read) -> tuple[str, pa.Table]:
    """The dataset id and manifest table of the version a job works on, checked for the job's actor."""
    with ctx.runtime.session() as session:
        version = version_row(session, ctx.actor, version_id, action)
        dataset_id, manifest = version.dataset_id, version.manifest_sha256
    return dataset_id, manifest_cache(ctx).table(manifest)


def finished_result(ctx: JobContext) -> dict[str, Any] | None:
    """A job that already committed its version (and then lost its worker) just reports it."""
    return ctx.state.get("result")


# --- import -----------------------------------------------------------------------------------


class ImportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: str = Field(max_length=40)
    source_sha256: str = Field(min_length=64, max_length=64)
    source_name: str = Field(max_length=255)
    options: imports.ImportOptions = Field(default_factory=imports.ImportOptions)


def import_upload(
    session: Session, blobs: BlobStore, actor: Actor, dataset_id: str, stream: BinaryIO, filename: str,
    options: imports.ImportOptions,
) -> JobRead:
    """Check the actor may write, take in the upload (refusing bad archives), queue the import."""
    dataset_row(session, actor, dataset_id, Action.write)
    ref = stage_upload(blobs, stream, filename)
    return start_import(session, actor, dataset_id, ref.sha256, filename, options)


def import_path(
    session: Session, blobs: BlobStore, actor: Actor, dataset_id: str, path: Path, options: imports.ImportOptions
) -> JobRead:
    """The CLI's import: a local file, archive or folder."""
    dataset_row(session, actor, dataset_id, Action.write)
    ref, name = stage_path(blobs, path)
    return start_import(session, actor, dataset_id, ref.sha256, name, options)


def start_import(
    session: Session, actor: Actor, dataset_id: str, source_sha256: str, source_name: str, options: imports.ImportOptions
) -> JobRead:
    dataset_row(session, actor, dataset_id, Action.write)
    params = ImportParams(dataset_id=dataset_id, source_sha256=source_sha256, source_name=source_name, options=options)
    return submit_job(session, actor, JobSubmit(type="data.import", params=params.model_dump(mode="json")))


def _check_modality(modality: str, table: pa.Table) -> None:
    if modality == Modality.text and "text" not in table.column_names:
        raise Invalid("A text dataset needs a `text` field; name the column holding the text with text_field.")
    if modality == Modality.image and table["file_sha256"].null_count == table.num_rows:
        raise Invalid("An image dataset needs images; this upload holds none.")
    if modality == Modality.traffic:
        roles = set(table["role"].to_pylist()) if "role" in table.column_names else set()
        if not {"network", "routes"} <= roles:
            raise Invalid("A traffic dataset needs road networks and their routes (records with role 'network' and 'routes'); "
                          "import a folder or archive of SUMO .net.xml and .rou.xml files with format 'sumo'.")


@job_type("data.import", params=ImportParams)
def run_import(ctx: JobContext, params: ImportParams) -> dict[str, Any]:
    if done := finished_result(ctx):
        return done
    blobs = ctx.runtime.blobs
    with ctx.runtime.session() as session:
        modality = dataset_row(session, ctx.actor, params.dataset_id, Action.write).modality
    with tempfile.TemporaryDirectory(prefix="aicommons-import-") as workdir:
        source = Path(workdir) / (Path(params.source_name).name or "upload")
        blobs.copy_to(params.source_sha256, source)
        ctx.progress(0.05, "unpacking")
        root = archives.extract(source, Path(workdir) / "unpacked") if archives.archive_kind(source) else source
        records = imports.read(root, params.options, blobs, lambda f, m: ctx.progress(0.1 + 0.7 * f, m))
    ctx.log(f"read {len(records)} records from {params.source_name}")
    table = build_table(records)
    _check_modality(modality, table)
    ctx.progress(0.9, "writing the version")
    return commit_version(
        ctx,
        lambda session: write_version(
            session, blobs, ctx.actor, params.dataset_id, table,
            operation="import", parameters=params.model_dump(mode="json"), job_id=ctx.job_id,
        ),
    )


def commit_version(ctx: JobContext, write: Callable[[Session], VersionRead]) -> dict[str, Any]:
    """Write the version and the job's final checkpoint in one transaction."""
    state: dict[str, Any] = {}
    with ctx.step(state) as session:  # the state dict is saved as it is when the block ends
        version = write(session)
        state["result"] = {"version_id": version.id, "number": version.number, "records": version.record_count}
    return state["result"]


# --- split ------------------------------------------------------------------------------------


class SplitJobParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version_id: str = Field(max_length=40)
    split: SplitParams = Field(default_factory=SplitParams)


def start_split(session: Session, actor: Actor, version_id: str, split: SplitParams) -> JobRead:
    version_row(session, actor, version_id, Action.write)
    params = SplitJobParams(version_id=version_id, split=split)
    return submit_job(session, actor, JobSubmit(type="data.split", params=params.model_dump(mode="json")))


@job_type("data.split", params=SplitJobParams)
def run_split(ctx: JobContext, params: SplitJobParams) -> dict[str, Any]:
    if done := finished_result(ctx):
        return done
    dataset_id, table = source_table(ctx, params.version_id)
    s = params.split
    splits = assign_splits(
        table["record_id"].to_pylist(), table["label"].to_pylist(),
        train=s.train, validation=s.validation, test=s.test, seed=s.seed, stratify=s.stratify,
    )
    table = table.set_column(table.column_names.index("split"), "split", pa.array(splits, type=pa.string()))
    return commit_version(
        ctx,
        lambda session: write_version(
            session, ctx.runtime.blobs, ctx.actor, dataset_id, table, operation="split",
            parameters=s.model_dump(mode="json"), parent_version_id=params.version_id, job_id=ctx.job_id,
        ),
    )


# --- export -----------------------------------------------------------------------------------


class ExportParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version_id: str = Field(max_length=40)
    format: str = Field(max_length=20)


def start_export(session: Session, actor: Actor, version_id: str, format: str) -> JobRead:
    """Anyone who may read a version may export it; the result is a zip in the blob store."""
    version_row(session, actor, version_id)
    exporters.get(format)
    params = ExportParams(version_id=version_id, format=format)
    return submit_job(session, actor, JobSubmit(type="data.export", params=params.model_dump(mode="json")))


@job_type("data.export", params=ExportParams)
def run_export(ctx: JobContext, params: ExportParams) -> dict[str, Any]:
    with ctx.runtime.session() as session:
        version = version_row(session, ctx.actor, params.version_id)
        dataset = dataset_row(session, ctx.actor, version.dataset_id)
        manifest, name = version.manifest_sha256, f"{dataset.name}-v{version.number}-{params.format}"
    table = manifest_cache(ctx).table(manifest)
    with tempfile.TemporaryDirectory(prefix="aicommons-export-") as workdir:
        folder = Path(workdir) / name
        folder.mkdir()
        ctx.progress(0.1, f"writing {params.format}")
        exporters.get(params.format)(table, ctx.runtime.blobs, folder)
        ctx.progress(0.8, "packing")
        packed = Path(shutil.make_archive(str(Path(workdir) / name), "zip", root_dir=folder))
        ref = ctx.runtime.blobs.put_file(packed)
    ctx.log(f"exported {table.num_rows} records as {params.format}: {ref.size} bytes")
    return {"blob_sha256": ref.sha256, "size": ref.size, "filename": f"{name}.zip", "records": table.num_rows}


def export_download(session: Session, actor: Actor, job_id: str) -> tuple[str, str]:
    """The zip a finished export job wrote: (blob digest, file name)."""
    job = get_job(session, actor, job_id)
    if job.type != "data.export":
        raise Invalid(f"Job {job_id!r} is a {job.type} job, not an export.")
    if job.status != "succeeded" or not job.result:
        raise Conflict(f"Export job {job_id!r} is {job.status}; its file exists once it has succeeded.")
    return job.result["blob_sha256"], job.result["filename"]
