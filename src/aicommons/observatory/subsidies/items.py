"""The items of 002 三 as the API and CLI show them: each with its rule in words."""

from __future__ import annotations

from aicommons.observatory.subsidies.formulas import describe
from aicommons.observatory.subsidies.rules import Catalogue, catalogue, find_item
from aicommons.observatory.subsidies.schemas import ItemRead


def _read(item_id: str) -> ItemRead:
    item = find_item(item_id)
    return ItemRead(**item.model_dump(), rule=describe(item))


def list_items() -> list[ItemRead]:
    """Every item, in the order of the clauses."""
    return [_read(item.id) for item in catalogue().items]


def get_item(item_id: str) -> ItemRead:
    return _read(item_id)


def policy() -> Catalogue:
    """All of 002 三 as shipped: clause texts, items, the overlap rule and what is not a payment."""
    return catalogue()
