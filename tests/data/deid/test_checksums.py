"""Check characters: the published examples pass, and every wrong check character fails."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from aicommons.data.deid import fakes
from aicommons.data.deid.checksums import (
    card_brand,
    credit_code_org_check_valid,
    gb11643_check_char,
    gb32100_check_char,
    is_valid_bank_card,
    is_valid_cn_resident_id,
    is_valid_credit_code,
    luhn_valid,
)

GB11643_EXAMPLE = "11010519491231002X"  # the example printed in GB 11643-1999
GB32100_EXAMPLE = "91350100M000100Y43"  # the example used in GB 32100-2015 guidance


def test_the_standard_examples_validate():
    assert gb11643_check_char(GB11643_EXAMPLE[:17]) == "X"
    assert is_valid_cn_resident_id(GB11643_EXAMPLE)
    assert is_valid_cn_resident_id(GB11643_EXAMPLE.lower())  # a lower-case x is still the check X
    assert gb32100_check_char(GB32100_EXAMPLE[:17]) == "3"
    assert is_valid_credit_code(GB32100_EXAMPLE)
    assert credit_code_org_check_valid(GB32100_EXAMPLE)  # M000100Y + check 4 (GB 11714)
    assert luhn_valid("4111111111111111") and is_valid_bank_card("4111111111111111")


@pytest.mark.parametrize("wrong", [c for c in "0123456789X" if c != "X"])
def test_every_other_id_check_character_fails(wrong):
    assert not is_valid_cn_resident_id(GB11643_EXAMPLE[:17] + wrong)


@pytest.mark.parametrize("wrong", [c for c in "0123456789ABCDEFGHJKLMNPQRTUWXY" if c != "3"])
def test_every_other_credit_code_check_character_fails(wrong):
    assert not is_valid_credit_code(GB32100_EXAMPLE[:17] + wrong)


def test_id_structure_is_checked_too():
    body = "99010519491231002"  # no province 99
    assert not is_valid_cn_resident_id(body + gb11643_check_char(body))
    body = "11010519491331002"  # month 13
    assert not is_valid_cn_resident_id(body + gb11643_check_char(body))
    future = (dt.date.today() + dt.timedelta(days=400)).strftime("%Y%m%d")
    body = f"110105{future}002"
    assert not is_valid_cn_resident_id(body + gb11643_check_char(body))


def test_old_15_digit_numbers_need_a_province_and_a_real_date():
    assert is_valid_cn_resident_id("110105491231002")
    assert not is_valid_cn_resident_id("110105491331002")  # month 13
    assert not is_valid_cn_resident_id("990105491231002")  # no province 99


def test_luhn_catches_a_changed_digit_and_brands_bound_lengths():
    assert not luhn_valid("4111111111111112")
    assert card_brand("4111111111111111") == "visa"
    assert card_brand("378282246310005") == "amex" and is_valid_bank_card("378282246310005")
    assert card_brand("6222020200112345674") == "unionpay"
    assert card_brand("2023051612345678") is None  # a date-led order number is in no issuer range


def test_credit_codes_reject_letters_outside_the_gb32100_set():
    assert not is_valid_credit_code(GB32100_EXAMPLE.replace("M", "I"))  # I, O, Z, S, V are not used
    assert not is_valid_credit_code(GB32100_EXAMPLE[:-1])


def test_fakes_pass_the_same_checks_as_real_values():
    rng = random.Random(3)
    for _ in range(200):
        assert is_valid_cn_resident_id(fakes.fake_cn_resident_id(rng))
        assert is_valid_cn_resident_id(fakes.fake_cn_resident_id(rng, old_format=True))
        code = fakes.fake_cn_credit_code(rng)
        assert is_valid_credit_code(code) and credit_code_org_check_valid(code)
        assert is_valid_bank_card(fakes.fake_bank_card(rng, prefix="62", length=rng.choice([16, 19])))
