"""Dataset versions: written once, then read, browsed (DuckDB over the manifest) and diffed."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid, NotFound, invalid_parameter, not_found
from aicommons.core.ids import new_id
from aicommons.core.permissions import Action, Actor, require
from aicommons.data import statistics
from aicommons.data.datasets import KIND, dataset_row
from aicommons.data.manifest import ManifestCache, columns_of, store_table
from aicommons.data.schemas import RecordFilter, RecordPage, VersionDiff, VersionRead
from aicommons.data.tables import Dataset, DatasetVersion

MAX_RECORDS_PAGE = 500


def write_version(
    session: Session,
    blobs: BlobStore,
    actor: Actor,
    dataset_id: str,
    table: pa.Table,
    *,
    operation: str,
    parameters: dict[str, Any],
    parent_version_id: str | None = None,
    job_id: str | None = None,
    report: dict[str, Any] | None = None,
) -> VersionRead:
    """Store a manifest and record it as the dataset's next version (with lineage and statistics)."""
    dataset = session.scalar(sa.select(Dataset).where(Dataset.id == dataset_id).with_for_update())
    require(session, actor, Action.write, KIND, dataset, dataset_id)
    assert dataset is not None
    with tempfile.TemporaryDirectory(prefix="aicommons-version-") as workdir:
        manifest = store_table(blobs, table, Path(workdir))
    report_sha = blobs.put_bytes(json.dumps(report, ensure_ascii=False, default=str).encode()).sha256 if report else None
    dataset.latest_version += 1
    version = DatasetVersion(
        id=new_id("dsv"),
        dataset_id=dataset.id,
        number=dataset.latest_version,
        manifest_sha256=manifest,
        record_count=table.num_rows,
        columns=columns_of(table),
        statistics=statistics.compute(table),
        parent_version_id=parent_version_id,
        operation=operation,
        parameters=parameters,
        report_sha256=report_sha,
        job_id=job_id,
        created_by=actor.user_id,
    )
    session.add(version)
    session.flush()
    result = VersionRead.model_validate(version)
    audit.record(
        session, actor, f"dataset.version.{operation}", "dataset_version", version.id, org_id=dataset.org_id,
        after={"manifest": manifest, "parent": parent_version_id, "parameters": parameters},
        detail={"dataset_id": dataset.id, "number": version.number, "job_id": job_id},
    )
    return result


def version_row(session: Session, actor: Actor, version_id: str, action: Action = Action.read) -> DatasetVersion:
    version = session.get(DatasetVersion, version_id)
    if version is None:
        raise not_found("dataset version", version_id)
    try:
        dataset_row(session, actor, version.dataset_id, action)
    except NotFound:
        raise not_found("dataset version", version_id) from None
    return version


def get_version(session: Session, actor: Actor, version_id: str) -> VersionRead:
    return VersionRead.model_validate(version_row(session, actor, version_id))


def resolve_version(session: Session, actor: Actor, dataset_id: str, number: int | None = None) -> VersionRead:
    """A dataset's version by number, or its latest."""
    dataset = dataset_row(session, actor, dataset_id)
    wanted = number if number is not None else dataset.latest_version
    version = session.scalar(
        sa.select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id, DatasetVersion.number == wanted)
    )
    if version is None and wanted == 0:
        raise NotFound(f"Dataset {dataset.name!r} has no versions yet; import data first.")
    if version is None:
        raise NotFound(f"Dataset {dataset.name!r} has no version {wanted}.")
    return VersionRead.model_validate(version)


def list_versions(session: Session, actor: Actor, dataset_id: str) -> list[VersionRead]:
    dataset_row(session, actor, dataset_id)
    rows = session.scalars(
        sa.select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id).order_by(DatasetVersion.number)
    )
    return [VersionRead.model_validate(r) for r in rows]


# --- browsing ---------------------------------------------------------------------------------

_SQL_OPS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _where(version: DatasetVersion, filters: list[RecordFilter], split: str | None, label: str | None) -> tuple[str, list[Any]]:
    known = {"record_id", "split", "label", "file_name"} | {c["name"] for c in version.columns}
    clauses, params = [], []
    for item in filters:
        if item.column not in known:
            raise invalid_parameter("column", "list_records", f"one of {sorted(known)}", item.column)
        column = '"' + item.column.replace('"', '""') + '"'
        if item.op == "contains":
            clauses.append(f"CAST({column} AS VARCHAR) ILIKE ?")
            params.append(f"%{item.value}%")
        elif item.value is None:
            clauses.append(f"{column} IS {'NOT ' if item.op == '!=' else ''}NULL")
        else:
            clauses.append(f"{column} {_SQL_OPS[item.op]} ?")
            params.append(item.value)
    if split is not None:
        clauses.append("split = ?")
        params.append(split)
    if label is not None:
        clauses.append("label = ?")
        params.append(label)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def list_records(
    session: Session,
    cache: ManifestCache,
    actor: Actor,
    version_id: str,
    *,
    filters: list[RecordFilter] = (),  # type: ignore[assignment]
    split: str | None = None,
    label: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> RecordPage:
    """A page of records in record-id order, filtered by DuckDB over the version's manifest."""
    if not 1 <= limit <= MAX_RECORDS_PAGE:
        raise invalid_parameter("limit", "list_records", f"an integer in [1, {MAX_RECORDS_PAGE}]", limit)
    version = version_row(session, actor, version_id)
    where, params = _where(version, list(filters), split, label)
    path = str(cache.path(version.manifest_sha256))
    connection = duckdb.connect()
    try:
        source = f"read_parquet('{path}')"
        try:
            total = connection.execute(f"SELECT count(*) FROM {source}{where}", params).fetchone()[0]
            page_where = where + (" AND " if where else " WHERE ") + "record_id > ?" if cursor else where
            page_params = params + [cursor] if cursor else params
            result = connection.execute(
                f"SELECT * FROM {source}{page_where} ORDER BY record_id LIMIT ?", page_params + [limit + 1]
            )
            names = [column[0] for column in result.description]
            rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
        except duckdb.Error as exc:  # e.g. comparing a text column with a number
            raise Invalid(f"The record filter cannot be applied: {exc}") from None
    finally:
        connection.close()
    next_cursor = rows[limit - 1]["record_id"] if len(rows) > limit else None
    items = [_jsonable(row) for row in rows[:limit]]
    return RecordPage(version_id=version.id, items=items, next_cursor=next_cursor, total=total)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    row = dict(row)
    if row.get("annotations"):
        row["annotations"] = json.loads(row["annotations"])
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}


def get_report(session: Session, blobs: BlobStore, actor: Actor, version_id: str) -> dict[str, Any]:
    """The report of the operation that wrote a version. De-identification reports hold
    before/after samples of personal data, so only the data owner (write access) reads those."""
    version = version_row(session, actor, version_id)
    if version.operation == "deid":
        version_row(session, actor, version_id, Action.write)
    if version.report_sha256 is None:
        raise NotFound(f"Version {version_id!r} ({version.operation}) has no report.")
    return json.loads(blobs.read_bytes(version.report_sha256))


def read_version_table(session: Session, cache: ManifestCache, actor: Actor, version_id: str) -> pa.Table:
    """A version's whole manifest as an Arrow table, for services that learn from it."""
    return cache.table(version_row(session, actor, version_id).manifest_sha256)


def record_file(session: Session, cache: ManifestCache, actor: Actor, version_id: str, record_id: str) -> tuple[str, str]:
    """The blob digest and file name of a record's file (an image), for download."""
    version = version_row(session, actor, version_id)
    table = cache.table(version.manifest_sha256).filter(pa.compute.field("record_id") == record_id)
    if table.num_rows == 0 or table["file_sha256"][0].as_py() is None:
        raise not_found("record file", record_id)
    return table["file_sha256"][0].as_py(), table["file_name"][0].as_py()


def diff_versions(session: Session, cache: ManifestCache, actor: Actor, base_id: str, other_id: str, *, sample: int = 50) -> VersionDiff:
    base = version_row(session, actor, base_id)
    other = version_row(session, actor, other_id)
    if base.dataset_id != other.dataset_id:
        raise Invalid("Both versions must belong to the same dataset.")
    a = _keyed(cache.table(base.manifest_sha256))
    b = _keyed(cache.table(other.manifest_sha256))
    added = sorted(set(b) - set(a))
    removed = sorted(set(a) - set(b))
    common = set(a) & set(b)
    changed = sorted(r for r in common if a[r][0] != b[r][0])
    resplit = sum(1 for r in common if a[r][0] == b[r][0] and a[r][1] != b[r][1])
    return VersionDiff(
        base_version_id=base.id, other_version_id=other.id,
        added=len(added), removed=len(removed), changed=len(changed), resplit=resplit,
        unchanged=len(common) - len(changed) - resplit,
        added_ids=added[:sample], removed_ids=removed[:sample], changed_ids=changed[:sample],
    )


def _keyed(table: pa.Table) -> dict[str, tuple[str, str | None]]:
    ids = table["record_id"].to_pylist()
    return dict(zip(ids, zip(table["content_hash"].to_pylist(), table["split"].to_pylist(), strict=True), strict=True))
