"""Unified social credit codes (GB 32100-2015): published codes pass, every kind of damage is named."""

from __future__ import annotations

import random

import pytest

from aicommons.observatory.enterprises.credit_codes import (
    ALPHABET,
    check_character,
    credit_code_problem,
    is_valid_credit_code,
)

pytestmark = pytest.mark.no_database

# Codes the enterprises publish (annual reports, business licences).
PUBLISHED_CODES = {
    "91330000733796106P": "杭州海康威视数字技术股份有限公司",
    "91330000727215176K": "浙江大华技术股份有限公司",
    "91330100716105852F": "阿里巴巴（中国）有限公司",
    "91330100799655058B": "an Alibaba company in Hangzhou (the code cited in issue #8)",
    "91330106673959654P": "阿里云计算有限公司",
    "91330000747735638J": "浙江吉利控股集团有限公司",
    "91340000711771143J": "科大讯飞股份有限公司",
    "9144030071526726XG": "腾讯科技（深圳）有限公司",
    "914403001922038216": "华为技术有限公司",
    "91110108551385082Q": "小米科技有限责任公司",
    "91110000802100433B": "百度在线网络技术（北京）有限公司",
}


@pytest.mark.parametrize("code", sorted(PUBLISHED_CODES))
def test_published_codes_are_valid(code):
    assert credit_code_problem(code) is None, PUBLISHED_CODES[code]


def test_the_weights_are_powers_of_three_mod_31():
    from aicommons.observatory.enterprises.credit_codes import WEIGHTS

    assert WEIGHTS == (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def test_lower_case_and_full_width_input_is_normalised():
    assert is_valid_credit_code(" 91330000733796106p ")
    assert is_valid_credit_code("９１３３００００７３３７９６１０６Ｐ")


def test_every_other_check_character_is_refused():
    code = "91330000733796106P"
    for char in ALPHABET.replace("P", ""):
        problem = credit_code_problem(code[:17] + char)
        assert problem == f"ends with check character {char!r}, but the first 17 characters give 'P'"


def test_one_changed_character_is_caught():
    """A single substitution anywhere changes the weighted sum by a non-multiple of 31 (31 is prime)."""
    rng = random.Random(3)
    code = "91330106673959654P"
    for position in range(8, 17):
        replacement = rng.choice([c for c in ALPHABET if c != code[position]])
        assert credit_code_problem(code[:position] + replacement + code[position + 1:]) is not None


@pytest.mark.parametrize(
    ("code", "fragment"),
    [
        ("9133000073379610P", "must have 18 characters; it has 17"),
        ("91330000733796106PX", "must have 18 characters; it has 19"),
        ("", "it has 0"),
        ("91330000733796I06P", "'I'"),
        ("91330000733796O06P", "'O'"),
        ("9133000073379S106P", "'S'"),
        ("91330000V33796106P", "'V'"),
        ("913300007Z3796106P", "'Z'"),
        ("B1330000733796106P", "registration authority 'B'"),
        ("94330000733796106P", "entity type '4', which authority '9' does not issue"),
        ("91990000733796106P", "'990000' in characters 3–8, which is not an administrative division code"),
        ("91AB0000733796106P", "which is not an administrative division code"),
        ("91331500733796106P", "a Zhejiang code naming no Zhejiang city"),
    ],
)
def test_malformed_codes_are_refused_with_the_reason(code, fragment):
    problem = credit_code_problem(code)
    assert problem is not None and fragment in problem


def test_generated_codes_with_their_check_character_pass():
    rng = random.Random(0)
    for _ in range(200):
        first17 = "91" + rng.choice(["330108", "330212", "110108", "440300"]) + "".join(rng.choice(ALPHABET) for _ in range(9))
        code = first17 + check_character(first17)
        assert credit_code_problem(code) is None
        assert credit_code_problem(first17 + ALPHABET[(ALPHABET.index(code[17]) + 1) % 31]) is not None


def test_other_authorities_and_types_are_accepted():
    for prefix in ("12", "52", "53", "31", "N2", "Y1"):
        first17 = prefix + "330106" + "MA2CXXXX0"
        assert credit_code_problem(first17 + check_character(first17)) is None, prefix
