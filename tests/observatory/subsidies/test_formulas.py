"""Worked examples for every item of 002 三, computed by hand from the text, and the refusals of bad input.

Amounts are yuan. Each example names the item, the level, the bases and what the text gives;
thresholds and caps get examples on both sides and at the boundary.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from aicommons.core.errors import Invalid
from aicommons.observatory.subsidies import catalogue
from aicommons.observatory.subsidies.formulas import entitlement, parse_inputs
from aicommons.observatory.subsidies.rules import find_item

# (item, level, bases, expected amount, eligible)
EXAMPLES = [
    # 三.1 按规定给予配套资助: the matching amount stands, no cap
    ("core-tech-matching", "national", {"requested": 3_000_000}, "3000000", True),
    ("core-tech-matching", "city", {"requested": 25_000_000}, "25000000", True),
    # 三.1 基础核心技术攻关项目，最高不超过2000万元
    ("core-tech-foundational", "provincial", {"requested": 12_000_000}, "12000000", True),
    ("core-tech-foundational", "national", {"requested": 30_000_000}, "20000000", True),
    ("core-tech-foundational", "city", {"requested": 20_000_000}, "20000000", True),
    # 三.2 国家、省级重点实验室 1000万元、200万元
    ("key-lab", "national", {}, "10000000", True),
    ("key-lab", "provincial", {}, "2000000", True),
    # 三.2 省级企业研究院 50万元 (its only level may be left out)
    ("enterprise-research-institute", None, {}, "500000", True),
    ("enterprise-research-institute", "provincial", {}, "500000", True),
    # 三.2 省级重点企业研究院: by the provincial and city rules
    ("key-enterprise-research-institute", None, {"requested": 1_500_000}, "1500000", True),
    # 三.2 国家、省、市级研发中心 100万元、50万元、20万元
    ("rd-centre", "national", {}, "1000000", True),
    ("rd-centre", "provincial", {}, "500000", True),
    ("rd-centre", "city", {}, "200000", True),
    # 三.3 实际投入500万元以上 (inclusive), 软硬件投入的30％, 最高不超过500万元
    ("service-platform", None, {"actual_investment": 8_000_000, "hardware_software_investment": 6_000_000}, "1800000", True),
    ("service-platform", None, {"actual_investment": 5_000_000, "hardware_software_investment": 5_000_000}, "1500000", True),
    ("service-platform", None, {"actual_investment": "4999999.99", "hardware_software_investment": 4_000_000}, "0", False),
    ("service-platform", None, {"actual_investment": 30_000_000, "hardware_software_investment": 20_000_000}, "5000000", True),
    ("service-platform", None, {"actual_investment": 16_666_667, "hardware_software_investment": 16_666_667}, "5000000", True),
    ("service-platform", None, {"actual_investment": 6_000_000, "hardware_software_investment": "5000001.55"}, "1500000.47", True),
    # 三.4 国家、省、市级示范应用场景项目 100万元、80万元、50万元
    ("demo-scenario", "national", {}, "1000000", True),
    ("demo-scenario", "provincial", {}, "800000", True),
    ("demo-scenario", "city", {}, "500000", True),
    # 三.5 “5050计划”
    ("talent-startup-5050", None, {"requested": 800_000}, "800000", True),
    # 三.5 研发投入最高给予15%
    ("major-rd-project", None, {"rd_investment": 40_000_000}, "6000000", True),
    ("major-rd-project", None, {"rd_investment": "1234567.89"}, "185185.18", True),
    # 三.5 创投机构投资额累计达1000万元及以上: three years of rent, and of new contribution
    ("venture-rent", None, {"venture_investment": 10_000_000, "requested": 360_000}, "360000", True),
    ("venture-rent", None, {"venture_investment": 9_999_999, "requested": 360_000}, "0", False),
    ("venture-contribution", None, {"venture_investment": 25_000_000, "requested": 1_200_000}, "1200000", True),
    ("venture-contribution", None, {"venture_investment": 5_000_000, "requested": 1_200_000}, "0", False),
    # 三.5 一事一议
    ("major-investment", None, {"requested": 50_000_000}, "50000000", True),
    # 三.6 最高不超过500万元、260万元、60万元
    ("talent-team", "leading-team", {"requested": 6_000_000}, "5000000", True),
    ("talent-team", "ten-thousand-talents", {"requested": 2_000_000}, "2000000", True),
    ("talent-team", "ten-thousand-talents", {"requested": 3_000_000}, "2600000", True),
    ("talent-team", "city-115", {"requested": 600_000}, "600000", True),
    ("talent-team", "city-115", {"requested": 1_000_000}, "600000", True),
    # 三.6 顶尖人才 一事一议; 杭州市高层次人才 by the city policy
    ("top-talent", None, {"requested": 10_000_000}, "10000000", True),
    ("city-high-level-talent", None, {"requested": 300_000}, "300000", True),
    # 三.7 获得上级财政资助的，按规定给予地方配套
    ("enterprise-matching", "national", {"superior_funding": 2_000_000, "requested": 1_000_000}, "1000000", True),
    ("enterprise-matching", "provincial", {"superior_funding": 0, "requested": 1_000_000}, "0", False),
    # 三.8 注册家数、租赁面积占比均达到30%、50%: 100万元、200万元
    ("incubator", None, {"ai_enterprises": 12, "registered_enterprises": 40, "ai_leased_area": 3000, "leased_area": 10000}, "1000000", True),
    ("incubator", None, {"ai_enterprises": 20, "registered_enterprises": 40, "ai_leased_area": 6000, "leased_area": 10000}, "2000000", True),
    ("incubator", None, {"ai_enterprises": 30, "registered_enterprises": 40, "ai_leased_area": 4000, "leased_area": 10000}, "1000000", True),
    ("incubator", None, {"ai_enterprises": 11, "registered_enterprises": 40, "ai_leased_area": 9000, "leased_area": 10000}, "0", False),
    ("incubator", "share-50", {"ai_enterprises": 12, "registered_enterprises": 40, "ai_leased_area": "5000.5", "leased_area": 10000}, "0", False),
    ("incubator", "share-30", {"ai_enterprises": 25, "registered_enterprises": 40, "ai_leased_area": 5000, "leased_area": 10000}, "2000000", True),
    # 三.9 技术服务合同金额30% (the yearly 50万元 per enterprise is applied across applications)
    ("training-environment", None, {"service_contract": 1_000_000}, "300000", True),
    ("training-environment", None, {"service_contract": "333.33"}, "100.00", True),
    # 三.10 主导 国际标准、国家标准 最高不超过200万元、80万元; 参与 国家标准（前三位）、行业标准（前二位）20万元、10万元
    ("standard-lead", "international", {"requested": 2_500_000}, "2000000", True),
    ("standard-lead", "national", {"requested": 500_000}, "500000", True),
    ("standard-lead", "national", {"requested": "800000.01"}, "800000", True),
    ("standard-participate", "national-top3", {}, "200000", True),
    ("standard-participate", "industry-top2", {}, "100000", True),
    # 三.11 实际支出最高不超过50% (the yearly 100万元 per entity is applied across applications)
    ("conference", None, {"actual_spending": 1_500_000}, "750000", True),
    ("conference", None, {"actual_spending": "0.01"}, "0.01", True),
]


def test_every_item_has_a_worked_example_and_threshold_or_cap_items_more():
    counts = Counter(example[0] for example in EXAMPLES)
    assert set(counts) == {item.id for item in catalogue().items}
    for item in catalogue().items:
        bounded = item.conditions or getattr(item.formula, "cap", None) or any(getattr(v, "cap", None) for v in (getattr(item.formula, "levels", None) or {}).values())
        assert counts[item.id] >= (2 if bounded else 1), item.id


@pytest.mark.parametrize(("item_id", "level", "bases", "expected", "eligible"), EXAMPLES, ids=[f"{e[0]}-{i}" for i, e in enumerate(EXAMPLES)])
def test_worked_example(item_id, level, bases, expected, eligible):
    item = find_item(item_id)
    chosen, values = parse_inputs(item, level, bases)
    result = entitlement(item, chosen, values)
    assert (result.amount, result.eligible) == (Decimal(expected), eligible)
    assert result.steps[0] == f"{item.clause} {item.id}: {item.text}"
    assert f"{Decimal(expected):,.2f}" in result.steps[-1]


def test_the_arithmetic_is_written_out():
    item = find_item("service-platform")
    result = entitlement(item, *parse_inputs(item, None, {"actual_investment": 30_000_000, "hardware_software_investment": 20_000_000}))
    assert result.steps[1:] == [
        "Condition 实际投入500万元以上: actual_investment 30,000,000.00 yuan ≥ 5,000,000.00? met",
        "30% × hardware_software_investment 20,000,000.00 yuan = 6,000,000.00",
        "min(6,000,000.00, cap 5,000,000.00) = 5,000,000.00",
    ]
    incubator = find_item("incubator")
    bases = {"ai_enterprises": 30, "registered_enterprises": 40, "ai_leased_area": 4000, "leased_area": 10000}
    steps = entitlement(incubator, *parse_inputs(incubator, None, bases)).steps
    assert "注册家数占比 = ai_enterprises 30 / registered_enterprises 40 = 75%" in steps
    assert steps[-1] == "Every share reaches 30%: tier share-30 (均达到30%) → 1,000,000.00"


@pytest.mark.parametrize(
    ("item_id", "level", "bases", "fragment"),
    [
        ("key-lab", "city", {}, "The 'level' of item 'key-lab' (三.2) must be one of national (国家重点实验室), provincial (省级重点实验室); got 'city' instead"),
        ("key-lab", None, {}, "Item 'key-lab' (三.2) needs a 'level', one of national"),
        ("conference", "national", {"actual_spending": 1}, "has no levels; the 'level' must be left out"),
        ("service-platform", None, {"actual_investment": 6_000_000}, "needs the base amounts actual_investment"),
        ("service-platform", None, {"actual_investment": 6_000_000, "hardware_software_investment": 1, "land": 5}, "'land' is not one of them"),
        ("rd-centre", "city", {"requested": 5}, "takes the base amounts none; 'requested' is not one of them"),
        ("conference", None, {"actual_spending": -1}, "The base 'actual_spending' of item 'conference' must be a number of yuan"),
        ("conference", None, {"actual_spending": "1.005"}, "with at most two decimals"),
        ("conference", None, {"actual_spending": "NaN"}, "must be a number of yuan"),
        ("incubator", None, {"ai_enterprises": "2.5", "registered_enterprises": 4, "ai_leased_area": 1, "leased_area": 2}, "must be a whole number"),
        ("incubator", None, {"ai_enterprises": 5, "registered_enterprises": 4, "ai_leased_area": 1, "leased_area": 2}, "at least ai_enterprises"),
        ("incubator", None, {"ai_enterprises": 0, "registered_enterprises": 4, "ai_leased_area": 0, "leased_area": 0}, "leased_area must be above 0"),
        ("incubator", "share-70", {"ai_enterprises": 1, "registered_enterprises": 2, "ai_leased_area": 1, "leased_area": 2}, "must be one of share-30"),
        ("service-platform", None, {"actual_investment": 6_000_000, "hardware_software_investment": 7_000_000}, "is part of 'actual_investment' and may not exceed it"),
    ],
)
def test_bad_input_is_refused_naming_the_problem(item_id, level, bases, fragment):
    with pytest.raises(Invalid) as refused:
        parse_inputs(find_item(item_id), level, bases)
    assert fragment in refused.value.message
