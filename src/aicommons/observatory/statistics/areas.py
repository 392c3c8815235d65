"""The regions statistics are kept for: Zhejiang province, its 11 cities and their districts.

A region is stored by its GB/T 2260 code (330000 浙江省, 330100 杭州市, 330108 滨江区), so a ranking
sorts and breaks ties the same way everywhere; input may give the code, the Chinese name (with or
without 市/区/县), or a city's pinyin name. The list comes from the enterprise registry's
`zhejiang_regions.json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

from aicommons.core.errors import Invalid
from aicommons.observatory.enterprises.regions import cities

PROVINCE_CODE, PROVINCE_NAME = "330000", "浙江省"


@dataclass(frozen=True)
class Area:
    code: str
    name: str
    scope: Literal["province", "city", "district"]
    city: str | None = None  # the city's Chinese name, for a city or a district

    @property
    def district(self) -> str | None:
        return self.name if self.scope == "district" else None


@cache
def areas() -> dict[str, Area]:
    found = {PROVINCE_CODE: Area(PROVINCE_CODE, PROVINCE_NAME, "province")}
    for city in cities():
        found[city.code] = Area(city.code, city.name, "city", city.name)
        for district in city.districts:
            found[district.code] = Area(district.code, district.name, "district", city.name)
    return found


@cache
def _spellings() -> dict[str, str]:
    spellings = {"zhejiang": PROVINCE_CODE, "浙江": PROVINCE_CODE}
    for city in cities():
        spellings[city.name_en.lower()] = city.code
    for area in areas().values():
        spellings[area.name] = area.code
        short = area.name[:-1] if area.name.endswith(("省", "市", "区", "县")) and len(area.name) > 2 else area.name
        spellings.setdefault(short, area.code)  # a district sharing a city's short name never shadows the city
        spellings[area.code] = area.code
    return spellings


def city_codes() -> list[str]:
    return sorted(code for code, area in areas().items() if area.scope == "city")


def find_area(text: str, name: str = "region") -> Area:
    """The region named by `text`; Invalid saying what is accepted."""
    code = _spellings().get(str(text).strip()) or _spellings().get(str(text).strip().lower())
    if code is None:
        raise Invalid(
            f"The {name!r} parameter must be Zhejiang (330000), one of its cities or districts, given as a GB/T 2260 "
            f"code (330100) or a name (杭州市, Hangzhou, 滨江区); got {text!r} instead."
        )
    return areas()[code]
