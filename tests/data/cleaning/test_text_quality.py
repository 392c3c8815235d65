"""Text quality rules: each reason triggers on its own, and ordinary Chinese and English pass."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from aicommons.data.cleaning import TEXT_REASONS, TextRules, check_text
from aicommons.data.cleaning.text_quality import looks_mojibake

CLEAN = [
    "这家酒店的位置很方便，房间干净整洁，服务也很周到。",
    "The model was tested on 1,200 images and filed with the regulator in 2024.",
    "人工智能（AI）公共服务平台支持数据、模型与算力的一站式服务。",
    "Café au lait, naïve façade, Größe, À bientôt… and «quotes».",
    "哈哈哈哈哈，太好笑了！\n第二行\t有制表符。",
]


def mojibake(text: str) -> str:
    """UTF-8 bytes decoded one byte at a time as Windows-1252 (Latin-1 where it has no char)."""
    out = []
    for byte in text.encode("utf-8"):
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out)


@pytest.mark.parametrize("text", CLEAN)
def test_clean_text_passes(text):
    assert check_text(text) == []


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("好", "too_short"),
        ("ok  ", "too_short"),
        ("字" * 100_001, "too_long"),
        ("1234567890 ¥¥¥ 😀😀 !!", "low_script_ratio"),
        ("太好了！！！！！！！！！！！！", "repeated_run"),
        ("哈" * 11 + "，笑死我了", "repeated_run"),
        ("正常的文本\x00中间有空字符", "control_chars"),
        ("text with a bell\x07 inside it", "control_chars"),
        ("这段文字有一个替换字符\ufffd在中间", "encoding_error"),
        ("锟斤拷锟斤拷，烫烫烫的乱码", "encoding_error"),
        (mojibake("中文内容的网页"), "encoding_error"),
        (mojibake("The café’s “menu”"), "encoding_error"),
        ("broken surrogate \udce9 in text", "encoding_error"),
        ("┬丁祑砰砞琁ぃ,筳\ue12eび畉,疍\ue084び", "encoding_error"),  # Big5 read with the wrong table
        ("房&#38388;不及168,居然用复合地板", "encoding_error"),
        ("caf&#xe9; au lait is on the menu", "encoding_error"),
    ],
)
def test_each_reason_is_triggered(text, reason):
    assert reason in check_text(text)


def test_reasons_come_in_a_fixed_order_and_only_when_broken():
    reasons = check_text("\x01" + "!" * 20)
    assert reasons == ["low_script_ratio", "repeated_run", "control_chars"]
    assert reasons == [r for r in TEXT_REASONS if r in reasons]


def test_the_run_bound_is_a_maximum():
    assert check_text("好" * 10 + "，这是十个字") == []
    assert check_text("好" * 11 + "，这是十一个") == ["repeated_run"]
    assert check_text("空格不算" + " " * 30 + "重复字符") == []


def test_rules_are_configurable_and_validated():
    rules = TextRules(min_chars=1, max_chars=5, min_script_ratio=0.0, max_char_run=2)
    assert check_text("好", rules) == []
    assert check_text("好好好", rules) == ["repeated_run"]
    assert check_text("123456", rules) == ["too_long"]
    with pytest.raises(ValidationError):
        TextRules(min_chars=10, max_chars=5)
    with pytest.raises(ValidationError):
        TextRules(min_script_ratio=1.5)
    with pytest.raises(ValidationError):
        TextRules(unknown=1)


@pytest.mark.parametrize("text", ["ÉTÉ”", "Größe", "naïve", "À bientôt…", "Ñandú", "Ø°C", "中文"])
def test_latin_text_is_not_mistaken_for_mojibake(text):
    assert not looks_mojibake(text)


@pytest.mark.parametrize("text", ["café", "中文", "’", "Привет", "😀"])
def test_mojibake_of_any_script_is_found(text):
    assert looks_mojibake(mojibake(text))
