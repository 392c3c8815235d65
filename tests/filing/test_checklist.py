"""The ethics-review checklist: the shipped items, answers with evidence, and item-by-item judgements."""

from __future__ import annotations

import hashlib

import pytest

from aicommons.core.errors import Invalid
from aicommons.filing.checklist import Checklist, ChecklistAnswer, ItemJudgement

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only

EVIDENCE = hashlib.sha256(b"operating procedure.pdf").hexdigest()
AI_VERIFY_PRINCIPLES = {
    "transparency",
    "explainability",
    "repeatability / reproducibility",
    "safety",
    "security",
    "robustness",
    "fairness",
    "data governance",
    "accountability",
    "human agency & oversight",
    "inclusive growth, societal & environmental well-being",
}


def full_answers(checklist: Checklist) -> list[ChecklistAnswer]:
    return [
        ChecklistAnswer(item=item.id, answer=f"Our answer on {item.principle}.", evidence=[EVIDENCE] if item.evidence_required else [])
        for item in checklist.items
    ]


def test_the_shipped_checklist_covers_the_review_basics_and_ai_verify_principles():
    checklist = Checklist.default()
    ids = [item.id for item in checklist.items]
    assert ids[:5] == ["intended-use", "affected-groups", "human-oversight", "data-sources-consent", "fallback"]
    assert AI_VERIFY_PRINCIPLES <= {item.principle for item in checklist.items}
    assert len(set(ids)) == len(ids)
    assert all(item.question.endswith("?") and item.question_zh.endswith("？") for item in checklist.items)
    assert any(item.evidence_required for item in checklist.items)
    assert checklist.version == "1"
    assert checklist.sha256 == hashlib.sha256(checklist.text.encode()).hexdigest()


def test_complete_answers_with_evidence_pass_and_come_back_in_checklist_order():
    checklist = Checklist.default()
    answers = full_answers(checklist)
    checked = checklist.check_answers(list(reversed(answers)))
    assert [a.item for a in checked] == [item.id for item in checklist.items]
    # Plain mappings (a JSON body) are accepted too.
    checklist.check_answers([a.model_dump() for a in answers])


def test_a_missing_answer_is_named():
    checklist = Checklist.default()
    answers = [a for a in full_answers(checklist) if a.item != "fairness"]
    with pytest.raises(Invalid, match=r"Checklist item 'fairness' \(fairness\) must be answered; it is missing"):
        checklist.check_answers(answers)


def test_an_unknown_or_repeated_item_is_named():
    checklist = Checklist.default()
    answers = full_answers(checklist)
    with pytest.raises(Invalid, match="The answer for 'astrology' names no item of checklist 'ethics' version 1"):
        checklist.check_answers([*answers, ChecklistAnswer(item="astrology", answer="no")])
    with pytest.raises(Invalid, match="Checklist item 'safety' is answered twice"):
        checklist.check_answers([*answers, answers[8]])


def test_an_item_that_requires_evidence_must_attach_some():
    checklist = Checklist.default()
    answers = full_answers(checklist)
    index = next(i for i, a in enumerate(answers) if a.item == "human-oversight")
    answers[index] = ChecklistAnswer(item="human-oversight", answer="A duty engineer.")
    with pytest.raises(Invalid, match="The answer to checklist item 'human-oversight' .* must attach evidence; got none"):
        checklist.check_answers(answers)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"item": "safety", "answer": ""}, "at answer"),
        ({"item": "safety", "answer": "x" * 5001}, "at answer"),
        ({"item": "safety", "answer": "ok", "evidence": ["not-a-digest"]}, "at evidence.0"),
        ({"item": "safety", "answer": "ok", "extra": 1}, "at extra"),
    ],
)
def test_malformed_answers_are_refused(answer, message):
    with pytest.raises(Invalid, match=message):
        Checklist.default().check_answers([answer])


def test_judgements_cover_every_item_and_say_whether_all_are_met():
    checklist = Checklist.default()
    judgements = [ItemJudgement(item=item.id, verdict="met") for item in checklist.items]
    assert checklist.check_judgements(judgements) is True
    judgements[-1] = ItemJudgement(item=checklist.items[-1].id, verdict="not_applicable", comment="No energy data.")
    assert checklist.check_judgements(judgements) is True
    judgements[0] = ItemJudgement(item="intended-use", verdict="not_met", comment="Scope is vague.")
    assert checklist.check_judgements(judgements) is False
    with pytest.raises(Invalid, match=r"Checklist item 'intended-use' \(intended use\) must be judged; it is missing"):
        checklist.check_judgements(judgements[1:])
    with pytest.raises(Invalid, match="names no item"):
        checklist.check_judgements([*judgements, {"item": "astrology", "verdict": "met"}])
    with pytest.raises(Invalid, match="at verdict"):
        checklist.check_judgements([{"item": "safety", "verdict": "maybe"}])


def test_a_bad_checklist_file_is_refused():
    with pytest.raises(Invalid, match="items.0.question_zh"):
        Checklist.from_yaml("name: c\nversion: 1\nitems:\n  - {id: a, principle: p, question: q}\n")
    with pytest.raises(Invalid, match="item 'a' twice"):
        Checklist.from_yaml(
            "name: c\nversion: 1\nitems:\n"
            "  - {id: a, principle: p, question: q, question_zh: 问}\n"
            "  - {id: a, principle: p, question: q, question_zh: 问}\n"
        )
