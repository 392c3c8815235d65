"""Aggregation: crowd-kit's models beat majority vote on a crowd with spammers, confidences are the
models' posteriors, weights drop or scale workers, and spans and boxes follow their documented
rules on hand-made cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aicommons.core.errors import Invalid
from aicommons.data.annotation.aggregation import (
    METHODS,
    Aggregated,
    Answer,
    aggregate,
    iou,
)
from aicommons.data.annotation.simulation import Crowd

pytestmark = pytest.mark.no_database

LABELS = ["neg", "pos", "neutral"]


def accuracy(results: list[Aggregated], truth: dict[str, str]) -> float:
    return float(np.mean([r.value == truth[r.item] for r in results]))


@pytest.fixture(scope="module")
def spammy_crowd() -> tuple[list[Answer], dict[str, str]]:
    """Half reliable workers, half spammers (uniform or constant), 200 items at overlap 5."""
    crowd = Crowd.draw(12, LABELS, mix={"reliable": 0.5, "spammer": 0.5}, seed=1)
    rng = np.random.default_rng(1)
    truth = {f"i{i:04d}": LABELS[int(rng.integers(len(LABELS)))] for i in range(200)}
    return crowd.answers(truth, 5, seed=1), truth


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_wawa_runs_on_this_scikit_learn():
    """crowd-kit 1.4.2's Wawa.predict calls scikit-learn's check_is_fitted, which fails with
    scikit-learn >= 1.6 (no `__sklearn_tags__`): this catches an upgrade that breaks it."""
    import pandas as pd
    from crowdkit.aggregation import Wawa

    frame = pd.DataFrame(
        [["t1", "w1", "a"], ["t1", "w2", "a"], ["t1", "w3", "b"], ["t2", "w1", "b"], ["t2", "w2", "b"], ["t2", "w3", "b"]],
        columns=["task", "worker", "label"],
    )
    labels = Wawa().fit_predict(frame)
    assert labels.to_dict() == {"t1": "a", "t2": "b"}
    probas = Wawa().fit_predict_proba(frame)
    assert probas.loc["t2", "b"] == pytest.approx(1.0)
    # and through our entry point
    results = aggregate("single", [Answer(t, w, v) for t, w, v in frame.itertuples(index=False)], method="wawa", labels=["a", "b"])
    assert [r.value for r in results] == ["a", "b"]


@pytest.mark.parametrize(("method", "floor", "margin"), [("ds", 0.95, 0.1), ("glad", 0.93, 0.1), ("mace", 0.93, 0.1), ("wawa", 0.9, 0.05)])
def test_models_beat_majority_vote_on_a_crowd_with_spammers(spammy_crowd, method, floor, margin):
    answers, truth = spammy_crowd
    majority = accuracy(aggregate("single", answers, method="mv", labels=LABELS), truth)
    assert majority < 0.85  # spammers (half the crowd) drag majority vote down (0.795)
    score = accuracy(aggregate("single", answers, method=method, labels=LABELS), truth)
    assert score >= floor
    assert score >= majority + margin


@pytest.mark.parametrize("method", METHODS)
def test_confidence_is_the_posterior_of_the_chosen_label(spammy_crowd, method):
    answers, _ = spammy_crowd
    answers = [a for a in answers if a.item < "i0040"]  # small: GLAD is slow
    results = aggregate("single", answers, method=method, labels=LABELS, seed=3)
    assert [r.item for r in results] == sorted({a.item for a in answers})
    for r in results:
        assert 0.0 <= r.confidence <= 1.0
        assert set(r.posteriors) == set(LABELS)
        assert all(0.0 <= p <= 1.0 for p in r.posteriors.values())
        assert sum(r.posteriors.values()) == pytest.approx(1.0)
        assert r.confidence == pytest.approx(r.posteriors[r.value])
        assert r.confidence == pytest.approx(max(r.posteriors.values()))
        assert r.support == 5
    # and the same seed gives the same answer
    again = aggregate("single", answers, method=method, labels=LABELS, seed=3)
    assert [(r.value, r.confidence) for r in again] == [(r.value, r.confidence) for r in results]


def test_majority_vote_confidence_is_the_vote_share_and_ties_follow_label_order():
    answers = [
        Answer("x", "w1", "pos"), Answer("x", "w2", "pos"), Answer("x", "w3", "neg"),
        Answer("y", "w1", "neutral"), Answer("y", "w2", "neg"),
    ]
    x, y = aggregate("single", answers, method="mv", labels=LABELS)
    assert (x.value, x.support) == ("pos", 3)
    assert x.confidence == pytest.approx(2 / 3)
    assert x.posteriors == pytest.approx({"neg": 1 / 3, "pos": 2 / 3, "neutral": 0.0})
    assert y.value == "neg"  # a tie: the first of the project's labels
    assert y.confidence == pytest.approx(0.5)


def test_weights_scale_votes_for_majority_vote():
    answers = [Answer("x", "w1", "pos"), Answer("x", "w2", "neg"), Answer("x", "w3", "neg")]
    (plain,) = aggregate("single", answers, method="mv", labels=LABELS)
    assert plain.value == "neg"
    (weighted,) = aggregate("single", answers, method="mv", labels=LABELS, weights={"w1": 0.9, "w2": 0.2, "w3": 0.2})
    assert weighted.value == "pos"
    assert weighted.confidence == pytest.approx(0.9 / 1.3)


@pytest.mark.parametrize("method", ["mv", "wawa", "ds", "mace"])
def test_zero_weight_workers_are_dropped(spammy_crowd, method):
    answers, truth = spammy_crowd
    answers = [a for a in answers if a.item < "i0080"]
    crowd = Crowd.draw(12, LABELS, mix={"reliable": 0.5, "spammer": 0.5}, seed=1)
    spammers = {w.id for w in crowd.by_kind("spammer")}
    weights = {w: 0.0 for w in spammers}
    results = aggregate("single", answers, method=method, labels=LABELS, weights=weights)
    counted = {a.item: sum(1 for b in answers if b.item == a.item and b.worker not in spammers) for a in answers}
    for r in results:
        assert r.support == counted[r.item]
        if counted[r.item] == 0:  # only spammers answered: returned, but untrusted
            assert (r.confidence, r.support) == (0.0, 0)
    trusted = [r for r in results if r.support > 0]
    assert accuracy(trusted, truth) >= 0.95  # reliable workers only


def test_an_item_answered_only_by_dropped_workers_is_marked_untrusted():
    answers = [Answer("x", "s1", "pos"), Answer("x", "s2", "pos"), Answer("y", "w1", "neg"), Answer("y", "w2", "neg")]
    x, y = aggregate("single", answers, method="ds", labels=LABELS, weights={"s1": 0, "s2": 0})
    assert (x.value, x.confidence, x.support, x.posteriors) == ("pos", 0.0, 0, None)
    assert (y.value, y.support) == ("neg", 2)


def test_mace_does_not_depend_on_the_order_of_answers():
    """crowd-kit 1.4.2's MACE mixes up workers' strategies unless first-appearance and sorted
    orders agree; the re-coding makes the result independent of the input order."""
    crowd = Crowd.draw(8, LABELS, mix={"reliable": 0.5, "noisy": 0.25, "spammer": 0.25}, seed=4)
    rng = np.random.default_rng(0)
    truth = {f"i{i:03d}": LABELS[int(rng.integers(3))] for i in range(120)}
    answers = crowd.answers(truth, 4, seed=1)
    forward = aggregate("single", answers, method="mace", labels=LABELS)
    backward = aggregate("single", answers[::-1], method="mace", labels=LABELS)
    assert [r.value for r in forward] == [r.value for r in backward]
    assert max(abs(f.confidence - b.confidence) for f, b in zip(forward, backward)) < 1e-6
    assert accuracy(forward, truth) >= 0.9


def test_gold_items_keep_their_known_value(spammy_crowd):
    answers, truth = spammy_crowd
    answers = [a for a in answers if a.item < "i0050"]
    gold = {"i0001": truth["i0001"], "i0002": "neutral" if truth["i0002"] != "neutral" else "neg"}
    for method in ("ds", "mv"):
        results = {r.item: r for r in aggregate("single", answers, method=method, labels=LABELS, gold=gold)}
        for item, value in gold.items():
            assert (results[item].value, results[item].confidence) == (value, 1.0)
            assert results[item].posteriors[value] == 1.0


def test_multi_label_goes_through_binary_relevance():
    answers = [
        Answer("i1", "w1", ["a", "b"]), Answer("i1", "w2", ["a"]), Answer("i1", "w3", ["b", "a"]),
        Answer("i2", "w1", []), Answer("i2", "w2", ["c"]), Answer("i2", "w3", []),
    ]
    i1, i2 = aggregate("multi", answers, method="mv", labels=["a", "b", "c"])
    assert (i1.value, i2.value) == (["a", "b"], [])
    assert i1.posteriors == pytest.approx({"a": 1.0, "b": 2 / 3, "c": 0.0})
    assert i1.confidence == pytest.approx(2 / 3)  # the least certain decision: b
    assert i2.posteriors == pytest.approx({"a": 0.0, "b": 0.0, "c": 1 / 3})
    for method in METHODS:
        results = aggregate("multi", answers, method=method, labels=["a", "b", "c"])
        assert [r.value for r in results] == [["a", "b"], []], method
        assert all(0.0 <= r.confidence <= 1.0 for r in results)


def test_multi_label_on_a_simulated_crowd():
    """Each label a yes/no question answered by a crowd with spammers: DS recovers the sets."""
    labels = ["cat", "dog", "bird"]
    crowd = Crowd.draw(10, ["no", "yes"], mix={"reliable": 0.6, "spammer": 0.4}, seed=2)
    rng = np.random.default_rng(2)
    truth = {f"i{i:03d}": sorted(l for l in labels if rng.random() < 0.4) for i in range(100)}
    answers = []
    for item in sorted(truth):
        for index in rng.choice(len(crowd.workers), 5, replace=False):
            worker = crowd.workers[int(index)]
            chosen = [l for l in labels if worker.answer("yes" if l in truth[item] else "no", rng)[0] == "yes"]
            answers.append(Answer(item, worker.id, chosen))
    scores = {m: accuracy(aggregate("multi", answers, method=m, labels=labels), truth) for m in ("mv", "ds")}
    assert scores["ds"] >= 0.9
    assert scores["ds"] > scores["mv"]


def test_spans_per_character_vote():
    #        0    5    10   15   20
    text = "Alice met Bob in Paris"
    answers = [
        Answer("t", "w1", [[0, 5, "PER"], [10, 13, "PER"], [17, 22, "LOC"]]),
        Answer("t", "w2", [[0, 5, "PER"], [10, 13, "PER"]]),
        Answer("t", "w3", [[0, 5, "PER"], [17, 22, "ORG"]]),
    ]
    (result,) = aggregate("spans", answers, labels=["PER", "LOC", "ORG"])
    assert result.value == [[0, 5, "PER"], [10, 13, "PER"]]  # Paris: LOC 1/3, ORG 1/3, below half
    assert [text[s:e] for s, e, _ in result.value] == ["Alice", "Bob"]
    # characters marked by anyone: Alice 5 x 1, Bob 3 x 2/3, Paris 5 x (1 - 2/3) "no label"
    assert result.confidence == pytest.approx((5 * 1 + 3 * 2 / 3 + 5 * 1 / 3) / 13)
    assert (result.support, result.posteriors) == (3, None)


def test_spans_boundaries_follow_the_characters_majority():
    answers = [Answer("t", "w1", [[0, 10, "X"]]), Answer("t", "w2", [[2, 10, "X"]]), Answer("t", "w3", [[0, 8, "X"]])]
    (result,) = aggregate("spans", answers, labels=["X"])
    assert result.value == [[0, 10, "X"]]  # characters 0-2 and 8-10 have 2 of 3 workers
    # two touching entities stay two when most workers end a span between them
    answers = [
        Answer("t", "w1", [[0, 4, "A"], [4, 8, "A"]]),
        Answer("t", "w2", [[0, 4, "A"], [4, 8, "A"]]),
        Answer("t", "w3", [[0, 8, "A"]]),
    ]
    (result,) = aggregate("spans", answers, labels=["A"])
    assert result.value == [[0, 4, "A"], [4, 8, "A"]]
    assert result.confidence == pytest.approx(1.0)


def test_spans_weights_and_empty_answers():
    answers = [Answer("t", "w1", [[0, 5, "PER"]]), Answer("t", "w2", []), Answer("t", "w3", [])]
    (plain,) = aggregate("spans", answers, labels=["PER"])
    assert plain.value == []
    assert plain.confidence == pytest.approx(2 / 3)
    (weighted,) = aggregate("spans", answers, labels=["PER"], weights={"w1": 0.9, "w2": 0.1, "w3": 0.1})
    assert weighted.value == [[0, 5, "PER"]]
    assert weighted.confidence == pytest.approx(0.9 / 1.1)
    (nothing,) = aggregate("spans", [Answer("t", "w1", []), Answer("t", "w2", [])], labels=["PER"])
    assert (nothing.value, nothing.confidence) == ([], 1.0)


def test_boxes_cluster_by_iou_and_take_the_median():
    answers = [
        Answer("img", "w1", [[10, 10, 50, 50, "cat"], [100, 100, 120, 130, "dog"]]),
        Answer("img", "w2", [[12, 8, 52, 49, "cat"]]),
        Answer("img", "w3", [[9, 11, 48, 51, "dog"]]),
    ]
    (result,) = aggregate("boxes", answers, labels=["cat", "dog"])
    # one object seen by all three (label 2 of 3 "cat"), one by w1 only (dropped)
    assert result.value == [[10.0, 10.0, 50.0, 50.0, "cat"]]
    assert result.confidence == pytest.approx((1.0 * 2 / 3 + (1 - 1 / 3)) / 2)
    assert result.support == 3


def test_boxes_need_half_the_workers_and_one_box_per_worker_per_cluster():
    answers = [
        Answer("img", "w1", [[0, 0, 10, 10, "a"], [1, 1, 11, 11, "a"]]),  # two boxes on one object
        Answer("img", "w2", [[0, 0, 10, 10, "a"], [50, 50, 60, 60, "a"]]),
        Answer("img", "w3", [[50, 51, 60, 61, "a"]]),
        Answer("img", "w4", []),
    ]
    (result,) = aggregate("boxes", answers, labels=["a"])
    # cluster 1: w1 + w2 (2 of 4, kept); w1's second box its own cluster (1 of 4, dropped);
    # cluster 2: w2 + w3 (2 of 4, kept)
    assert result.value == [[0.0, 0.0, 10.0, 10.0, "a"], [50.0, 50.5, 60.0, 60.5, "a"]]
    assert iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(50 / 150)


def test_bad_answers_are_refused_with_the_reason():
    with pytest.raises(Invalid, match="'cow'"):
        aggregate("single", [Answer("x", "w1", "cow")], labels=LABELS)
    with pytest.raises(Invalid, match="method"):
        aggregate("single", [Answer("x", "w1", "pos")], method="vote", labels=LABELS)
    with pytest.raises(Invalid, match="start < end"):
        aggregate("spans", [Answer("x", "w1", [[5, 2, "PER"]])], labels=["PER"])
    with pytest.raises(Invalid, match="x0 < x1"):
        aggregate("boxes", [Answer("x", "w1", [[5, 0, 2, 3, "a"]])], labels=["a"])
    with pytest.raises(Invalid, match="weight"):
        aggregate("single", [Answer("x", "w1", "pos")], labels=LABELS, weights={"w1": -1})
    assert aggregate("single", [], labels=LABELS) == []
    assert not math.isnan(aggregate("single", [Answer("x", "w1", "pos")], labels=LABELS)[0].confidence)
