"""Zhejiang's regions: its 11 prefecture-level cities and their 90 districts, counties and county-level cities.

The list ships as `zhejiang_regions.json` (GB/T 2260 codes and names). An enterprise's region is
stored by its full Chinese names (杭州市, 滨江区), so every report groups by the same spelling;
input may also use the name without its 市/区/县 suffix, the city's pinyin name or the six-digit code.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources

_SUFFIXES = ("市", "区", "县")


@dataclass(frozen=True)
class District:
    code: str
    name: str


@dataclass(frozen=True)
class City:
    code: str
    name: str
    name_en: str
    districts: tuple[District, ...]


@cache
def cities() -> tuple[City, ...]:
    data = json.loads(resources.files(__package__).joinpath("zhejiang_regions.json").read_text(encoding="utf-8"))
    return tuple(
        City(c["code"], c["name"], c["name_en"], tuple(District(d["code"], d["name"]) for d in c["districts"]))
        for c in data["cities"]
    )


def _spellings(name: str, code: str, *others: str) -> set[str]:
    short = name[:-1] if name.endswith(_SUFFIXES) and len(name) > 2 else name
    return {name, short, code, *(o.lower() for o in others)}


def _clean(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip()


def find_city(text: str) -> City | None:
    wanted = _clean(text)
    return next((c for c in cities() if wanted in _spellings(c.name, c.code, c.name_en) or wanted.lower() == c.name_en.lower()), None)


def find_district(city: City, text: str) -> District | None:
    wanted = _clean(text)
    return next((d for d in city.districts if wanted in _spellings(d.name, d.code)), None)


def region_problem(city_text: str, district_text: str | None) -> tuple[str, str] | None:
    """("city" or "district", what is wrong) when the region is not Zhejiang's, else None."""
    city = find_city(city_text)
    if city is None:
        allowed = "、".join(c.name for c in cities())
        return "city", f"The city {city_text!r} is not a prefecture-level city of Zhejiang; expected one of {allowed}."
    if district_text and _clean(district_text) and find_district(city, district_text) is None:
        allowed = "、".join(d.name for d in city.districts)
        return "district", f"The district {district_text!r} is not in {city.name}; expected one of {allowed}."
    return None


def resolve_region(city_text: str, district_text: str | None) -> tuple[str, str | None]:
    """The canonical (city, district) names; ValueError naming what was not found and what is allowed."""
    problem = region_problem(city_text, district_text)
    if problem:
        raise ValueError(problem[1])
    city = find_city(city_text)
    district = find_district(city, district_text) if district_text and _clean(district_text) else None
    return city.name, district.name if district else None
