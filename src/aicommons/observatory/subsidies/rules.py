"""The subsidy items of 002 三 as data: ``subsidies/rules.yaml``, checked when it is loaded.

Each item cites its clause (三.1 … 三.11) and quotes the sentence of the clause it rests on, word
for word; the clause texts themselves are in the file too, so a check here proves every quote is
part of its clause. An item's rule is one of four formulas (see `formulas`):

- ``fixed``: a fixed amount by level (国家 / 省 / 市 …), e.g. 三.2 key laboratories 10 M / 2 M yuan;
- ``up_to``: the amount applied for, capped by level where the text says 最高不超过 (三.10 lead
  standards 2 M / 0.8 M), uncapped where the text defers to another rule (按规定, 一事一议);
- ``share``: a share of a base amount, with an optional cap per application (三.3: 30% of the hardware
  and software investment, at most 5 M);
- ``tiers``: amounts by the tier that several shares all reach (三.8: 30% / 50% → 1 M / 2 M).

Around the formula an item may have conditions on its bases (三.3: 实际投入500万元以上, inclusive as
以上 is in Chinese law), a yearly cap per entity (三.9, 三.11), and a number of years it is paid
(三.5: 三年). What 三 provides that is not a payment (government first purchase, fund investment) is
listed under ``without_payment``.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Annotated, Literal

import yaml
from pydantic import Field, StringConstraints, model_validator

from aicommons.core.errors import Invalid
from aicommons.core.schemas import Schema

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,59}$")]
BaseName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,59}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
Yuan = Annotated[Decimal, Field(ge=0, decimal_places=2)]
Fraction = Annotated[Decimal, Field(gt=0, le=1)]
Unit = Literal["yuan", "count", "m2"]
UNIT_LABELS = {"yuan": "yuan", "count": "", "m2": "m²"}


class BaseSpec(Schema):
    """A quantity an application gives for the formula: an amount in yuan, a count or an area."""

    unit: Unit
    label: Text


class Condition(Schema):
    """The base must reach `min` (inclusive, as 以上 and 及以上 are; `strict` for "more than")."""

    base: BaseName
    min: Yuan
    strict: bool = False
    text: Text = Field(description="The words of the clause that set the condition.")


class FixedLevel(Schema):
    label: Text
    amount: Yuan


class Fixed(Schema):
    kind: Literal["fixed"]
    levels: dict[Slug, FixedLevel] = Field(min_length=1)


class CapLevel(Schema):
    label: Text
    cap: Yuan | None = Field(description="最高不超过; none where the text defers to another rule.")


class UpTo(Schema):
    """The amount applied for (`base`), at most the cap of its level, or of the item without levels."""

    kind: Literal["up_to"]
    base: BaseName
    levels: dict[Slug, CapLevel] | None = None
    cap: Yuan | None = None

    @model_validator(mode="after")
    def _one_place_for_caps(self) -> UpTo:
        if self.levels is not None and self.cap is not None:
            raise ValueError("an up_to formula with levels sets its caps by level, not `cap`")
        return self


class Share(Schema):
    """`rate` × `base`, at most `cap` per application when one is set."""

    kind: Literal["share"]
    base: BaseName
    rate: Fraction
    cap: Yuan | None = None


class SharePart(Schema):
    """The share `part` / `whole` (e.g. AI enterprises / all enterprises registered)."""

    part: BaseName
    whole: BaseName
    label: Text


class TierLevel(Schema):
    label: Text
    min_share: Fraction
    amount: Yuan


class Tiers(Schema):
    """The amount of the highest tier that every share reaches (均达到)."""

    kind: Literal["tiers"]
    shares: list[SharePart] = Field(min_length=1)
    tiers: dict[Slug, TierLevel] = Field(min_length=1)


Formula = Annotated[Fixed | UpTo | Share | Tiers, Field(discriminator="kind")]


class Item(Schema):
    """One subsidy item of 002 三."""

    id: Slug
    clause: Annotated[str, StringConstraints(pattern=r"^三\.(?:[1-9]|1[01])$")]
    title: Text
    text: Text = Field(description="The sentence of the clause the item rests on, as written.")
    formula: Formula
    bases: dict[BaseName, BaseSpec] = Field(default_factory=dict)
    conditions: list[Condition] = Field(default_factory=list)
    within: dict[BaseName, BaseName] = Field(default_factory=dict, description="A base that is part of another may not exceed it.")
    yearly_cap: Yuan | None = Field(None, description="At most this much per entity per year under this item.")
    per_year: bool = Field(False, description="Paid year by year: the same project may be paid again in another year.")
    max_years: int | None = Field(None, ge=1, description="Paid for at most this many years per project.")
    review: Text = Field(description="What the reviewer checks that no number shows.")

    @property
    def levels(self) -> dict[str, str]:
        """Level (or tier) id → label; empty for items without levels."""
        formula = self.formula
        if isinstance(formula, Fixed):
            return {key: level.label for key, level in formula.levels.items()}
        if isinstance(formula, UpTo):
            return {key: level.label for key, level in (formula.levels or {}).items()}
        if isinstance(formula, Tiers):
            return {key: tier.label for key, tier in formula.tiers.items()}
        return {}

    def used_bases(self) -> set[str]:
        formula = self.formula
        used = {c.base for c in self.conditions} | set(self.within) | set(self.within.values())
        if isinstance(formula, UpTo | Share):
            used.add(formula.base)
        if isinstance(formula, Tiers):
            used |= {name for share in formula.shares for name in (share.part, share.whole)}
        return used

    @model_validator(mode="after")
    def _bases_declared_and_used(self) -> Item:
        used, declared = self.used_bases(), set(self.bases)
        if used != declared:
            raise ValueError(f"item {self.id}: bases used {sorted(used)} but declared {sorted(declared)}")
        if self.max_years is not None and not self.per_year:
            raise ValueError(f"item {self.id}: max_years needs per_year")
        return self


class OverlapGroup(Schema):
    items: list[Slug] = Field(min_length=2)
    why: Text


class Overlap(Schema):
    principle: Text
    groups: list[OverlapGroup]


class WithoutPayment(Schema):
    clause: str
    text: Text
    what: Text


class Catalogue(Schema):
    """The whole of 002 三 as shipped: clause texts, items, the overlap rule and what is not paid."""

    document: str
    title: Text
    issuer: Text
    year: int
    clauses: dict[str, Text]
    closing: Text
    overlap: Overlap
    without_payment: list[WithoutPayment]
    items: list[Item]

    @model_validator(mode="after")
    def _consistent(self) -> Catalogue:
        ids = [item.id for item in self.items]
        if len(ids) != len(set(ids)):
            raise ValueError("item ids repeat")
        quotes = [(q.clause, q.text) for q in [*self.items, *self.without_payment]]
        quotes += [(item.clause, condition.text) for item in self.items for condition in item.conditions]
        for clause, text in quotes:
            if text not in self.clauses.get(clause, ""):
                raise ValueError(f"{text!r} is not part of clause {clause}")
        if self.overlap.principle not in self.closing:
            raise ValueError("the overlap principle is not part of the closing paragraph")
        unknown = {name for group in self.overlap.groups for name in group.items} - set(ids)
        if unknown:
            raise ValueError(f"overlap groups name unknown items {sorted(unknown)}")
        return self


@cache
def catalogue() -> Catalogue:
    text = resources.files("aicommons.observatory.subsidies").joinpath("rules.yaml").read_text(encoding="utf-8")
    return Catalogue.model_validate(yaml.safe_load(text))


def find_item(item_id: str) -> Item:
    for item in catalogue().items:
        if item.id == item_id:
            return item
    known = ", ".join(item.id for item in catalogue().items)
    raise Invalid(f"The 'item' of a subsidy application must be an item of 002 三 ({known}); got {item_id!r} instead.")
