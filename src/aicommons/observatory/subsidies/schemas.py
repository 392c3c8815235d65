"""The subsidies' public shapes: an item with its rule, a request (quote or application), a quote,
an application as read, an approval or rejection. Amounts are yuan as exact decimals (JSON strings)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

from aicommons.core.schemas import Schema
from aicommons.observatory.subsidies.rules import Item

FIRST_YEAR, LAST_YEAR = 2019, 2100  # 002 took effect when issued, in 2019 (本意见自发文之日起施行)

ProjectKey = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class Status(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


class ItemRead(Item):
    rule: str = Field(description="The formula in words, with its amounts.")


class SubsidyRequest(Schema):
    """What an org asks for; a quote computes it, an application stores it for review."""

    item: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)] = Field(description="An item id, e.g. key-lab.")
    level: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=60)] | None = Field(
        None, description="The level or tier (national, provincial, …); left out for items with one level or none."
    )
    bases: dict[Annotated[str, StringConstraints(max_length=60)], Decimal] = Field(
        default_factory=dict, max_length=20, description="The base amounts the item's formula needs, by name (yuan, counts, m²)."
    )
    year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR, description="The year applied for; yearly caps count per year.")
    project_key: ProjectKey = Field(description="Names the project: applications of one org with one key are one project (从高、从优、不重复).")
    evidence: Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000)] = Field("", description="Evidence notes for the reviewer.")


class PriorPayment(Schema):
    """An approved application that the overlap rule or a yearly cap counts."""

    application_id: str
    item: str
    year: int
    project_key: str
    amount: Decimal


class Quote(Schema):
    org_id: str
    item: str
    clause: str
    level: str | None
    year: int
    project_key: str
    eligible: bool = Field(description="False when a condition of the item is not met.")
    entitlement: Decimal = Field(description="What the item gives on its own.")
    same_project: list[PriorPayment] = Field(description="Approved applications of the same project (the overlap rule).")
    yearly_cap_left: Decimal | None = Field(description="What the item's yearly cap per entity leaves this year; none without a cap.")
    payable: Decimal
    arithmetic: list[str]


class ApplicationRead(Schema):
    id: str
    org_id: str
    item: str
    clause: str
    level: str | None
    year: int
    project_key: str
    bases: dict[str, Decimal]
    evidence: str
    status: Status
    quoted: Decimal = Field(description="Payable when applied for.")
    quote: list[str]
    amount: Decimal | None = Field(description="Fixed by approval.")
    decision: list[str] | None = Field(description="The arithmetic at the decision.")
    reason: str | None
    created_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class Approval(Schema):
    reason: Reason
    amount: Decimal | None = Field(
        None, gt=0, decimal_places=2, description="A lower amount than payable (for items that say 最高); left out, the payable amount."
    )


class Rejection(Schema):
    reason: Reason
