"""Datasets: create, read, list, update. Their data lives in versions (versions.py)."""

from __future__ import annotations

import json

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.errors import Conflict, not_found
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Action, Actor, find_visible_by_name, require, set_shares, visible_clause
from aicommons.core.schemas import Page
from aicommons.core.tables import Org
from aicommons.data.schemas import DatasetCreate, DatasetRead, DatasetUpdate, Modality
from aicommons.data.tables import Dataset

KIND = "dataset"


def create_dataset(session: Session, actor: Actor | None, spec: DatasetCreate, *, org_id: str | None = None) -> DatasetRead:
    """A new, empty dataset of the actor's org (`actor=None`: the platform, for built-ins)."""
    owner = org_id or (actor.org_id if actor else None)
    if owner is None:
        raise ValueError("create_dataset needs an actor or an org_id")
    if session.scalar(sa.select(Dataset.id).where(Dataset.org_id == owner, sa.func.lower(Dataset.name) == spec.name.lower())):
        raise Conflict(f"Your organisation already has a dataset named {spec.name!r}.")
    _check_orgs_exist(session, spec.shared_with)
    dataset = Dataset(
        id=new_id("ds"),
        org_id=owner,
        name=spec.name,
        modality=spec.modality.value,
        visibility=spec.visibility.value,
        licence=spec.licence,
        description=spec.description,
        tags=sorted(set(spec.tags)),
        created_by=actor.user_id if actor else None,
    )
    session.add(dataset)
    session.flush()
    set_shares(session, KIND, dataset.id, spec.shared_with)
    result = DatasetRead.model_validate(dataset)
    audit.record(session, actor, "dataset.create", KIND, dataset.id, org_id=owner, after=result)
    return result


def _check_orgs_exist(session: Session, org_ids: list[str]) -> None:
    for org_id in org_ids:
        if session.get(Org, org_id) is None:
            raise not_found("organisation", org_id)


def dataset_row(session: Session, actor: Actor, dataset_id: str, action: Action = Action.read) -> Dataset:
    dataset = session.get(Dataset, dataset_id)
    require(session, actor, action, KIND, dataset, dataset_id)
    assert dataset is not None
    return dataset


def get_dataset(session: Session, actor: Actor, dataset_id: str) -> DatasetRead:
    return DatasetRead.model_validate(dataset_row(session, actor, dataset_id))


def list_datasets(
    session: Session,
    actor: Actor,
    *,
    modality: Modality | None = None,
    tag: str | None = None,
    query: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[DatasetRead]:
    stmt = sa.select(Dataset).where(visible_clause(actor, KIND, Dataset))
    if modality is not None:
        stmt = stmt.where(Dataset.modality == Modality(modality).value)
    if query:
        stmt = stmt.where(sa.func.lower(Dataset.name).contains(query.lower()))
    if tag:  # tags are a JSON list of strings; its text form holds each tag in quotes on both backends
        stmt = stmt.where(sa.cast(Dataset.tags, sa.Text).contains(json.dumps(tag, ensure_ascii=False)))
    rows, next_cursor = page_rows(session, stmt, Dataset.id, limit=limit, cursor=cursor, owner="list_datasets")
    return Page[DatasetRead](items=[DatasetRead.model_validate(r) for r in rows], next_cursor=next_cursor)


def update_dataset(session: Session, actor: Actor, dataset_id: str, change: DatasetUpdate) -> DatasetRead:
    """Metadata only; changing visibility or sharing needs an org admin."""
    sharing = change.visibility is not None or change.shared_with is not None
    dataset = dataset_row(session, actor, dataset_id, Action.admin if sharing else Action.write)
    before = DatasetRead.model_validate(dataset)
    if change.visibility is not None:
        dataset.visibility = change.visibility.value
    if change.licence is not None:
        dataset.licence = change.licence
    if change.description is not None:
        dataset.description = change.description
    if change.tags is not None:
        dataset.tags = sorted(set(change.tags))
    if change.shared_with is not None:
        _check_orgs_exist(session, change.shared_with)
        set_shares(session, KIND, dataset.id, change.shared_with)
    session.flush()
    after = DatasetRead.model_validate(dataset)
    audit.record(session, actor, "dataset.update", KIND, dataset.id, org_id=dataset.org_id, before=before, after=after)
    return after


def find_dataset(session: Session, actor: Actor, ref: str) -> DatasetRead:
    """A dataset by id, or by name: the actor's own org's first, then any visible one if unique."""
    if ref.startswith("ds_"):
        return get_dataset(session, actor, ref)
    return DatasetRead.model_validate(find_visible_by_name(session, actor, KIND, Dataset, ref))
