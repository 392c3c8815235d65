"""What the home page shows: counts of what the actor's org holds, and platform-wide figures.

One aggregate query per figure group (not a list call per kind), so the home page costs the same
few statements however much an org holds.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons.core.permissions import Actor
from aicommons.core.schemas import Schema
from aicommons.core.tables import Job, Org
from aicommons.data.tables import Dataset
from aicommons.filing.tables import Filing
from aicommons.models.tables import Model
from aicommons.serving.tables import Endpoint


class OrgHoldings(Schema):
    org_name: str
    datasets: int
    models: int
    jobs: int
    running_jobs: int
    endpoints: int
    filings: int


class PlatformFigures(Schema):
    organisations: int
    public_datasets: int
    public_models: int
    filed_models: int


class Overview(Schema):
    org: OrgHoldings
    platform: PlatformFigures


def _owned(table: type, actor: Actor) -> sa.ScalarSelect[int]:
    return sa.select(sa.func.count()).select_from(table).where(table.org_id == actor.org_id).scalar_subquery()


def overview(session: Session, actor: Actor) -> Overview:
    """The actor's org's holdings (counted whatever their visibility: they are its own) and what
    the platform offers everyone."""
    running = sa.select(sa.func.count()).select_from(Job).where(
        Job.org_id == actor.org_id, Job.status.in_(("queued", "running"))
    ).scalar_subquery()
    filed_numbers = sa.select(sa.func.count(sa.distinct(Filing.number))).where(
        Filing.number.is_not(None), Filing.status == "approved"
    ).scalar_subquery()
    org_row = session.execute(sa.select(
        sa.select(Org.name).where(Org.id == actor.org_id).scalar_subquery(),
        _owned(Dataset, actor), _owned(Model, actor), _owned(Job, actor), running, _owned(Endpoint, actor), _owned(Filing, actor),
    )).one()
    platform_row = session.execute(sa.select(
        sa.select(sa.func.count()).select_from(Org).scalar_subquery(),
        sa.select(sa.func.count()).select_from(Dataset).where(Dataset.visibility == "public").scalar_subquery(),
        sa.select(sa.func.count()).select_from(Model).where(Model.visibility == "public").scalar_subquery(),
        filed_numbers,
    )).one()
    return Overview(
        org=OrgHoldings(org_name=org_row[0] or "", datasets=org_row[1], models=org_row[2], jobs=org_row[3],
                        running_jobs=org_row[4], endpoints=org_row[5], filings=org_row[6]),
        platform=PlatformFigures(organisations=platform_row[0], public_datasets=platform_row[1],
                                 public_models=platform_row[2], filed_models=platform_row[3]),
    )
