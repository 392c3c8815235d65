"""Postal addresses below the level of a city.

Chinese addresses are chains of administrative divisions (GB/T 2260: 省/自治区/直辖市 → 市/州/盟 →
区/县/旗 → 镇/乡/街道) continued by a road, a number, an estate and a building. A chain counts as
an address when it reaches below the city: "浙江省杭州市" is a place, "杭州市西湖区文三路90号" an
address. It must start at a province, after an address cue (地址、住在、寄到 …) or after
punctuation. English addresses are a house number, a street with a USPS street suffix, an
optional unit and an optional "City, ST 12345" line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from aicommons.data.deid.detectors import CJK, Span, context_score, detectors, keyword_pattern

_PROVINCE_NAMES = (
    "河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾"
)
_PROVINCE = (
    r"(?:北京|天津|上海|重庆)市|(?:北京|天津|上海|重庆)(?=[" + CJK + r"]{1,6}?[区县])"
    rf"|(?:{_PROVINCE_NAMES})省|(?:{_PROVINCE_NAMES})(?=[{CJK}]{{1,6}}?市)"
    r"|内蒙古自治区|广西壮族自治区|西藏自治区|宁夏回族自治区|新疆维吾尔自治区|香港特别行政区|澳门特别行政区"
    r"|(?:内蒙古|广西|西藏|宁夏|新疆)(?=[" + CJK + r"]{1,6}?市)"
)
_NUMERAL = "0-9一二三四五六七八九十百零"
_CN_ADDRESS = re.compile(
    rf"(?P<prov>{_PROVINCE})?"
    rf"(?P<city>[{CJK}]{{2,8}}?(?:市(?![场长民政委])|自治州|地区|盟)|[{CJK}]{{1,4}}县(?=[{CJK}]{{1,8}}?(?:区|县|镇|乡|路|街|道)))?"
    rf"(?P<dist>[{CJK}]{{1,8}}?(?:区|县|旗|市)(?![场长民政委]))?"
    rf"(?P<town>[{CJK}]{{1,8}}?(?:镇|乡|街道))?"
    rf"(?P<road>(?:[{CJK}0-9A-Za-z]{{1,12}}?(?:大道|大街|路|街|巷|弄|胡同|道|里)(?:[东西南北中]段|[{_NUMERAL}]+段)?){{1,2}})?"
    rf"(?P<num>[{_NUMERAL}]+(?:-[0-9]+)?(?:号院|号|弄|支弄))?"
    rf"(?P<estate>[{CJK}0-9A-Za-z]{{1,12}}?(?:小区|花园|公寓|大厦|广场|中心|家园|苑|新村|村|园区|大楼|商城|社区|宿舍|科技园|园|城))?"
    rf"(?P<bldg>(?:[{_NUMERAL}A-Za-z]+(?:号楼|幢|栋|座|单元|层|楼|室|号|期))+)?"
    r"(?P<post>[ ]?\d{6}(?!\d))?"
)
_SUB_CITY = ("dist", "town", "road", "num", "estate", "bldg")
_PROVINCE_AT = re.compile(_PROVINCE)
_CN_CUES = (
    "地址", "住址", "住在", "家住", "住于", "居住在", "居住于", "现居", "现住", "位于", "寄到", "寄往", "寄至", "送到", "送至",
    "发往", "搬到", "户籍地址", "户籍地", "户籍", "落户", "收货地址", "通讯地址", "联系地址", "家庭住址", "居住地", "住所", "所在地",
)
_CN_CUE = re.compile("(?:" + "|".join(sorted(_CN_CUES, key=len, reverse=True)) + r")(?:在|于|到|是|为)?[:：]?\s*")
_BOUNDARY = re.compile(rf"(?:^|(?<=[^{CJK}0-9A-Za-z]))(?=[{CJK}])")


@dataclass(frozen=True)
class AddressParts:
    """The named components of a Chinese address match (empty when absent)."""

    prov: str
    city: str
    dist: str
    town: str
    road: str
    num: str
    estate: str
    bldg: str
    post: str


def parse_cn_address(text: str) -> AddressParts | None:
    """Split a Chinese address into its components, or None when it is not one."""
    m = _CN_ADDRESS.fullmatch(text.strip())
    if m is None:
        return None
    return AddressParts(**{k: v or "" for k, v in m.groupdict().items()})


def find_chinese_addresses(text: str) -> Iterator[Span]:
    starts: dict[int, str] = {}
    for m in _BOUNDARY.finditer(text):
        starts.setdefault(m.start(), "boundary")
    for m in _CN_CUE.finditer(text):
        province = _PROVINCE_AT.search(text, m.end(), m.end() + 4)
        starts[province.start() if province else m.end()] = "cue"
    for m in _PROVINCE_AT.finditer(text):
        starts[m.start()] = "cue" if starts.get(m.start()) == "cue" else "province"
    covered_to = -1
    for start in sorted(starts):
        if start < covered_to:
            continue
        m = _CN_ADDRESS.match(text, start)
        if m is None or m.end() == start:
            continue
        parts = {k for k, v in m.groupdict().items() if v}
        below_city = [p for p in _SUB_CITY if p in parts]
        how = starts[start]
        if not below_city or len(parts - {"post"}) < 2:
            continue
        if how == "boundary" and not ("prov" in parts or "city" in parts and len(below_city) >= 2):
            continue
        score = {"cue": 0.95, "province": 0.9, "boundary": 0.8}[how]
        if "prov" in parts and how != "cue" and len(below_city) == 1 and below_city != ["road"]:
            score = 0.75
        end = m.end()
        yield Span(start, end, "address", text[start:end], score)
        covered_to = end


# USPS Publication 28, appendix C1: street suffixes and their common abbreviations.
_STREET_SUFFIXES = "|".join(
    sorted(
        set(
            """Alley Aly Anex Annex Arcade Avenue Ave Bayou Beach Bend Bluff Bluffs Bottom Boulevard Blvd Branch Bridge
            Brook Brooks Burg Burgs Bypass Camp Canyon Cape Causeway Center Ctr Centers Circle Cir Circles Cliff Cliffs
            Club Common Commons Corner Corners Course Court Ct Courts Cove Coves Creek Crescent Cres Crest Crossing Xing
            Crossroad Crossroads Curve Dale Dam Divide Drive Dr Drives Estate Estates Expressway Expy Extension Ext
            Extensions Fall Falls Ferry Field Fields Flat Flats Ford Fords Forest Forge Forges Fork Forks Fort Freeway
            Fwy Garden Gardens Gateway Glen Glens Green Greens Grove Grv Groves Harbor Harbors Haven Heights Hts Highway
            Hwy Hill Hills Hollow Inlet Island Islands Isle Junction Junctions Key Keys Knoll Knolls Lake Lakes Land
            Landing Lane Ln Light Lights Loaf Lock Locks Lodge Loop Mall Manor Manors Meadow Meadows Mews Mill Mills
            Mission Motorway Mount Mountain Mountains Neck Orchard Oval Overpass Park Parks Parkway Pkwy Parkways Pass
            Passage Path Pike Pine Pines Place Pl Plain Plains Plaza Point Pt Points Port Ports Prairie Radial Ramp
            Ranch Rapid Rapids Rest Ridge Ridges River Road Rd Roads Route Rte Row Rue Run Shoal Shoals Shore Shores
            Skyway Spring Springs Spur Spurs Square Sq Squares Station Sta Stravenue Stream Street St Streets Summit
            Terrace Ter Throughway Trace Track Trafficway Trail Trl Trailer Tunnel Turnpike Underpass Union Unions
            Valley Vly Valleys Viaduct View Views Village Villages Ville Vista Vis Walk Walks Wall Way Ways Well Wells""".split()
        ),
        key=len,
        reverse=True,
    )
)
_EN_ADDRESS = re.compile(
    r"(?<![\w-])\d{1,6}[A-Z]?\s+(?:(?:[NSEW]\.?|North|South|East|West)\s+)?"
    r"(?:(?:[A-Z][a-z]+|\d{1,3}(?:st|nd|rd|th))\.?\s+){1,3}"
    rf"(?:{_STREET_SUFFIXES})\b\.?"
    r"(?:,?\s+(?:Apt\.?|Apartment|Suite|Ste\.?|Unit|#|Room|Rm\.?|Floor|Fl\.?)\s*[A-Za-z0-9-]+)?"
    r"(?P<cityline>,?\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2},\s+[A-Z]{2}\s+\d{5}(?:-\d{4})?(?!\d))?"
)
_EN_CUE = keyword_pattern(["address", "lives at", "live at", "living at", "located at", "ship to", "mail to", "send to", "resides at", "reside at", "moved to", "home"])


def find_english_addresses(text: str) -> Iterator[Span]:
    for m in _EN_ADDRESS.finditer(text):
        base = 0.95 if m.group("cityline") else 0.8
        score = context_score(text, m.start(), m.end(), base=base, positive=_EN_CUE, boosted=max(base, 0.9), window=20)
        yield Span(m.start(), m.end(), "address", m.group(), score)


@detectors.register("address")
def find_addresses(text: str) -> Iterator[Span]:
    """Chinese addresses below city level (0.9 from a province, 0.95 after a cue, 0.8 after
    punctuation with city, district and street) and US-style street addresses (0.8; 0.95 with a
    "City, ST 12345" line)."""
    yield from find_chinese_addresses(text)
    yield from find_english_addresses(text)


_EN_CITYLINE = re.compile(r"([A-Z][a-z]+(?:\s+[A-Z][a-z]+){0,2}),\s+([A-Z]{2})\s+\d{5}(?:-\d{4})?\s*$")


def city_of(address: str) -> str | None:
    """The city-level part of an address (浙江省杭州市; Springfield, IL), or None when the
    address names no city."""
    parts = parse_cn_address(address)
    if parts is not None and (parts.prov or parts.city):
        if parts.city and not parts.city.endswith("县"):  # a county is below a city: keep the province
            return parts.prov + parts.city
        return parts.prov or None
    m = _EN_CITYLINE.search(address)
    if m:
        return f"{m.group(1)}, {m.group(2)}"
    return None
