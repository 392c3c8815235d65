"""Text quality rules: why a text record should be filtered out, as reason codes.

`check_text(text, rules)` returns the reasons in this order (empty when the text passes):

- `too_short` / `too_long`: fewer than `min_chars` / more than `max_chars` characters, not
  counting whitespace (a character is a character: one hanzi counts as one, like one letter);
- `low_script_ratio`: letters (`str.isalpha`: CJK ideographs, kana, hangul, Latin, Cyrillic, …)
  are fewer than `min_script_ratio` of the non-whitespace characters: digit, symbol, emoji or
  punctuation soup;
- `repeated_run`: one non-whitespace character repeated more than `max_char_run` times in a row
  ("!!!!!!!!!!!!", "哈哈哈哈哈哈哈哈哈哈哈哈");
- `control_chars`: control characters other than tab, line feed and carriage return;
- `encoding_error`: U+FFFD (a decoder's replacement character), lone surrogates, private-use
  characters (what Big5/GBK text decoded with the wrong table often turns into), HTML numeric
  character references left undecoded ("房&#38388;"), UTF-8 read as Windows-1252 / Latin-1
  ("cafÃ©", "ä¸­æ–‡", "â€œ"), or the well-known traces of broken Chinese encodings ("锟斤拷":
  U+FFFD's UTF-8 bytes read as GBK; "烫烫烫", "屯屯屯": uninitialised memory printed as GBK).
"""

from __future__ import annotations

import functools
import re

from pydantic import BaseModel, ConfigDict, Field, model_validator

REASONS = ("too_short", "too_long", "low_script_ratio", "repeated_run", "control_chars", "encoding_error")

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # category Cc, less tab, LF, CR
_UNDECODED = re.compile("[\ud800-\udfff\ue000-\uf8ff\ufffd]|&#[0-9]{2,7};|&#[xX][0-9a-fA-F]{2,6};")
_GBK_TRACES = ("锟斤拷", "烫烫烫", "屯屯屯")


class TextRules(BaseModel):
    """Bounds for `check_text`; the defaults suit Chinese and English prose."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_chars: int = Field(5, ge=0, description="Fewest non-whitespace characters.")
    max_chars: int = Field(100_000, ge=1, description="Most non-whitespace characters.")
    min_script_ratio: float = Field(
        0.5, ge=0.0, le=1.0, description="Least share of letters (CJK or alphabetic) among non-whitespace characters."
    )
    max_char_run: int = Field(10, ge=1, description="Most repeats in a row of one non-whitespace character.")

    @model_validator(mode="after")
    def _bounds_in_order(self) -> TextRules:
        if self.min_chars > self.max_chars:
            raise ValueError(f"min_chars ({self.min_chars}) must not exceed max_chars ({self.max_chars})")
        return self


@functools.cache
def _run_pattern(max_char_run: int) -> re.Pattern[str]:
    return re.compile(r"(\S)\1{%d,}" % max_char_run)


@functools.cache
def _mojibake_pattern() -> re.Pattern[str]:
    """A UTF-8 multi-byte sequence whose bytes were each decoded as Windows-1252 (or Latin-1
    where Windows-1252 leaves a byte undefined)."""

    def char(byte: int) -> str:
        try:
            return bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:
            return chr(byte)

    def cls(lo: int, hi: int) -> str:
        return "[" + "".join(re.escape(char(b)) for b in range(lo, hi + 1)) + "]"

    cont = cls(0x80, 0xBF)
    return re.compile(f"{cls(0xC2, 0xDF)}{cont}|{cls(0xE0, 0xEF)}{cont}{{2}}|{cls(0xF0, 0xF4)}{cont}{{3}}")


def _to_bytes(chars: str) -> bytes:
    out = bytearray()
    for c in chars:
        try:
            out += c.encode("cp1252")
        except UnicodeEncodeError:
            out.append(ord(c))
    return bytes(out)


def looks_mojibake(text: str) -> bool:
    """Whether the text holds UTF-8 decoded as Windows-1252/Latin-1.

    Any three- or four-byte sequence counts ("ä¸­", "â€™"); two-byte ones count when they start
    with "Â" or "Ã" (the usual case, "Ã©"), or when there are two or more of them, so that one
    "ÉTÉ”" (a capital letter before a closing quote) does not.
    """
    two_byte = 0
    for match in _mojibake_pattern().finditer(text):
        try:
            _to_bytes(match.group()).decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(match.group()) > 2 or match.group()[0] in "ÂÃ":
            return True
        two_byte += 1
        if two_byte >= 2:
            return True
    return False


def _has_encoding_error(text: str) -> bool:
    if _UNDECODED.search(text) or any(trace in text for trace in _GBK_TRACES):
        return True
    return looks_mojibake(text)


def check_text(text: str, rules: TextRules | None = None) -> list[str]:
    """The reasons (from `REASONS`, in that order) why this text fails the rules; [] if it passes."""
    rules = rules or TextRules()
    reasons = []
    visible = "".join(text.split())
    if len(visible) < rules.min_chars:
        reasons.append("too_short")
    if len(visible) > rules.max_chars:
        reasons.append("too_long")
    if visible and sum(map(str.isalpha, visible)) < rules.min_script_ratio * len(visible):
        reasons.append("low_script_ratio")
    if _run_pattern(rules.max_char_run).search(text):
        reasons.append("repeated_run")
    if _CONTROL.search(text):
        reasons.append("control_chars")
    if _has_encoding_error(text):
        reasons.append("encoding_error")
    return reasons
