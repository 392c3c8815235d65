"""Detectors: each type is found in Chinese and English text, look-alikes that fail a check or
carry an order-number cue are not, and overlaps resolve longest-first."""

from __future__ import annotations

import pytest

from aicommons.core.errors import Invalid
from aicommons.data.deid import detect, entity_types
from aicommons.data.deid.checksums import luhn_check_digit
from aicommons.data.deid.detectors import Span, detectors, resolve_overlaps

VALID_ID = "11010519491231002X"
CREDIT_CODE = "91350100M000100Y43"
UNIONPAY = "622202020011234567" + luhn_check_digit("622202020011234567")  # 19 digits
UNIONPAY_GROUPED = " ".join(UNIONPAY[i : i + 4] for i in range(0, 19, 4))


def found(text: str) -> set[tuple[str, str]]:
    return {(s.type, s.text) for s in detect(text)}


@pytest.mark.parametrize(
    "text, expected_type, expected_text",
    [
        (f"身份证号{VALID_ID}，请核实。", "cn_resident_id", VALID_ID),
        ("老身份证110105491231002仍可查询。", "cn_resident_id", "110105491231002"),
        (f"Her PRC ID number is {VALID_ID}.", "cn_resident_id", VALID_ID),
        ("手机：138-1234-5678", "phone", "138-1234-5678"),
        ("有事打+86 13812345678", "phone", "+86 13812345678"),
        ("座机0571-88886666转分机", "phone", "0571-88886666"),
        ("Call me at (217) 977-6317.", "phone", "(217) 977-6317"),
        ("Phone 2179776317", "phone", "2179776317"),
        (f"银行卡号{UNIONPAY_GROUPED}", "bank_card", UNIONPAY_GROUPED),
        (f"退款已原路退回至{UNIONPAY}。", "bank_card", UNIONPAY),
        ("Please charge my Visa 4111 1111 1111 1111.", "bank_card", "4111 1111 1111 1111"),
        (f"统一社会信用代码：{CREDIT_CODE}", "cn_credit_code", CREDIT_CODE),
        (f"The supplier's USCC is {CREDIT_CODE}.", "cn_credit_code", CREDIT_CODE),
        ("车牌号浙A12345的车主请挪车", "cn_plate", "浙A12345"),
        ("新能源车粤BD12345充电完成", "cn_plate", "粤BD12345"),
        ("plate 沪E·08093 was towed", "cn_plate", "沪E·08093"),
        ("护照号码：E12345678", "passport", "E12345678"),
        ("Passport number: 508899579", "passport", "508899579"),
        ("邮箱qwang@example.org欢迎来信", "email", "qwang@example.org"),
        ("Login from 203.0.113.7 was blocked.", "ip_address", "203.0.113.7"),
        ("登录IP：2001:db8::8a2e:370:7334", "ip_address", "2001:db8::8a2e:370:7334"),
        ("我的微博主页：https://weibo.com/u/1234567890", "url", "https://weibo.com/u/1234567890"),
        ("Follow me at https://github.com/jdoe.", "url", "https://github.com/jdoe"),
        ("出生日期：1990年5月12日", "birth_date", "1990年5月12日"),
        ("张伟，男，1990-05-12出生。", "birth_date", "1990-05-12"),
        ("He was born on March 21, 1983 in Ohio.", "birth_date", "March 21, 1983"),
        ("联系人王秀荣，电话见附件。", "person_name", "王秀荣"),
        ("感谢欧阳娜娜女士的帮助。", "person_name", "欧阳娜娜"),
        ("Dear Robert Garza, thank you.", "person_name", "Robert Garza"),
        ("April Garcia's phone number changed.", "person_name", "April Garcia"),
        ("我家住在浙江省杭州市西湖区文三路90号。", "address", "浙江省杭州市西湖区文三路90号"),
        ("She lives at 228 Tina Trail Apt. 883, Palmershire, MI 60680.", "address", "228 Tina Trail Apt. 883, Palmershire, MI 60680"),
    ],
)
def test_each_type_is_found(text, expected_type, expected_text):
    spans = [s for s in detect(text) if s.type == expected_type]
    assert spans, f"no {expected_type} in {text!r}: {detect(text)}"
    assert expected_text in {s.text for s in spans}
    assert all(0.5 <= s.score <= 1.0 and text[s.start : s.end] == s.text for s in spans)


@pytest.mark.parametrize(
    "text",
    [
        f"身份证号{VALID_ID[:17]}1校验失败。",  # wrong GB 11643 check character
        "卡号4111111111111112无效。",  # fails Luhn
        f"信用代码{CREDIT_CODE[:17]}4有误。",  # wrong GB 32100 check character
        "订单创建时间2023-05-16 12:30:45。",  # a timestamp, not a birth date
        "会议定于2024年3月5日召开。",  # a date without a birth cue
        "时间戳1684211445123",
        "当前版本v2.10.3.1，请及时更新。",  # a version, not an IP address
        "官网：https://www.zj.gov.cn/col/col1229019364/index.html",  # not a personal URL
        "Visit https://github.com/features for details.",
        "王者荣耀今晚更新。",  # starts with a surname, no name cue
        "Dear Customer Service Team, thank you.",
        "型号G12345678已停产。",  # passport-shaped, but a model number
        "房间号1203，楼层12。",
    ],
)
def test_look_alikes_are_not_reported(text):
    assert detect(text) == [], detect(text)


def test_a_luhn_valid_number_after_an_order_cue_is_not_a_card():
    body = "411111111111111"
    card = body + luhn_check_digit(body)
    assert ("bank_card", card) in found(f"卡号{card}")
    assert found(f"订单号{card}已发货") == set()
    assert found(f"Order number {card} shipped") == set()


def test_an_id_shaped_number_with_a_bad_check_is_not_taken_for_a_card():
    # An 18-digit ID with a wrong check character may still pass Luhn by chance: find one.
    body = VALID_ID[:17]
    wrong = next(c for c in "0123456789" if c != "X" and luhn_check_digit(body) == c)
    assert detect(f"身份证号{body}{wrong}") == []


def test_types_limits_detection_and_unknown_types_are_refused():
    text = f"手机13812345678，身份证{VALID_ID}"
    assert {s.type for s in detect(text, types=["phone"])} == {"phone"}
    with pytest.raises(Invalid, match="Unknown PII detector 'phonee'"):
        detect(text, types=["phonee"])
    assert set(entity_types()) >= {
        "cn_resident_id", "phone", "bank_card", "cn_credit_code", "cn_plate", "passport",
        "email", "ip_address", "url", "birth_date", "person_name", "address",
    }


def test_min_score_lets_weaker_matches_through():
    text = "会议定于2024年3月5日召开。"
    assert detect(text) == []
    assert [s.type for s in detect(text, min_score=0.2)] == ["birth_date"]


def test_overlaps_resolve_to_the_longest_then_the_highest_score():
    long = Span(0, 10, "address", "x" * 10, 0.6)
    inner = Span(2, 5, "person_name", "x" * 3, 0.95)
    tie_low, tie_high = Span(20, 38, "bank_card", "1" * 18, 0.3), Span(20, 38, "cn_resident_id", "1" * 18, 0.95)
    assert resolve_overlaps([inner, tie_low, long, tie_high]) == [long, tie_high]


def test_a_plugin_detector_registers_like_the_built_ins(monkeypatch):
    import re

    def find_employee_numbers(text):
        for m in re.finditer(r"EMP-\d{6}", text):
            yield Span(m.start(), m.end(), "employee_no", m.group(), 0.9)

    monkeypatch.setitem(detectors._items, "employee_no", find_employee_numbers)  # restored after the test
    assert "employee_no" in entity_types()
    assert [(s.type, s.text) for s in detect("工号EMP-001234，手机13812345678")] == [
        ("employee_no", "EMP-001234"),
        ("phone", "13812345678"),
    ]


def test_detect_refuses_non_text():
    with pytest.raises(Invalid, match="'text' parameter of detect must be a str"):
        detect(b"bytes")  # type: ignore[arg-type]
