"""Quality control: Beta skill estimates, the one-coin posterior checked by hand, flags with their
reasons, and weights: flagged workers (simulated spammers) weigh 0."""

from __future__ import annotations

import numpy as np
import pytest

from aicommons.core.errors import Invalid
from aicommons.data.annotation.quality import (
    MIN_WEIGHT,
    AnswerFact,
    Flag,
    SkillEstimate,
    flags,
    posterior,
    worker_weight,
)
from aicommons.data.annotation.simulation import Crowd

pytestmark = pytest.mark.no_database


def test_skill_estimate_is_a_beta_mean():
    skill = SkillEstimate()
    assert skill.accuracy == 0.5
    skill.update(True).update(True).update(False)
    assert (skill.correct, skill.wrong) == (3.0, 2.0)
    assert skill.accuracy == pytest.approx(0.6)
    assert skill.update(True, weight=0.5) is skill
    assert skill.accuracy == pytest.approx(3.5 / 5.5)
    assert skill.judged == pytest.approx(3.5)
    with pytest.raises(Invalid):
        SkillEstimate(correct=0.0)
    with pytest.raises(Invalid):
        skill.update(True, weight=-1)


def test_posterior_by_hand_for_two_workers():
    # worker 1 (p = 0.8) says a, worker 2 (p = 0.6) says b, three labels:
    # P(a) ~ 0.8 * 0.2 = 0.16; P(b) ~ 0.1 * 0.6 = 0.06; P(c) ~ 0.1 * 0.2 = 0.02; total 0.24
    result = posterior(["a", "b"], [0.8, 0.6], ["a", "b", "c"])
    assert result == pytest.approx({"a": 2 / 3, "b": 1 / 4, "c": 1 / 12})
    # two agreeing workers on two labels: 0.8 * 0.9 / (0.8 * 0.9 + 0.2 * 0.1)
    assert posterior(["a", "a"], [0.8, 0.9], ["a", "b"])["a"] == pytest.approx(0.72 / 0.74)


def test_posterior_edge_cases():
    assert posterior([], [], ["a", "b", "c"]) == pytest.approx({"a": 1 / 3, "b": 1 / 3, "c": 1 / 3})
    assert posterior(["a"], [0.5], ["a", "b"]) == pytest.approx({"a": 0.5, "b": 0.5})  # chance: no evidence
    assert posterior(["a"], [1.0], ["a", "b"])["a"] == pytest.approx(0.999)  # clipped: never certain
    assert posterior(["a"], [0.9], ["a"]) == {"a": 1.0}
    many = posterior(["a"] * 400, [0.9] * 400, ["a", "b"])  # no underflow
    assert many["a"] == pytest.approx(1.0) and many["b"] >= 0.0
    with pytest.raises(Invalid, match="'z'"):
        posterior(["z"], [0.9], ["a", "b"])
    with pytest.raises(Invalid, match="pair up"):
        posterior(["a"], [0.9, 0.8], ["a", "b"])


def test_too_fast_flag_uses_the_median_time():
    fast = [AnswerFact("a", 0.8), AnswerFact("b", 1.1), AnswerFact("a", 0.9), AnswerFact("b", 30.0), AnswerFact("a", 1.0)]
    (flag,) = flags(fast, min_seconds=2.0)
    assert flag.code == "too_fast"
    assert "1.0 s" in flag.reason and "5 timed answers" in flag.reason and "2 s" in flag.reason
    assert flags(fast[:4], min_seconds=2.0) == []  # fewer than 5 timed answers
    assert flags([AnswerFact("a", None)] * 10 + fast[:2], min_seconds=2.0, constant_min=100) == []
    slow = [AnswerFact(v, 5.0) for v in "ababa"]
    assert flags(slow, min_seconds=2.0) == []


def test_constant_flag():
    same = [AnswerFact("pos", 6.0)] * 8
    (flag,) = flags(same, min_seconds=2.0)
    assert flag == Flag("constant", "all 8 answers were the same: pos")
    assert flags(same[:7], min_seconds=2.0) == []
    assert flags(same + [AnswerFact("neg", 6.0)], min_seconds=2.0) == []
    assert flags(same, min_seconds=2.0, n_labels=1) == []  # one label: nothing else to answer


def test_low_gold_flag():
    facts = [AnswerFact("a", 5.0, True), AnswerFact("b", 5.0, False), AnswerFact("a", 5.0, False), AnswerFact("b", 5.0)]
    (flag,) = flags(facts, min_seconds=2.0)
    assert flag.code == "low_gold"
    assert "1 of 3 gold answers correct (33%)" in flag.reason and "60%" in flag.reason
    assert flags(facts[:2], min_seconds=2.0) == []  # fewer than min_gold judged
    good = [AnswerFact("a", 5.0, True)] * 2 + [AnswerFact("b", 5.0, False)]
    assert flags(good, min_seconds=2.0) == []  # 2 of 3 = 67%


def test_flags_come_in_a_fixed_order_with_reasons():
    facts = [AnswerFact("a", 0.5, False)] * 10
    found = flags(facts, min_seconds=2.0)
    assert [f.code for f in found] == ["too_fast", "constant", "low_gold"]
    assert all(f.reason for f in found)
    assert found[0].as_dict() == {"code": "too_fast", "reason": found[0].reason}


def test_worker_weight():
    skill = SkillEstimate(correct=9.0, wrong=1.0)  # accuracy 0.9
    assert worker_weight(skill, []) == pytest.approx(0.8)  # 2p - 1
    assert worker_weight(skill, [], n_labels=10) == pytest.approx((10 * 0.9 - 1) / 9)
    assert worker_weight(skill, [Flag("too_fast", "...")]) == 0.0
    assert worker_weight(SkillEstimate(), []) == MIN_WEIGHT  # no evidence yet: still counts, a little
    assert worker_weight(SkillEstimate(correct=1.0, wrong=9.0), []) == MIN_WEIGHT
    assert worker_weight(SkillEstimate(correct=1000.0, wrong=1.0), []) <= 1.0


def test_simulated_spammers_are_flagged_and_weigh_zero():
    """Workers answer 30 items, 6 of them gold, with their simulated times: every spammer is
    flagged (too fast, and constant spammers also constant), no reliable worker is."""
    labels = ["neg", "pos", "neutral"]
    crowd = Crowd.draw(20, labels, seed=5)
    rng = np.random.default_rng(5)
    weights = {}
    for worker in crowd.workers:
        skill, facts = SkillEstimate(), []
        for i in range(30):
            truth = labels[int(rng.integers(3))]
            value, seconds = worker.answer(truth, rng)
            gold = (value == truth) if i % 5 == 0 else None
            if gold is not None:
                skill.update(gold)
            facts.append(AnswerFact(value, seconds, gold))
        found = flags(facts, min_seconds=2.0)
        weights[worker.id] = worker_weight(skill, found, n_labels=3)
        if worker.kind == "spammer":
            assert "too_fast" in {f.code for f in found}
            if (worker.confusion == 1.0).all(axis=0).any():  # a constant spammer
                assert "constant" in {f.code for f in found}
        if worker.kind == "reliable":
            assert found == []
    assert all(weights[w.id] == 0.0 for w in crowd.by_kind("spammer"))
    assert all(weights[w.id] > 0.5 for w in crowd.by_kind("reliable"))
