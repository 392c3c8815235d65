"""The composite index's arithmetic against hand-computed examples; trends and CAGR."""

from __future__ import annotations

import math

import pytest

from aicommons.observatory.statistics import composite
from aicommons.observatory.statistics.trends import cagr, figure, least_squares

pytestmark = pytest.mark.no_database

# Three regions, two indicators, worked by hand:
#   A = [10, 20, 30] → min-max [0, 0.5, 1] → p = [0, 1/3, 2/3]
#       e_A = −(1/ln 3)(1/3·ln(1/3) + 2/3·ln(2/3)) = 1/3 + (2/3)·ln(3/2)/ln 3 = 0.579380
#   B = [5, 5, 15] → min-max [0, 0, 1] → p = [0, 0, 1] → e_B = 0
#   d = [0.420620, 1], w = d / 1.420620 = [0.296081, 0.703919]
VALUES = [[10.0, 5.0], [20.0, 5.0], [30.0, 15.0]]


def test_entropy_weights_match_the_worked_example():
    normalised = composite.min_max(VALUES, [True, True])
    assert normalised == [[0.0, 0.0], [0.5, 0.0], [1.0, 1.0]]
    found = composite.entropy_weights(normalised)
    e_a = 1 / 3 + (2 / 3) * math.log(1.5) / math.log(3)
    assert found.entropy == pytest.approx([e_a, 0.0])
    assert found.entropy[0] == pytest.approx(0.579380, abs=1e-6)
    assert found.weights == pytest.approx([(1 - e_a) / (2 - e_a), 1 / (2 - e_a)])
    assert found.weights == pytest.approx([0.296081, 0.703919], abs=1e-6)


def test_scores_ranks_strongest_and_weakest():
    normalised = composite.min_max(VALUES, [True, True])
    weights = composite.entropy_weights(normalised).weights
    scored = composite.score(["330300", "330200", "330100"], normalised, weights, 100.0)
    assert [s.region for s in scored] == ["330100", "330200", "330300"]
    assert [s.score for s in scored] == pytest.approx([100.0, 50 * 0.296081, 0.0], abs=1e-4)
    assert composite.extremes([0.5, 0.0]) == (0, 1)
    assert composite.extremes([1.0, 1.0]) == (0, 0)  # ties go to the first indicator


def test_lower_is_better_constant_columns_and_equal_weights():
    normalised = composite.min_max([[1.0, 7.0], [3.0, 7.0]], [False, True])
    assert normalised == [[1.0, 1.0], [0.0, 1.0]]  # the constant column is 1 everywhere
    found = composite.entropy_weights(normalised)
    assert found.weights == pytest.approx([1.0, 0.0])
    assert composite.entropy_weights([[1.0, 1.0], [1.0, 1.0]]).weights == [0.5, 0.5]
    assert composite.scale_weights([2.0, 6.0]) == [0.25, 0.75]


def test_z_scores_and_ties_broken_by_region_code():
    z = composite.z_score([[1.0], [3.0]], [True])
    assert z == [[-1.0], [1.0]]
    tied = composite.score(["330500", "330200", "330300"], [[1.0], [1.0], [0.0]], [1.0], 100.0)
    assert [s.region for s in tied] == ["330200", "330500", "330300"]
    assert [s.region for s in composite.score(["330200", "330500", "330300"], [[1.0], [1.0], [0.0]], [1.0], 100.0)] == ["330200", "330500", "330300"]


def test_least_squares_cagr_and_figures():
    intercept, slope = least_squares([(0, 1.0), (1, 3.0), (2, 5.0)])
    assert (intercept, slope) == pytest.approx((1.0, 2.0))
    assert least_squares([(0, 0.0), (1, 1.0), (2, 1.0)])[1] == pytest.approx(0.5)
    assert cagr(100.0, 121.0, 8) == pytest.approx(10.0)  # two years of 10%
    assert (figure(2640.0), figure(0.125), figure(3000), figure(None)) == ("2,640", "0.12", "3,000", "—")
