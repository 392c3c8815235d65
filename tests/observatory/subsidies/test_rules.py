"""The shipped items of 002 三 against the text they quote: every amount and rate, in order, and every clause covered."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from aicommons.core.errors import Invalid
from aicommons.observatory.subsidies import catalogue
from aicommons.observatory.subsidies.rules import Fixed, Item, Share, Tiers, UpTo, find_item

WAN = Decimal(10_000)


def _wan_amounts(text: str) -> list[Decimal]:
    """Every "N万元" of a text, in yuan, in order."""
    return [Decimal(n) * WAN for n in re.findall(r"(\d+)万元", text)]


def _percents(text: str) -> list[Decimal]:
    return [Decimal(n) / 100 for n in re.findall(r"(\d+)[%％]", text)]


def _amounts_in_formula(item: Item) -> set[Decimal]:
    formula, found = item.formula, {c.min for c in item.conditions if c.min} | ({item.yearly_cap} if item.yearly_cap else set())
    if isinstance(formula, Fixed):
        found |= {level.amount for level in formula.levels.values()}
    if isinstance(formula, UpTo):
        found |= {level.cap for level in (formula.levels or {}).values() if level.cap is not None} | ({formula.cap} if formula.cap else set())
    if isinstance(formula, Share) and formula.cap is not None:
        found.add(formula.cap)
    if isinstance(formula, Tiers):
        found |= {tier.amount for tier in formula.tiers.values()}
    return found


def _rates_in_formula(item: Item) -> set[Decimal]:
    if isinstance(item.formula, Share):
        return {item.formula.rate}
    if isinstance(item.formula, Tiers):
        return {tier.min_share for tier in item.formula.tiers.values()}
    return set()


@pytest.mark.parametrize("item", catalogue().items, ids=lambda item: item.id)
def test_every_amount_and_rate_of_the_quoted_words_is_in_the_formula_and_no_other(item):
    clause = catalogue().clauses[item.clause]
    assert item.text in clause and all(condition.text in clause for condition in item.conditions)
    quoted = " ".join([item.text, *(condition.text for condition in item.conditions)])
    assert _amounts_in_formula(item) == set(_wan_amounts(quoted))
    assert _rates_in_formula(item) == set(_percents(quoted))


@pytest.mark.parametrize("item", [i for i in catalogue().items if isinstance(i.formula, Fixed | Tiers) or (isinstance(i.formula, UpTo) and i.formula.levels and any(v.cap for v in i.formula.levels.values()))], ids=lambda item: item.id)
def test_amounts_by_level_follow_the_order_of_分别(item):
    formula = item.formula
    if isinstance(formula, Fixed):
        by_level = [level.amount for level in formula.levels.values()]
    elif isinstance(formula, Tiers):
        by_level = [tier.amount for tier in formula.tiers.values()]
    else:
        by_level = [level.cap for level in formula.levels.values()]
    distinct_in_text = list(dict.fromkeys(_wan_amounts(item.text)))
    assert by_level == distinct_in_text or (len(set(by_level)) == 1 and distinct_in_text == by_level[:1])


def test_every_clause_of_三_has_items_and_every_amount_of_a_clause_belongs_to_one():
    rules = catalogue()
    assert sorted(rules.clauses, key=lambda c: int(c.split(".")[1])) == [f"三.{n}" for n in range(1, 12)]
    for clause, text in rules.clauses.items():
        items = [item for item in rules.items if item.clause == clause]
        assert items, clause
        assert set(_wan_amounts(text)) == set().union(*(_amounts_in_formula(item) for item in items)), clause
        assert set(_percents(text)) == set().union(*(_rates_in_formula(item) for item in items)), clause


def test_the_headline_amounts_of_the_issue():
    assert find_item("key-lab").formula.levels["national"].amount == 10_000_000
    assert find_item("key-lab").formula.levels["provincial"].amount == 2_000_000
    assert [lv.amount for lv in find_item("rd-centre").formula.levels.values()] == [1_000_000, 500_000, 200_000]
    platform = find_item("service-platform")
    assert (platform.formula.rate, platform.formula.cap, platform.conditions[0].min) == (Decimal("0.3"), 5_000_000, 5_000_000)
    assert (find_item("training-environment").formula.rate, find_item("training-environment").yearly_cap) == (Decimal("0.3"), 500_000)
    assert [lv.cap for lv in find_item("standard-lead").formula.levels.values()] == [2_000_000, 800_000]
    assert [lv.amount for lv in find_item("standard-participate").formula.levels.values()] == [200_000, 100_000]
    assert (find_item("conference").formula.rate, find_item("conference").yearly_cap) == (Decimal("0.5"), 1_000_000)
    assert {k: (t.min_share, t.amount) for k, t in find_item("incubator").formula.tiers.items()} == {
        "share-30": (Decimal("0.3"), 1_000_000), "share-50": (Decimal("0.5"), 2_000_000)}


def test_the_overlap_rule_is_quoted_from_the_closing_paragraph_and_its_groups_name_items():
    rules = catalogue()
    assert rules.overlap.principle == "同一项目按照“从高、从优、不重复”原则执行"
    assert rules.overlap.principle in rules.closing
    ids = {item.id for item in rules.items}
    assert all(set(group.items) <= ids for group in rules.overlap.groups)
    for provision in rules.without_payment:
        assert provision.text in rules.clauses[provision.clause]
        assert not _wan_amounts(provision.text)


def test_an_unknown_item_is_refused_naming_the_known_ones():
    with pytest.raises(Invalid, match=r"must be an item of 002 三 \(core-tech-matching, .*conference\); got 'gold-medal' instead"):
        find_item("gold-medal")
