"""The enterprise registry (培育库, 001 二(三)): officials keep one record per unified social credit code.

Only officials (the operator and government orgs) register, change, delete, list and search
enterprises; an enterprise that has its own org on the platform may read the records linked to
that org, and nobody else learns a record exists. A credit code names one record: registering an
existing code is a conflict, and imports and the sample generator merge into the stored record
(`upsert`), so importing a file twice leaves one row per code. Every change is audited with the
digests of the record before and after.
"""

from __future__ import annotations

from typing import Any, Literal

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.orm import Session

from aicommons.core import audit
from aicommons.core.db import utcnow
from aicommons.core.errors import Conflict, Invalid, invalid_parameter, not_found
from aicommons.core.pagination import page_rows
from aicommons.core.permissions import Actor
from aicommons.core.schemas import Page
from aicommons.core.tables import Org
from aicommons.observatory.enterprises.credit_codes import (
    credit_code_problem,
    normalise,
)
from aicommons.observatory.enterprises.regions import cities, find_city, find_district
from aicommons.observatory.enterprises.schemas import (
    CityRead,
    DistrictRead,
    EnterpriseCreate,
    EnterpriseRead,
    EnterpriseUpdate,
    Vocabulary,
    VocabularyEntry,
)
from aicommons.observatory.enterprises.tables import Enterprise
from aicommons.observatory.enterprises.vocabulary import (
    FIELD_LABELS,
    TIER_LABELS,
    AIField,
    Tier,
    field_from_text,
    tier_from_text,
)
from aicommons.core.officials import is_official, require_official

KIND = "enterprise"
Outcome = Literal["created", "updated", "unchanged"]


def vocabulary() -> Vocabulary:
    """The tiers, AI fields and regions a record may use."""
    return Vocabulary(
        tiers=[VocabularyEntry(value=t.value, label=label) for t, label in TIER_LABELS.items()],
        ai_fields=[VocabularyEntry(value=f.value, label=label) for f, label in FIELD_LABELS.items()],
        cities=[
            CityRead(code=c.code, name=c.name, name_en=c.name_en, districts=[DistrictRead(code=d.code, name=d.name) for d in c.districts])
            for c in cities()
        ],
    )


def to_read(row: Enterprise) -> EnterpriseRead:
    # Stored rows were validated on the way in; model_construct skips re-resolving their region.
    return EnterpriseRead.model_construct(
        credit_code=row.credit_code, name=row.name, city=row.city, district=row.district,
        tiers=[Tier(t) for t in row.tiers], ai_fields=[AIField(f) for f in row.ai_fields],
        revenue={int(year): yuan for year, yuan in sorted(row.revenue.items())},
        invention_patents=row.invention_patents, standards=row.standards, products=list(row.products),
        scenarios=list(row.scenarios), org_id=row.org_id, sample=row.sample, created_at=row.created_at, updated_at=row.updated_at,
    )  # fmt: skip


def parse_credit_code(text: str, owner: str) -> str:
    code = normalise(text)
    problem = credit_code_problem(code)
    if problem:
        raise Invalid(f"The 'credit_code' parameter of {owner} must be a unified social credit code; {text!r} {problem}.")
    return code


def _row(session: Session, credit_code: str, owner: str) -> Enterprise:
    code = parse_credit_code(credit_code, owner)
    row = session.get(Enterprise, code)
    if row is None:
        raise not_found(KIND, code)
    return row


def _check_org(session: Session, org_id: str | None) -> None:
    if org_id is not None and session.get(Org, org_id) is None:
        raise Invalid(f"The 'org_id' of an enterprise must be the id of an org on the platform; no org {org_id!r} exists.")


def _values(spec: EnterpriseCreate) -> dict[str, Any]:
    data = spec.model_dump(mode="json")
    data["revenue"] = {str(year): yuan for year, yuan in sorted(spec.revenue.items())}
    return data


def _audit_state(row: Enterprise) -> dict[str, Any]:
    return to_read(row).model_dump(mode="json", exclude={"created_at", "updated_at"})


def upsert(session: Session, actor: Actor, spec: EnterpriseCreate, *, detail: dict[str, Any] | None = None) -> Outcome:
    """Create the record for `spec.credit_code`, or overwrite the stored one with `spec`; audited unless unchanged."""
    return store(session, actor, spec, session.get(Enterprise, spec.credit_code), detail=detail)[0]


def store(
    session: Session, actor: Actor, spec: EnterpriseCreate, row: Enterprise | None, *, detail: dict[str, Any] | None = None
) -> tuple[Outcome, Enterprise]:
    """`upsert` for a caller that has already looked up the stored record (`row`, or None when there is none)."""
    _check_org(session, spec.org_id)
    values = _values(spec)
    if row is None:
        now = utcnow()
        row = Enterprise(**values, created_by=actor.user_id, created_at=now, updated_at=now)
        session.add(row)
        audit.record(session, actor, "enterprise.create", KIND, row.credit_code, org_id=row.org_id, after=_audit_state(row), detail=detail)
        return "created", row
    before = _audit_state(row)
    if before == values:
        return "unchanged", row
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = utcnow()
    audit.record(session, actor, "enterprise.update", KIND, row.credit_code, org_id=row.org_id, before=before, after=_audit_state(row), detail=detail)
    return "updated", row


def parse_enterprise(data: dict[str, Any]) -> EnterpriseCreate:
    """A record from plain values (the CLI's options); Invalid naming every problem."""
    try:
        return EnterpriseCreate.model_validate(data)
    except ValidationError as error:
        raise Invalid(f"The enterprise is invalid: {describe_errors(error)}") from None


def create_enterprise(session: Session, actor: Actor, spec: EnterpriseCreate) -> EnterpriseRead:
    require_official(session, actor, "register enterprises")
    if session.get(Enterprise, spec.credit_code) is not None:
        raise Conflict(f"An enterprise with credit code {spec.credit_code!r} is already registered; update it instead.")
    return to_read(store(session, actor, spec, None)[1])


def get_enterprise(session: Session, actor: Actor, credit_code: str) -> EnterpriseRead:
    """Officials read every record; an enterprise's own org reads the records linked to it."""
    row = _row(session, credit_code, "get_enterprise")
    if row.org_id != actor.org_id and not is_official(session, actor):
        raise not_found(KIND, row.credit_code)
    return to_read(row)


def own_enterprises(session: Session, actor: Actor) -> list[EnterpriseRead]:
    """The records linked to the actor's org."""
    rows = session.scalars(sa.select(Enterprise).where(Enterprise.org_id == actor.org_id).order_by(Enterprise.credit_code))
    return [to_read(row) for row in rows]


def update_enterprise(session: Session, actor: Actor, credit_code: str, change: EnterpriseUpdate) -> EnterpriseRead:
    """Change the fields given; revenue years given are set (null removes a year), the others kept."""
    require_official(session, actor, "change enterprise records")
    row = _row(session, credit_code, "update_enterprise")
    merged = to_read(row).model_dump(exclude={"created_at", "updated_at"})
    given = change.model_dump(exclude_unset=True)
    if "revenue" in given:
        revenue = {**merged["revenue"], **(given.pop("revenue") or {})}
        merged["revenue"] = {year: yuan for year, yuan in revenue.items() if yuan is not None}
    if given.get("org_id") == "":
        given["org_id"] = None
    if "city" in given and "district" not in given:
        merged["district"] = None  # a district of the old city means nothing in the new one
    try:
        spec = EnterpriseCreate.model_validate({**merged, **given})
    except ValidationError as error:
        raise Invalid(f"The change to enterprise {row.credit_code!r} is invalid: {describe_errors(error)}") from None
    store(session, actor, spec, row)
    return to_read(row)


def delete_enterprise(session: Session, actor: Actor, credit_code: str) -> None:
    require_official(session, actor, "delete enterprise records")
    row = _row(session, credit_code, "delete_enterprise")
    before = _audit_state(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "enterprise.delete", KIND, before["credit_code"], org_id=before["org_id"], before=before)


def describe_errors(error: ValidationError) -> str:
    """Pydantic's errors as one line: `field: message` each, the record-wide ones (the region) by their message alone."""
    parts = []
    for e in error.errors():
        message = e["msg"].removeprefix("Value error, ")
        parts.append(f"{'.'.join(map(str, e['loc']))}: {message}" if e["loc"] else message)
    return "; ".join(parts)


def _slug(text: str, from_text: Any, vocabulary_type: type[Tier | AIField], name: str, owner: str) -> str:
    slug = from_text(text)
    if slug not in {v.value for v in vocabulary_type}:
        raise invalid_parameter(name, owner, f"one of {', '.join(v.value for v in vocabulary_type)}", text)
    return str(slug)


def _contains(column: Any, slug: str) -> sa.ColumnElement[bool]:
    # The JSON list's text holds each slug in double quotes on SQLite and PostgreSQL alike, and no
    # slug's quoted form occurs inside another's, so a LIKE finds exactly the rows listing it.
    return sa.cast(column, sa.Text).like(f'%"{slug}"%')


def filtered(
    *,
    city: str | None = None,
    district: str | None = None,
    tier: str | None = None,
    ai_field: str | None = None,
    name: str | None = None,
    sample: bool | None = None,
    owner: str = "list_enterprises",
) -> sa.Select[tuple[Enterprise]]:
    """The records matching every filter given: region (names, short names or codes), tier, AI field, part of the name."""
    stmt = sa.select(Enterprise)
    found_city = None
    if city:
        found_city = find_city(city)
        if found_city is None:
            raise invalid_parameter("city", owner, "a prefecture-level city of Zhejiang such as 杭州市", city)
        stmt = stmt.where(Enterprise.city == found_city.name)
    if district:
        candidates = [found_city] if found_city else list(cities())
        names = {d.name for c in candidates if (d := find_district(c, district))}
        if not names:
            raise invalid_parameter("district", owner, "a district or county of Zhejiang such as 滨江区", district)
        stmt = stmt.where(Enterprise.district.in_(names))
    if tier:
        stmt = stmt.where(_contains(Enterprise.tiers, _slug(tier, tier_from_text, Tier, "tier", owner)))
    if ai_field:
        stmt = stmt.where(_contains(Enterprise.ai_fields, _slug(ai_field, field_from_text, AIField, "ai_field", owner)))
    if name:
        stmt = stmt.where(Enterprise.name.contains(name.strip(), autoescape=True))
    if sample is not None:
        stmt = stmt.where(Enterprise.sample == sample)
    return stmt


def list_enterprises(
    session: Session,
    actor: Actor,
    *,
    city: str | None = None,
    district: str | None = None,
    tier: str | None = None,
    ai_field: str | None = None,
    name: str | None = None,
    sample: bool | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[EnterpriseRead]:
    """Search the registry (officials only), by credit code descending; `cursor` continues a page."""
    require_official(session, actor, "list or search the enterprise registry")
    stmt = filtered(city=city, district=district, tier=tier, ai_field=ai_field, name=name, sample=sample)
    rows, next_cursor = page_rows(session, stmt, Enterprise.credit_code, limit=limit, cursor=cursor, owner="list_enterprises")
    return Page[EnterpriseRead](items=[to_read(r) for r in rows], next_cursor=next_cursor)
