"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

A code is 18 characters from the 31-letter alphabet 0-9 A-H J-N P-R T U W-Y (no I, O, S, V, Z, so
no character reads as another):

    1      registration authority (9 = market regulation, 5 = civil affairs, …)
    2      type of entity under that authority (91 = enterprise, 92 = sole trader, …)
    3–8    administrative division code of the registering office (330108 = Binjiang, Hangzhou)
    9–17   organisation code (GB 11714)
    18     check character: 31 − (Σ value(cᵢ)·wᵢ mod 31), with weights 3ⁱ⁻¹ mod 31
           (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28); 31 is written 0

The division code is checked for shape only (a province-level prefix, and for Zhejiang one of its
eleven cities), not against today's list: a code keeps the division of the office that issued it,
and divisions are merged and renumbered (Hangzhou's 江干区 330104 and 下城区 330103 became 上城区
and 拱墅区 in 2021) while the codes stay valid.
"""

from __future__ import annotations

import unicodedata

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {char: value for value, char in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18

# Registration authority → the entity types it may register (GB 32100-2015, table 1).
ENTITY_TYPES: dict[str, dict[str, str]] = {
    "1": {"1": "机关", "2": "事业单位", "3": "中央编办直接管理机构编制的群众团体", "9": "其他"},
    "2": {"1": "外国常驻新闻机构", "9": "其他"},
    "3": {"1": "律师执业机构", "2": "外国律师事务所驻华代表机构", "3": "司法鉴定机构", "4": "仲裁委员会", "5": "公证处", "6": "基层法律服务所", "9": "其他"},
    "4": {"1": "外国在华文化中心", "9": "其他"},
    "5": {"1": "社会团体", "2": "民办非企业单位", "3": "基金会", "9": "其他"},
    "6": {"1": "外国旅游部门常驻代表机构", "2": "港澳台地区旅游部门常驻内地（大陆）代表机构", "9": "其他"},
    "7": {"1": "宗教活动场所", "2": "宗教院校", "9": "其他"},
    "8": {"1": "基层工会", "9": "其他"},
    "9": {"1": "企业", "2": "个体工商户", "3": "农民专业合作社"},
    "A": {"1": "军队事业单位", "9": "其他"},
    "N": {"1": "组级集体经济组织", "2": "村级集体经济组织", "3": "乡镇级集体经济组织", "9": "其他"},
    "Y": {"1": "其他"},
}

# The first two digits of GB/T 2260 division codes: the 34 province-level divisions, and 10 for
# offices of the central government.
PROVINCE_PREFIXES = frozenset([
    "10", "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
    "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
])  # fmt: skip
ZHEJIANG_CITY_DIGITS = frozenset(f"{n:02d}" for n in range(12))  # 3300 the province, 3301 … 3311 its eleven cities


def normalise(text: str) -> str:
    """Upper-case, without surrounding spaces, full-width characters (ＡＢ１) made half-width."""
    return unicodedata.normalize("NFKC", text).strip().upper()


def check_character(first17: str) -> str:
    """The 18th character for the first 17 (which must use the alphabet)."""
    total = sum(VALUES[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def credit_code_problem(code: str) -> str | None:
    """What is wrong with an already normalised code, in words, or None when it is valid."""
    if len(code) != LENGTH:
        return f"must have {LENGTH} characters; it has {len(code)}"
    bad = sorted({char for char in code if char not in VALUES})
    if bad:
        return f"uses {', '.join(repr(c) for c in bad)}, outside the alphabet 0-9 A-H J-N P-R T U W-Y (no I, O, S, V or Z)"
    authority, entity_type, division = code[0], code[1], code[2:8]
    if authority not in ENTITY_TYPES:
        return f"starts with registration authority {authority!r}, which is none of {', '.join(ENTITY_TYPES)}"
    if entity_type not in ENTITY_TYPES[authority]:
        allowed = ", ".join(f"{k} {v}" for k, v in ENTITY_TYPES[authority].items())
        return f"has entity type {entity_type!r}, which authority {authority!r} does not issue (it issues {allowed})"
    if not division.isdigit() or division[:2] not in PROVINCE_PREFIXES:
        return f"has {division!r} in characters 3–8, which is not an administrative division code (six digits starting with a province code)"
    if division[:2] == "33" and division[2:4] not in ZHEJIANG_CITY_DIGITS:
        return f"has {division!r} in characters 3–8, a Zhejiang code naming no Zhejiang city (3301 … 3311)"
    expected = check_character(code[:17])
    if code[17] != expected:
        return f"ends with check character {code[17]!r}, but the first 17 characters give {expected!r}"
    return None


def is_valid_credit_code(code: str) -> bool:
    return credit_code_problem(normalise(code)) is None
