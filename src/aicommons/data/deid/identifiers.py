"""Detectors for numbered identifiers: resident ID numbers, bank cards, unified social credit
codes, vehicle plates and passports. Each is validated where a check character exists."""

from __future__ import annotations

import re
from collections.abc import Iterator

from aicommons.data.deid.checksums import (
    cn_resident_id_structure,
    credit_code_org_check_valid,
    is_valid_bank_card,
    is_valid_cn_resident_id,
    is_valid_credit_code,
)
from aicommons.data.deid.detectors import (
    NOT_AFTER_ALNUM,
    NOT_BEFORE_ALNUM,
    Span,
    context_score,
    detectors,
    keyword_pattern,
)

# Words that say a number is something else: an order, a parcel, a serial, a transaction.
NOT_PERSONAL = keyword_pattern(
    [
        "订单", "单号", "流水", "交易号", "快递", "运单", "物流", "发票", "工单", "编号", "序列号", "批次",
        "型号", "条码", "合同号", "票号", "凭证",
        "order", "order no", "tracking", "invoice", "serial", "transaction", "txn", "ticket",
        "batch", "sku", "model", "reference", "ref", "parcel", "shipment", "confirmation",
    ]
)

# --- resident ID numbers (GB 11643) -----------------------------------------------------------

_ID_CONTEXT = keyword_pattern(
    ["身份证", "身份证号", "证件号", "公民身份号码", "身份号码", "ID card", "identity card", "resident ID", "ID number", "ID no", "PRC ID"]
)
_ID18 = re.compile(NOT_AFTER_ALNUM + r"[1-9]\d{16}[0-9Xx]" + NOT_BEFORE_ALNUM)
_ID15 = re.compile(NOT_AFTER_ALNUM + r"[1-9]\d{14}" + NOT_BEFORE_ALNUM)


@detectors.register("cn_resident_id")
def find_cn_resident_ids(text: str) -> Iterator[Span]:
    """18-character numbers with a valid GB 11643 check character, region and birth date
    (0.95, 1.0 with context); 15-digit numbers with a valid region and birth date (no check
    character exists: 0.6 alone, 0.9 with context)."""
    for m in _ID18.finditer(text):
        if is_valid_cn_resident_id(m.group()):
            score = context_score(text, m.start(), m.end(), base=0.95, positive=_ID_CONTEXT, boosted=1.0, window=20)
            yield Span(m.start(), m.end(), "cn_resident_id", m.group(), score)
    for m in _ID15.finditer(text):
        if is_valid_cn_resident_id(m.group()):
            score = context_score(
                text, m.start(), m.end(), base=0.6, positive=_ID_CONTEXT, negative=NOT_PERSONAL, boosted=0.9, window=20
            )
            yield Span(m.start(), m.end(), "cn_resident_id", m.group(), score)


# --- bank cards (Luhn) -------------------------------------------------------------------------

_CARD_CONTEXT = keyword_pattern(
    [
        "银行卡", "卡号", "信用卡", "储蓄卡", "借记卡", "银联", "账号", "帐号", "开户", "收款",
        "card", "credit card", "debit card", "visa", "mastercard", "amex", "account", "unionpay", "iban",
    ]
)
_CARD = re.compile(NOT_AFTER_ALNUM + r"\d{4}(?:[ -]?\d{2,6}){2,4}" + NOT_BEFORE_ALNUM)


@detectors.register("bank_card")
def find_bank_cards(text: str) -> Iterator[Span]:
    """12-19 digits, optionally grouped by spaces or dashes, that pass Luhn and fit a card
    brand's issuer range and length (0.8, 0.95 with card context). Suppressed after an order or
    serial-number keyword, and when the digits are an ID number with a bad check character."""
    for m in _CARD.finditer(text):
        raw = m.group()
        digits = re.sub(r"[ -]", "", raw)
        if not 12 <= len(digits) <= 19 or not is_valid_bank_card(digits):
            continue
        if (" " in raw or "-" in raw) and not _plausible_grouping(raw):
            continue
        score = context_score(text, m.start(), m.end(), base=0.8, positive=_CARD_CONTEXT, negative=NOT_PERSONAL, window=20)
        if score < 0.95 and (cn_resident_id_structure(digits) or (len(digits) == 15 and is_valid_cn_resident_id(digits))):
            score = 0.3  # shaped like an ID number (a bad check, or the old 15-digit form): not confidently a card
        yield Span(m.start(), m.end(), "bank_card", raw, score)


def _plausible_grouping(raw: str) -> bool:
    """Cards are written in groups of 4 (Amex 4-6-5, some 19-digit cards end with 3)."""
    groups = re.split(r"[ -]", raw)
    seps = set(re.findall(r"[ -]", raw))
    return len(seps) == 1 and (all(len(g) == 4 for g in groups[:-1]) or [len(g) for g in groups] == [4, 6, 5])


# --- unified social credit codes (GB 32100) -------------------------------------------------------

_CREDIT_CONTEXT = keyword_pattern(
    ["统一社会信用代码", "信用代码", "社会信用代码", "营业执照", "纳税人识别号", "税号", "credit code", "USCC", "business licence", "business license", "tax ID"]
)
_CREDIT = re.compile(NOT_AFTER_ALNUM + r"[0-9A-HJ-NP-RTUW-Y]{18}" + NOT_BEFORE_ALNUM)


@detectors.register("cn_credit_code")
def find_cn_credit_codes(text: str) -> Iterator[Span]:
    """18 characters with a valid GB 32100 check character (0.9 when the embedded GB 11714
    organisation code also checks, else 0.7; 0.98 with context)."""
    for m in _CREDIT.finditer(text):
        code = m.group()
        if not is_valid_credit_code(code):
            continue
        base = 0.9 if credit_code_org_check_valid(code) else 0.7
        if code.isdigit() and cn_resident_id_structure(code):
            base = 0.3  # an ID-shaped number that happens to pass MOD 31
        score = context_score(text, m.start(), m.end(), base=base, positive=_CREDIT_CONTEXT, boosted=0.98, window=20)
        yield Span(m.start(), m.end(), "cn_credit_code", code, score)


# --- vehicle plates ---------------------------------------------------------------------------------

CN_PLATE_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_CONTEXT = keyword_pattern(["车牌", "牌照", "号牌", "车辆", "车号", "驾驶", "停车", "plate", "licence plate", "license plate", "vehicle", "car"])
_L = "A-HJ-NP-Z"  # plate letters exclude I and O
_PLATE = re.compile(
    rf"(?<![0-9A-Za-z])[{CN_PLATE_PROVINCES}][{_L}](?:[·•\- ]?)"
    rf"(?:(?P<ne_small>[DF][{_L}0-9]\d{{4}})|(?P<ne_large>\d{{5}}[DF])|(?P<regular>[{_L}0-9]{{4}}[{_L}0-9挂学警港澳领试超]))"
    + NOT_BEFORE_ALNUM
)


@detectors.register("cn_plate")
def find_cn_plates(text: str) -> Iterator[Span]:
    """Mainland plates: province + letter + five characters (at most two letters, I/O never),
    or new-energy plates with six (D/F first for small cars, last for large). 0.85, 0.95 with context."""
    for m in _PLATE.finditer(text):
        if m.group("regular"):
            tail = m.group("regular")
            if sum(c.isalpha() and c.isascii() for c in tail) > 2 or not any(c.isdigit() for c in tail[:4]):
                continue
        score = context_score(text, m.start(), m.end(), base=0.85, positive=_PLATE_CONTEXT, negative=NOT_PERSONAL, window=12)
        yield Span(m.start(), m.end(), "cn_plate", m.group(), score)


# --- passports --------------------------------------------------------------------------------------------

_PASSPORT_CONTEXT = keyword_pattern(["护照", "passport", "travel document", "通行证", "旅行证"])
_PASSPORT = re.compile(
    NOT_AFTER_ALNUM
    + r"(?:(?P<cn>E[0-9A-HJ-NP-Z]\d{7}|[EGDSP]\d{8}|[DSP]E\d{7})|(?P<other>[A-Z]\d{8}|\d{9}|[A-Z]{2}\d{7}))"
    + NOT_BEFORE_ALNUM
)


@detectors.register("passport")
def find_passports(text: str) -> Iterator[Span]:
    """Passport numbers (Chinese E/G/D/S/P series, 9-digit and letter+8-digit forms). Nothing
    checks a passport number by itself, so a match counts only next to a passport keyword,
    before it or just after (0.9); a Chinese-series number alone scores 0.45, anything else 0.2."""
    for m in _PASSPORT.finditer(text):
        base = 0.45 if m.group("cn") else 0.2
        score = context_score(
            text, m.start(), m.end(), base=base, positive=_PASSPORT_CONTEXT, negative=NOT_PERSONAL, boosted=0.9, window=30, window_after=6
        )
        yield Span(m.start(), m.end(), "passport", m.group(), score)
