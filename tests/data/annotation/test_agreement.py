"""Agreement metrics reproduce published values: Fleiss' kappa on the 10 x 14 worked example
(Wikipedia, "Fleiss' kappa") and Krippendorff's alpha on the examples of his "Computing
Krippendorff's Alpha-Reliability" (2011)."""

from __future__ import annotations

import pytest

from aicommons.core.errors import Invalid
from aicommons.data.annotation.aggregation import Answer
from aicommons.data.annotation.agreement import (
    fleiss_kappa,
    fleiss_kappa_table,
    krippendorff_alpha,
    nominal_alpha,
)

pytestmark = pytest.mark.no_database

# 10 subjects, 14 raters each, 5 categories: P-bar = 0.378, P_e = 0.213, kappa = 0.210
FLEISS_TABLE = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
]

# Krippendorff (2011), C: 4 observers, 12 units, nominal values 1-5, "." missing; nominal alpha 0.743
_ = None
KRIPPENDORFF_OBSERVERS = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    "C": [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
}


def fleiss_answers() -> list[Answer]:
    answers = []
    for i, row in enumerate(FLEISS_TABLE):
        raters = iter(range(14))
        for category, count in enumerate(row):
            for _ in range(count):
                answers.append(Answer(f"s{i}", f"r{next(raters)}", f"c{category + 1}"))
    return answers


def krippendorff_answers() -> list[Answer]:
    return [
        Answer(f"u{unit + 1}", observer, str(value))
        for observer, values in KRIPPENDORFF_OBSERVERS.items()
        for unit, value in enumerate(values)
        if value is not None
    ]


def test_fleiss_kappa_matches_the_worked_example():
    assert round(fleiss_kappa(fleiss_answers()), 3) == 0.210
    assert fleiss_kappa(fleiss_answers()) == pytest.approx(0.20993, abs=1e-5)
    table = [{f"c{j}": n for j, n in enumerate(row) if n} for row in FLEISS_TABLE]
    assert fleiss_kappa_table(table) == pytest.approx(fleiss_kappa(fleiss_answers()))


def test_fleiss_kappa_with_unequal_numbers_of_raters():
    answers = [
        Answer("x", "w1", "a"), Answer("x", "w2", "a"), Answer("x", "w3", "b"),
        Answer("y", "w1", "a"), Answer("y", "w2", "a"),
        Answer("z", "w1", "b"),  # one answer: left out
    ]
    # P_x = 2/6, P_y = 1, P-bar = 2/3; p_a = 4/5, p_b = 1/5, P_e = 0.68
    assert fleiss_kappa(answers) == pytest.approx((2 / 3 - 0.68) / (1 - 0.68))


def test_krippendorff_alpha_matches_his_published_nominal_example():
    assert round(krippendorff_alpha(krippendorff_answers(), "single"), 3) == 0.743
    assert krippendorff_alpha(krippendorff_answers(), "single") == pytest.approx(0.7434, abs=1e-4)


def test_krippendorff_alpha_matches_his_binary_two_observer_example():
    # Krippendorff (2011), A: two observers, ten units, binary data, alpha = 0.095
    first = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0]
    second = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    assert round(nominal_alpha([[a, b] for a, b in zip(first, second)]), 3) == 0.095


def test_single_answers_are_not_pairable():
    answers = krippendorff_answers()
    # unit 12 has one value: adding more single-value units changes nothing
    more = answers + [Answer("lonely", "A", "4"), Answer("alone", "B", "1")]
    assert krippendorff_alpha(more, "single") == pytest.approx(krippendorff_alpha(answers, "single"))


def test_perfect_and_undefined_agreement():
    perfect = [Answer(i, w, v) for i, v in (("x", "a"), ("y", "b")) for w in ("w1", "w2", "w3")]
    assert krippendorff_alpha(perfect, "single") == pytest.approx(1.0)
    assert fleiss_kappa(perfect) == pytest.approx(1.0)
    same = [Answer(i, w, "a") for i in ("x", "y") for w in ("w1", "w2")]
    assert krippendorff_alpha(same, "single") is None  # no variation: expected disagreement is 0
    assert fleiss_kappa(same) is None
    assert krippendorff_alpha([Answer("x", "w1", "a")], "single") is None
    assert fleiss_kappa([]) is None


def test_multi_label_alpha_is_the_mean_over_labels():
    answers = [
        Answer("i1", "w1", ["a", "b"]), Answer("i1", "w2", ["a"]), Answer("i1", "w3", ["a", "b"]),
        Answer("i2", "w1", []), Answer("i2", "w2", ["c"]), Answer("i2", "w3", []),
    ]
    # a: perfect, 1.0. b: values T F T | F F F: coincidences o_TT = 1, o_TF = o_FT = 1, o_FF = 3,
    # n_T = 2, n_F = 4, alpha = 1 - (6 - 1) * 2 / (2 * 2 * 4) = 0.375. c: F F F | F T F: n_T = 1,
    # n_F = 5, alpha = 1 - 5 * 2 / (2 * 1 * 5) = 0 (its one "yes" is all the variation there is)
    assert krippendorff_alpha(answers, "multi") == pytest.approx((1.0 + 0.375 + 0.0) / 3)


def test_other_kinds_and_bad_values():
    assert krippendorff_alpha([Answer("x", "w1", [[0, 1, "A"]])], "spans") is None
    assert krippendorff_alpha([Answer("x", "w1", [[0, 0, 1, 1, "A"]])], "boxes") is None
    with pytest.raises(Invalid, match="kind"):
        krippendorff_alpha([], "ranking")
    with pytest.raises(Invalid, match="single label"):
        fleiss_kappa([Answer("x", "w1", ["a"]), Answer("x", "w2", ["a"])])
