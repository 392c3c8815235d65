"""Zhejiang's regions and the registry's vocabularies: what input is accepted and how it is spelt back."""

from __future__ import annotations

import pytest

from aicommons.observatory.enterprises.regions import cities, resolve_region
from aicommons.observatory.enterprises.vocabulary import (
    AIField,
    Tier,
    field_from_text,
    tier_from_text,
)

pytestmark = pytest.mark.no_database


def test_the_shipped_list_has_11_cities_and_90_county_level_divisions():
    assert len(cities()) == 11
    assert sum(len(c.districts) for c in cities()) == 90
    codes = [d.code for c in cities() for d in c.districts]
    assert len(set(codes)) == 90
    assert all(d.code[:4] == c.code[:4] for c in cities() for d in c.districts)
    hangzhou = next(c for c in cities() if c.name == "杭州市")
    assert {"滨江区", "钱塘区", "临平区"} <= {d.name for d in hangzhou.districts}  # the 2021 division


@pytest.mark.parametrize(
    ("city", "district"),
    [("杭州市", "滨江区"), ("杭州", "滨江"), ("Hangzhou", "330108"), ("330100", "滨江区"), ("hangzhou", " 滨江区 ")],
)
def test_spellings_of_a_region_resolve_to_its_full_names(city, district):
    assert resolve_region(city, district) == ("杭州市", "滨江区")


def test_the_district_may_be_unknown():
    assert resolve_region("宁波", None) == ("宁波市", None)
    assert resolve_region("宁波", "") == ("宁波市", None)


def test_names_shared_across_provinces_resolve_within_the_city():
    assert resolve_region("舟山", "普陀") == ("舟山市", "普陀区")
    assert resolve_region("丽水", "景宁畲族自治县") == ("丽水市", "景宁畲族自治县")


@pytest.mark.parametrize(
    ("city", "district", "message"),
    [
        ("苏州市", None, "The city '苏州市' is not a prefecture-level city of Zhejiang"),
        ("杭州市", "鄞州区", "The district '鄞州区' is not in 杭州市; expected one of 上城区"),
        ("杭州市", "江干区", "not in 杭州市"),  # merged into 上城区 in 2021
    ],
)
def test_regions_outside_zhejiang_are_refused(city, district, message):
    with pytest.raises(ValueError, match=message):
        resolve_region(city, district)


def test_tiers_and_fields_accept_slugs_and_chinese_labels():
    assert tier_from_text("专精特新“小巨人”企业") == Tier.little_giant
    assert tier_from_text('专精特新"小巨人"') == Tier.little_giant
    assert tier_from_text("高新技术企业") == tier_from_text("high-tech") == Tier.high_tech
    assert tier_from_text("瞪羚") == Tier.gazelle
    assert field_from_text("视觉智能") == field_from_text("Computer_Vision") == AIField.computer_vision
    assert tier_from_text("某某企业") == "某某企业"  # left for the schema to refuse
