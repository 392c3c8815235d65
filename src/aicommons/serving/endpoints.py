"""Endpoints as records: deploy a model version (or an alias it follows), change, stop, meter.

These functions decide who may do what; `host.py` runs the deployed versions. An endpoint is
private to its org unless made `public`, and public exposure is guarded by filing (备案): an
endpoint may be made public only while the version it serves is covered by an approved filing,
and other orgs' calls are refused whenever the version it resolves to now is not (the filing
was revoked or deregistered, or an alias moved to an unfiled version). Its own org may always
call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons import filing, models
from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound, invalid_parameter
from aicommons.core.ids import new_id
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Action, Actor, require, visible_clause
from aicommons.core.schemas import Page
from aicommons.serving.schemas import EndpointCreate, EndpointRead, EndpointUpdate, HourlyUsageRead, UsageRead
from aicommons.serving.tables import Endpoint, EndpointUsage

KIND = "endpoint"
PREDICT_PATH = "/api/v1/endpoints/{name}/predict"


def _read(endpoint: Endpoint) -> EndpointRead:
    return EndpointRead.model_validate(endpoint).model_copy(update={"url": PREDICT_PATH.format(name=endpoint.name)})


def endpoint_row(session: Session, actor: Actor, name: str, action: Action = Action.read) -> Endpoint:
    endpoint = session.scalar(sa.select(Endpoint).where(Endpoint.name == name, Endpoint.status != "deleted"))
    if endpoint is None:
        raise NotFound(f"No endpoint named {name!r} exists or it is not visible to you.")
    require(session, actor, action, KIND, endpoint, name)
    return endpoint


def deploy(session: Session, actor: Actor, spec: EndpointCreate) -> EndpointRead:
    """Deploy a readable model's version under a new platform-wide name, owned by the actor's org."""
    model = models.get_model(session, actor, spec.model_id)
    version = models.resolve_version(session, actor, model.id, spec.version)  # exists now, or NotFound
    if session.scalar(sa.select(Endpoint.id).where(Endpoint.name == spec.name)):
        raise Conflict(f"An endpoint named {spec.name!r} already exists; endpoint names are platform-wide.")
    if spec.visibility == "public":
        _require_filed(session, model.name, version, spec.name)
    endpoint = Endpoint(
        id=new_id("ept"), name=spec.name, org_id=actor.org_id, visibility=spec.visibility, model_id=model.id, version_ref=spec.version,
        created_by=actor.user_id, **spec.model_dump(include=_SETTINGS),
    )
    session.add(endpoint)
    session.flush()
    result = _read(endpoint)
    audit.record(session, actor, "endpoint.deploy", KIND, endpoint.id, org_id=endpoint.org_id, after=result, detail={"version_id": version.id})
    return result


_SETTINGS = {"workers", "max_batch_size", "max_wait_ms", "latency_cap_ms", "rate_limit_per_minute"}


def _require_filed(session: Session, model_name: str, version: models.ModelVersionRead, endpoint_name: str) -> None:
    if not filing.is_publicly_servable(session, version.id):
        raise Forbidden(
            f"Endpoint {endpoint_name!r} cannot be public: version {version.number} of model {model_name!r} is not covered by an "
            "approved filing (备案). File it with `aicommons filing create`, or keep the endpoint private."
        )


def get_endpoint(session: Session, actor: Actor, name: str) -> EndpointRead:
    return _read(endpoint_row(session, actor, name))


def list_endpoints(session: Session, actor: Actor) -> list[EndpointRead]:
    rows = session.scalars(
        sa.select(Endpoint).where(visible_clause(actor, KIND, Endpoint), Endpoint.status != "deleted").order_by(Endpoint.name)
    )
    return [_read(r) for r in rows]


def list_endpoint_page(session: Session, actor: Actor, *, limit: int = 50, cursor: str | None = None) -> Page[EndpointRead]:
    """Visible endpoints a page at a time, newest first (the console's list, however many there are)."""
    stmt = sa.select(Endpoint).where(visible_clause(actor, KIND, Endpoint), Endpoint.status != "deleted")
    rows, next_cursor = page_rows(session, stmt, Endpoint.id, limit=limit, cursor=cursor, owner="list_endpoint_page")
    return Page[EndpointRead](items=[_read(r) for r in rows], next_cursor=next_cursor)


def serving_version(session: Session, actor: Actor, name: str) -> models.ModelVersionRead:
    """The model version endpoint `name` resolves to now, for anyone who may see the endpoint: its
    inputs are what a caller must send, even where the model itself is another org's."""
    endpoint = endpoint_row(session, actor, name)
    return models.resolve_deployed_version(session, endpoint.model_id, endpoint.version_ref)


def update_endpoint(session: Session, actor: Actor, name: str, change: EndpointUpdate) -> EndpointRead:
    """Point at another version or alias, rescale, stop or restart. Running callers switch over
    within a second without a dropped request (see host.py)."""
    values = change.model_dump(exclude_none=True)
    # Who may call it is the org admins' call, as for any resource's visibility.
    endpoint = endpoint_row(session, actor, name, Action.admin if "visibility" in values else Action.write)
    before = _read(endpoint)
    if "version" in values:
        models.resolve_version(session, actor, endpoint.model_id, values["version"])
        endpoint.version_ref = values.pop("version")
    for field, value in values.items():
        setattr(endpoint, field, value)
    if endpoint.max_wait_ms >= endpoint.latency_cap_ms:
        raise Invalid(f"max_wait_ms ({endpoint.max_wait_ms}) must be below latency_cap_ms ({endpoint.latency_cap_ms}).")
    if endpoint.visibility == "public":
        version = models.resolve_deployed_version(session, endpoint.model_id, endpoint.version_ref)
        _require_filed(session, models.get_model(session, actor, endpoint.model_id).name, version, name)
    endpoint.updated_at = utcnow()
    session.flush()
    after = _read(endpoint)
    audit.record(session, actor, "endpoint.update", KIND, endpoint.id, org_id=endpoint.org_id, before=before, after=after)
    return after


def delete_endpoint(session: Session, actor: Actor, name: str) -> EndpointRead:
    """Stop serving for good. The row stays (its usage is billing history), so the name stays taken."""
    endpoint = endpoint_row(session, actor, name, Action.admin)
    endpoint.status, endpoint.updated_at = "deleted", utcnow()
    session.flush()
    result = _read(endpoint)
    audit.record(session, actor, "endpoint.delete", KIND, endpoint.id, org_id=endpoint.org_id, after=result)
    return result


@dataclass(frozen=True)
class Target:
    """What a caller's request runs on: the endpoint's settings and the version it resolves to now."""

    endpoint: EndpointRead
    version: models.ModelVersionRead


def resolve_target(session: Session, actor: Actor, name: str) -> Target:
    """What `actor`'s call runs on now. Another org reaches only a public endpoint, and only while
    the version it resolves to now is covered by an approved filing."""
    endpoint = endpoint_row(session, actor, name, Action.run)
    if endpoint.status != "active":
        raise Conflict(f"Endpoint {name!r} is {endpoint.status}; start it with status 'active' first.")
    version = models.resolve_deployed_version(session, endpoint.model_id, endpoint.version_ref)
    if actor.org_id != endpoint.org_id and not actor.is_operator and not filing.is_publicly_servable(session, version.id):
        raise Forbidden(
            f"Endpoint {name!r} now serves a model version that is not covered by an approved filing (备案); "
            "only its own organisation may call it."
        )
    return Target(_read(endpoint), version)


# --- metering -----------------------------------------------------------------------------------


@dataclass
class UsageDelta:
    endpoint_id: str
    org_id: str
    minute: datetime
    calls: int = 0
    rows: int = 0
    errors: int = 0
    compute_seconds: float = 0.0


def record_usage(session: Session, deltas: list[UsageDelta]) -> None:
    """Add metered calls to the per-minute rows (one writer: the serving process's meter)."""
    for delta in deltas:
        key = (delta.endpoint_id, delta.org_id, delta.minute)
        row = session.get(EndpointUsage, key)
        if row is None:
            row = EndpointUsage(endpoint_id=delta.endpoint_id, org_id=delta.org_id, minute=delta.minute, calls=0, rows=0, errors=0, compute_seconds=0.0)
            session.add(row)
        row.calls += delta.calls
        row.rows += delta.rows
        row.errors += delta.errors
        row.compute_seconds += delta.compute_seconds
    session.flush()


def usage(session: Session, actor: Actor, name: str, *, since: datetime | None = None) -> list[UsageRead]:
    """Totals per calling org. The endpoint's org sees every caller; the operator sees all."""
    endpoint = endpoint_row(session, actor, name)
    stmt = (
        sa.select(
            EndpointUsage.org_id, sa.func.sum(EndpointUsage.calls), sa.func.sum(EndpointUsage.rows), sa.func.sum(EndpointUsage.errors),
            sa.func.sum(EndpointUsage.compute_seconds), sa.func.min(EndpointUsage.minute), sa.func.max(EndpointUsage.minute),
        )
        .where(EndpointUsage.endpoint_id == endpoint.id)
        .group_by(EndpointUsage.org_id)
        .order_by(EndpointUsage.org_id)
    )
    if since is not None:
        stmt = stmt.where(EndpointUsage.minute >= since)
    return [
        UsageRead(endpoint=name, org_id=org, calls=calls, rows=rows, errors=errors, compute_seconds=round(seconds, 6), since=first, until=last)
        for org, calls, rows, errors, seconds, first, last in session.execute(stmt)
    ]


MAX_USAGE_HOURS = 24 * 31


def hourly_usage(session: Session, actor: Actor, name: str, *, hours: int = 24, until: datetime | None = None) -> list[HourlyUsageRead]:
    """Endpoint `name`'s metered calls in the `hours` hours up to `until` (default now), one entry
    per hour, oldest first, hours without calls included; summed over every calling org."""
    if not 1 <= hours <= MAX_USAGE_HOURS:
        raise invalid_parameter("hours", "hourly_usage", f"an integer in [1, {MAX_USAGE_HOURS}]", hours)
    endpoint = endpoint_row(session, actor, name)
    last = (until or utcnow()).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    first = last - timedelta(hours=hours - 1)
    # Grouped by minute in SQL (portable across backends), then into hours here: at most 60 rows an hour.
    stmt = (
        sa.select(
            EndpointUsage.minute, sa.func.sum(EndpointUsage.calls), sa.func.sum(EndpointUsage.rows),
            sa.func.sum(EndpointUsage.errors), sa.func.sum(EndpointUsage.compute_seconds),
        )
        .where(EndpointUsage.endpoint_id == endpoint.id, EndpointUsage.minute >= first, EndpointUsage.minute < last + timedelta(hours=1))
        .group_by(EndpointUsage.minute)
    )
    totals = {first + timedelta(hours=i): [0, 0, 0, 0.0] for i in range(hours)}
    for minute, calls, rows, errors, seconds in session.execute(stmt):
        hour = totals[minute.replace(minute=0, second=0, microsecond=0)]
        hour[0] += int(calls)  # PostgreSQL sums integers as numeric
        hour[1] += int(rows)
        hour[2] += int(errors)
        hour[3] += float(seconds)
    return [
        HourlyUsageRead(hour=hour, calls=calls, rows=rows, errors=errors, compute_seconds=round(seconds, 6))
        for hour, (calls, rows, errors, seconds) in totals.items()
    ]
