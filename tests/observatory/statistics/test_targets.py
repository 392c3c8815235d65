"""The shipped targets against the policy texts: every quote under its clause, every value among the quote's numbers."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml

from aicommons.core.errors import Invalid, NotFound
from aicommons.observatory.statistics import get_target, list_targets
from aicommons.observatory.statistics.targets import catalogue

POLICIES = Path("/work/shared/policies")
PARTS = "一二三四五六七八九"
CHINESE_DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
# Count words the quotes use instead of digits (万亿 and 千亿 are in 亿元, the targets' unit).
WORD_NUMBERS = {"万亿": 10000, "千亿": 1000, "百家": 100}


def _plain(text: str) -> str:
    """NFKC (full-width brackets and digits to ASCII) without whitespace: the texts break lines inside phrases."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def _policy(document: str) -> str:
    found = sorted(POLICIES.glob(f"{document}_*.txt"))
    if not found:
        pytest.skip(f"the policy texts are not at {POLICIES} (document {document}); citations cannot be checked here")
    return _plain(found[0].read_text(encoding="utf-8"))


def _section(text: str, clause: str) -> str:
    """The text of a clause like 一(二) or 二(五)1: from its heading to the next part's heading."""
    match = re.fullmatch(r"(.)\((.)\)(\d*)", clause)
    part, item, sub = match.groups()
    start = text.index(f"{part}、")
    following = PARTS[PARTS.index(part) + 1]
    end = text.find(f"{following}、", start)
    body = text[start:end if end > 0 else None]
    body = body[body.index(f"({item})"):]
    next_item = list(CHINESE_DIGITS)[CHINESE_DIGITS[item]]  # the item after (item)
    cut = body.find(f"({next_item})", 1)
    body = body[:cut if cut > 0 else None]
    if sub:
        body = body[body.index(f"{sub}."):]
    return body


def _numbers(quote: str) -> set[float]:
    plain = _plain(quote).replace(",", "")
    found = {float(n) for n in re.findall(r"\d+(?:\.\d+)?", re.sub(r"\d+万亿", "", plain))}
    found |= {float(n) * 10000 for n in re.findall(r"(\d+)万亿", plain)}
    found |= {value for word, value in WORD_NUMBERS.items() if word in plain}
    return found


def test_the_file_loads_with_unique_ids_and_known_indicators():
    raw = yaml.safe_load((Path(__file__).parents[3] / "src/aicommons/observatory/statistics/targets.yaml").read_text(encoding="utf-8"))
    ids = Counter(t["id"] for t in raw["targets"])
    assert not [i for i, n in ids.items() if n > 1]
    assert len(catalogue().targets) == len(raw["targets"]) == 70
    assert {t.indicator for t in catalogue().targets} <= set(catalogue().indicators)
    assert Counter(t.document for t in catalogue().targets) == {"000": 15, "001": 13, "002": 5, "003": 19, "004": 18}


@pytest.mark.parametrize("target", catalogue().targets, ids=lambda t: t.id)
def test_every_quote_is_in_its_clause_and_carries_the_value(target):
    text = _policy(target.document)
    section = _section(text, target.clause)
    assert _plain(target.quote) in section, f"{target.id}: {target.quote!r} is not in {target.document} {target.clause}"
    numbers = _numbers(target.quote)
    assert target.value in numbers, f"{target.id}: {target.value} not among {numbers}"
    if target.value_max is not None:
        assert target.value_max in numbers


def test_every_number_of_the_target_clauses_is_captured():
    """The goal clauses 001 一(二), 002 一(二), 003 一(三) and 004 一(二): every figure in them is a target's value (or a year)."""
    for document, clause in [("001", "一(二)"), ("002", "一(二)"), ("003", "一(三)"), ("004", "一(二)")]:
        section = _section(_policy(document), clause).replace("(每秒一百亿次浮点运算)", "")
        figures = {float(n) for n in re.findall(r"\d+", re.sub(r"\d+万亿", "10000", section))} - set(range(2017, 2031))
        values = {v for t in catalogue().targets if (t.document, t.clause) == (document, clause) for v in (t.value, t.value_max) if v}
        assert figures <= values | {1.0}, f"{document} {clause}: {sorted(figures - values)} not captured"  # 1: 1万亿 is 10000 亿元


def test_the_issue_s_examples():
    by_id = {t.id: t for t in list_targets()}
    assert (by_id["001-ai-enterprises"].value, by_id["001-ai-enterprises"].deadline, by_id["001-ai-enterprises"].citation) == (3000, 2027, "001 一(二)")
    assert (by_id["001-ai-revenue"].value, by_id["001-ai-revenue"].unit) == (10000, "亿元")
    assert (by_id["001-compute-capacity"].value, by_id["001-high-performance-compute-share"].value) == (20, 30)
    assert (by_id["001-industry-models"].value, by_id["001-application-scenarios"].value) == (30, 500)
    assert (by_id["003-core-invention-patents"].value, by_id["003-leading-enterprises"].value, by_id["003-core-industry-scale"].value) == (500, 20, 500)
    assert [(by_id[i].value, by_id[i].deadline, by_id[i].region_name) for i in ("002-ai-revenue-2023", "002-ai-revenue-2025")] == [
        (1000, 2023, "滨江区"), (2000, 2025, "滨江区")]
    growth = by_id["004-ai-revenue-growth"]
    assert (by_id["004-core-invention-patents"].value, growth.value, growth.kind, growth.deadline, growth.region_name) == (1000, 15, "growth_rate", 2024, "杭州市")


def test_filters_and_errors():
    assert [t.id for t in list_targets(region="滨江")] == [t.id for t in list_targets(region="330108")] == [
        "002-ai-revenue-2023", "002-listed-leading-enterprises", "002-ai-solutions", "002-ai-high-tech-enterprises", "002-ai-revenue-2025"]
    assert {t.region_name for t in list_targets(region="Hangzhou")} == {"杭州市"}
    assert all(t.document == "004" for t in list_targets(document="004"))
    with pytest.raises(Invalid, match="'document' parameter must be one of"):
        list_targets(document="9")
    with pytest.raises(NotFound):
        get_target("001-nothing")
