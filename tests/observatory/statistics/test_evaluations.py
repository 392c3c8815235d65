"""The regional evaluation from recorded observations: entropy weights by hand, deterministic ranks, the
year before, strongest and weakest, stored inputs; errors store nothing; only officials run it."""

from __future__ import annotations

import math

import pytest
import sqlalchemy as sa
from support import assert_db_unchanged, db_state

from aicommons.core.errors import Forbidden, Invalid, NotFound
from aicommons.core.tables import AuditEntry
from aicommons.observatory import statistics
from aicommons.observatory.statistics import (
    EvaluationCreate,
    EvaluationIndicator,
    ObservationCreate,
)

# Three cities in 2025, the worked example of test_composite (A = enterprises, B = models):
#   杭州 330100: A 30, B 15; 宁波 330200: A 20, B 5; 温州 330300: A 10, B 5
#   w_A = (1 − e_A) / (2 − e_A) with e_A = 1/3 + (2/3)·ln(3/2)/ln 3, w_B = 1 / (2 − e_A)
E_A = 1 / 3 + (2 / 3) * math.log(1.5) / math.log(3)
CITIES = {"330100": (30, 15), "330200": (20, 5), "330300": (10, 5)}


def _record_year(runtime, actor, year, values, quarter=4):
    with runtime.session() as session:
        for code, (enterprises, models) in values.items():
            for indicator, value in (("ai_enterprises", enterprises), ("industry_models", models)):
                statistics.record_observation(session, actor, ObservationCreate(indicator=indicator, region=code, quarter=f"{year}Q{quarter}", value=value))


def _spec(**changes):
    return EvaluationCreate(**{"year": 2025, "indicators": [EvaluationIndicator(indicator="ai_enterprises"), EvaluationIndicator(indicator="industry_models")],
                               "regions": list(CITIES)} | changes)


def _run(runtime, actor, spec):
    with runtime.session() as session:
        return statistics.run_evaluation(session, actor, spec)


def test_entropy_weights_scores_ranks_and_the_year_before(runtime, world, official):
    _record_year(runtime, official.actor, 2025, CITIES)
    _record_year(runtime, official.actor, 2025, {"330100": (1, 1)}, quarter=2)  # an earlier quarter: a stock reads the latest
    _record_year(runtime, official.actor, 2024, {"330100": (8, 2), "330200": (9, 3), "330300": (5, 1)})
    found = _run(runtime, official.actor, _spec(name="test"))
    assert found.weighting == "entropy" and found.normalisation == "min-max"
    assert found.weights["ai_enterprises"] == pytest.approx((1 - E_A) / (2 - E_A), abs=1e-6)
    assert found.weights["industry_models"] == pytest.approx(1 / (2 - E_A), abs=1e-6)
    assert [(r.rank, r.region, r.region_name) for r in found.rows] == [(1, "330100", "杭州市"), (2, "330200", "宁波市"), (3, "330300", "温州市")]
    assert [r.score for r in found.rows] == pytest.approx([100.0, 50 * (1 - E_A) / (2 - E_A), 0.0], abs=1e-4)
    assert [r.previous_rank for r in found.rows] == [2, 1, 3]
    assert found.rows[0].change == pytest.approx(100.0 - found.rows[0].previous_score)
    ningbo = found.rows[1]
    assert (ningbo.strongest, ningbo.weakest, ningbo.values, ningbo.normalised) == (
        "ai_enterprises", "industry_models", {"ai_enterprises": 20.0, "industry_models": 5.0}, {"ai_enterprises": 0.5, "industry_models": 0.0})
    assert found.inputs["2025"]["330100"] == {"ai_enterprises": 30.0, "industry_models": 15.0}
    assert found.inputs["2024"]["330300"] == {"ai_enterprises": 5.0, "industry_models": 1.0}
    assert "e = 0.5794" in found.arithmetic[0] and not found.sample and found.left_out == []
    with runtime.session() as session:
        assert statistics.get_ranking(session, world.b_member.actor, 2025) == found
        assert statistics.get_evaluation(session, world.b_member.actor, found.id) == found
        assert [e.id for e in statistics.list_evaluations(session, world.b_member.actor, year=2025).items] == [found.id]
        assert session.scalar(sa.select(AuditEntry.action).where(AuditEntry.resource_id == found.id)) == "statistics.evaluate"
    again = _run(runtime, official.actor, _spec(name="test"))
    assert [(r.region, r.score) for r in again.rows] == [(r.region, r.score) for r in found.rows]


def test_given_weights_z_scores_directions_ties_and_left_out_regions(runtime, official):
    _record_year(runtime, official.actor, 2025, {"330100": (10, 5), "330200": (10, 5), "330300": (30, 15)})
    tied = _run(runtime, official.actor, _spec(regions=["330300", "Ningbo", "杭州市", "嘉兴市"], indicators=[
        EvaluationIndicator(indicator="ai_enterprises", weight=3), EvaluationIndicator(indicator="industry_models", weight=1)]))
    assert tied.weights == {"ai_enterprises": 0.75, "industry_models": 0.25}
    assert [r.region for r in tied.rows] == ["330300", "330100", "330200"]  # 杭州 and 宁波 tie: by region code
    assert tied.left_out == ["330400 嘉兴市: no 2025 value of ai_enterprises, industry_models"]
    z = _run(runtime, official.actor, _spec(normalisation="z-score", indicators=[
        EvaluationIndicator(indicator="ai_enterprises", direction="lower"), EvaluationIndicator(indicator="industry_models", direction="lower")]))
    assert [r.region for r in z.rows] == ["330100", "330200", "330300"]
    assert z.rows[0].score == pytest.approx(1 / math.sqrt(2), abs=1e-6)  # z = −(10 − 50/3) / sd, weights equal by symmetry
    assert z.rows[0].previous_rank is None


@pytest.mark.parametrize(("spec", "message"), [
    (_spec(year=1990), "'year' parameter must be a year from 2000"),
    (_spec(indicators=[EvaluationIndicator(indicator="ai_enterprises"), EvaluationIndicator(indicator="nope")]), "must be a known indicator"),
    (_spec(indicators=[EvaluationIndicator(indicator="ai_enterprises", weight=1), EvaluationIndicator(indicator="industry_models")]), "for all of them or none"),
    (_spec(indicators=[EvaluationIndicator(indicator="ai_enterprises")] * 2), "each indicator once"),
    (_spec(regions=["330100"]), "at least two regions"),
    (_spec(year=2023), "At least two regions need a 2023 value"),
])  # fmt: skip
def test_bad_evaluations_store_nothing(runtime, official, spec, message):
    _record_year(runtime, official.actor, 2025, CITIES)
    before = db_state(runtime)
    with pytest.raises(Invalid, match=message):
        _run(runtime, official.actor, spec)
    assert_db_unchanged(before, db_state(runtime))


def test_only_officials_evaluate_and_a_year_without_one_is_not_found(runtime, world, official):
    _record_year(runtime, official.actor, 2025, CITIES)
    with pytest.raises(Forbidden, match="run regional evaluations"):
        _run(runtime, world.a_admin.actor, _spec())
    with pytest.raises(NotFound, match="No regional evaluation of 2025"), runtime.session() as session:
        statistics.get_ranking(session, world.a_admin.actor, 2025)
