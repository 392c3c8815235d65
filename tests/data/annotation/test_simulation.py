"""Simulated crowds: each kind of worker behaves as documented, and a seed fixes everything."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from aicommons.core.errors import Invalid
from aicommons.data.annotation.simulation import DEFAULT_MIX, Crowd

pytestmark = pytest.mark.no_database

LABELS = ["0", "1", "2", "3"]


def empirical_accuracy(worker, rng: np.random.Generator, n: int = 2000) -> float:
    right = 0
    for _ in range(n):
        truth = LABELS[int(rng.integers(len(LABELS)))]
        right += worker.answer(truth, rng)[0] == truth
    return right / n


@pytest.fixture(scope="module")
def crowd() -> Crowd:
    return Crowd.draw(40, LABELS, seed=7)


def test_the_mix_sets_the_number_of_each_kind(crowd):
    assert Counter(w.kind for w in crowd.workers) == {"reliable": 16, "noisy": 12, "biased": 6, "spammer": 6}
    assert Counter(w.kind for w in Crowd.draw(7, LABELS, seed=1).workers) == {"reliable": 3, "noisy": 2, "biased": 1, "spammer": 1}
    assert sum(DEFAULT_MIX.values()) == pytest.approx(1.0)
    assert [w.id for w in crowd.workers] == [f"w{i:03d}" for i in range(40)]
    for w in crowd.workers:
        assert w.confusion.shape == (4, 4)
        assert np.allclose(w.confusion.sum(axis=1), 1.0)
        assert (w.confusion >= 0).all()


def test_reliable_workers_are_right_about_nine_times_in_ten(crowd):
    rng = np.random.default_rng(0)
    for worker in crowd.by_kind("reliable"):
        assert 0.90 <= worker.accuracy <= 0.97
        assert empirical_accuracy(worker, rng) >= 0.87  # 0.90 minus sampling noise over 2000 answers


def test_noisy_and_biased_workers(crowd):
    rng = np.random.default_rng(1)
    for worker in crowd.by_kind("noisy"):
        assert 0.58 <= empirical_accuracy(worker, rng) <= 0.77
    for worker in crowd.by_kind("biased"):
        preferred = int(np.argmax(worker.confusion.sum(axis=0)))
        answers = Counter(worker.answer(LABELS[t], rng)[0] for t in range(4) for _ in range(300))
        assert answers.most_common(1)[0][0] == LABELS[preferred]
        assert answers[LABELS[preferred]] / 1200 > 0.4  # well above the 1/4 of an unbiased worker


def test_spammers_are_at_chance_and_fast(crowd):
    rng = np.random.default_rng(2)
    spammers = crowd.by_kind("spammer")
    assert spammers
    for worker in spammers:
        assert abs(empirical_accuracy(worker, rng) - 1 / len(LABELS)) < 0.05
        assert worker.seconds < 2.0
    for worker in crowd.workers:
        if worker.kind != "spammer":
            assert 5.0 <= worker.seconds <= 15.0
    times = [worker.answer("0", rng)[1] for worker in spammers for _ in range(50)]
    assert np.median(times) < 2.0
    # both kinds of spammer exist across crowds: uniform and constant
    many = Crowd.draw(40, LABELS, mix={"spammer": 1.0}, seed=3)
    constant = [w for w in many.workers if (w.confusion == 1.0).all(axis=0).any()]
    assert 0 < len(constant) < 40


def test_the_same_seed_gives_the_same_crowd_and_answers():
    first, second = Crowd.draw(10, LABELS, seed=11), Crowd.draw(10, LABELS, seed=11)
    assert [w.kind for w in first.workers] == [w.kind for w in second.workers]
    assert all(np.array_equal(a.confusion, b.confusion) for a, b in zip(first.workers, second.workers))
    truth = {f"i{i}": LABELS[i % 4] for i in range(30)}
    assert first.answers(truth, 3, seed=4) == second.answers(truth, 3, seed=4)
    assert first.answers(truth, 3, seed=4) != first.answers(truth, 3, seed=5)
    other = Crowd.draw(10, LABELS, seed=12)
    assert not all(np.array_equal(a.confusion, b.confusion) for a, b in zip(first.workers, other.workers))
    a, b = first.workers[0], second.workers[0]
    assert a.answer("1", np.random.default_rng(9)) == b.answer("1", np.random.default_rng(9))


def test_answers_use_distinct_workers_per_item():
    crowd = Crowd.draw(6, ["no", "yes"], seed=0)
    answers = crowd.answers({"a": "yes", "b": "no"}, overlap=6, seed=0)
    for item in ("a", "b"):
        assert sorted(x.worker for x in answers if x.item == item) == [w.id for w in crowd.workers]
    with pytest.raises(Invalid, match="overlap"):
        crowd.answers({"a": "yes"}, overlap=7)


def test_bad_parameters_are_refused():
    with pytest.raises(Invalid, match="mix"):
        Crowd.draw(5, LABELS, mix={"saint": 1.0})
    with pytest.raises(Invalid, match="n_workers"):
        Crowd.draw(0, LABELS)
    with pytest.raises(Invalid, match="labels"):
        Crowd.draw(3, ["a", "a"])
    with pytest.raises(Invalid, match="true_label"):
        Crowd.draw(3, LABELS, seed=0).workers[0].answer("9", np.random.default_rng(0))
