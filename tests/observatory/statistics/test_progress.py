"""Progress of targets: achieved, on track, at risk and off track from recorded series, with the arithmetic shown."""

from __future__ import annotations

import pytest

from aicommons.core.errors import Invalid, NotFound
from aicommons.observatory import statistics
from aicommons.observatory.statistics import ObservationCreate


def _series(runtime, actor, indicator, region, values):
    with runtime.session() as session:
        for quarter, value in values.items():
            statistics.record_observation(session, actor, ObservationCreate(indicator=indicator, region=region, quarter=quarter, value=value))


def _progress(runtime, actor, target_id, as_of=None):
    with runtime.session() as session:
        return statistics.get_progress(session, actor, target_id, as_of=as_of)


def test_no_data_then_a_least_squares_projection_at_risk(runtime, world, official):
    assert _progress(runtime, world.b_member.actor, "001-ai-enterprises").verdict == "no_data"
    # 1,840 in 2026Q1 rising 160 a quarter:
    _series(runtime, official.actor, "ai_enterprises", "330000", {"2026Q1": 1840, "2026Q2": 2000, "2026Q3": 2160})
    found = _progress(runtime, world.b_member.actor, "001-ai-enterprises")
    # slope 160, projected at 2027Q4 (5 quarters after 2026Q3) = 2,160 + 5 × 160 = 2,960 = 99% of 3,000
    assert (found.latest, found.latest_quarter, found.observations) == (2160, "2026Q3", 3)
    assert found.trend_per_quarter == pytest.approx(160)
    assert found.projected == pytest.approx(2960)
    assert found.share_of_target == pytest.approx(0.72)
    assert found.verdict == "at_risk"
    assert found.arithmetic == (
        "latest 2,160 (2026Q3) = 72% of 3,000 家; least-squares trend 160 a quarter over 3 quarters; "
        "projected 2,960 at 2027Q4 = 98% of 3,000 → at risk (≥ 80%)"
    )
    _series(runtime, official.actor, "ai_enterprises", "330000", {"2026Q3": 2240})  # a correction supersedes: slope 200
    assert _progress(runtime, world.b_member.actor, "001-ai-enterprises").verdict == "on_track"
    early = _progress(runtime, world.b_member.actor, "001-ai-enterprises", as_of="2026Q1")
    assert (early.observations, early.projected, early.verdict) == (1, 1840, "off_track")
    assert "one observation, no trend; projected 1,840 at 2027Q4 = 61% of 3,000 → off track (< 80%)" in early.arithmetic


def test_achieved_ranges_about_and_passed_deadlines(runtime, official):
    _series(runtime, official.actor, "ai_revenue", "滨江区", {"2023Q2": 950, "2023Q4": 1010})
    assert _progress(runtime, official.actor, "002-ai-revenue-2023").verdict == "achieved"
    late = _progress(runtime, official.actor, "002-ai-revenue-2025")
    # slope (1,010 − 950) / 2 = 30 a quarter; 1,010 + 8 × 30 = 1,250 at 2025Q4 = 62% of 2,000
    assert (late.projected, late.verdict) == (pytest.approx(1250), "off_track")
    _series(runtime, official.actor, "ai_revenue", "滨江区", {"2026Q1": 1500})
    passed = _progress(runtime, official.actor, "002-ai-revenue-2025")
    assert passed.verdict == "off_track" and "deadline 2025Q4 passed" in passed.arithmetic
    _series(runtime, official.actor, "key_laboratories", "杭州市", {"2024Q2": 2})
    assert _progress(runtime, official.actor, "004-key-laboratories").verdict == "achieved"  # 2—3 家: the lower end reached
    _series(runtime, official.actor, "innovative_smes", "330000", {"2022Q4": 93})
    about = _progress(runtime, official.actor, "000-innovative-smes")
    assert about.verdict == "achieved" and "about 100 家" in about.arithmetic  # 100家左右: within 10%


def test_growth_targets_use_the_cagr(runtime, official):
    _series(runtime, official.actor, "ai_revenue", "杭州市", {"2022Q1": 1000, "2022Q3": 1050, "2023Q1": 1100})
    found = _progress(runtime, official.actor, "004-ai-revenue-growth")
    # (1,100 / 1,000)^(4/4) − 1 = 10% a year = 66.7% (shown 66%) of 15% → off track
    assert found.growth_rate == pytest.approx(10.0)
    assert found.verdict == "off_track" and found.unit == "%"
    assert found.arithmetic == "CAGR 2022Q1→2023Q1 = (1,100 / 1,000)^(4/4) − 1 = 10.0% a year = 66% of 15% → off track (< 80%)"
    _series(runtime, official.actor, "ai_revenue", "杭州市", {"2025Q1": 1800})
    done = _progress(runtime, official.actor, "004-ai-revenue-growth")
    assert done.growth_rate == pytest.approx((1.8 ** (1 / 3) - 1) * 100) and done.verdict == "achieved"


def test_every_year_targets_annualise_the_latest_year(runtime, official):
    _series(runtime, official.actor, "new_ai_startups", "330000", {"2021Q1": 60, "2021Q2": 50, "2021Q3": 40, "2021Q4": 70, "2022Q1": 45})
    found = _progress(runtime, official.actor, "003-new-ai-startups")
    assert (found.latest, found.projected, found.verdict) == (45, 180, "at_risk")
    assert found.arithmetic == "2022: 1 quarter(s) sum to 45, annualised 45 / 1 × 4 = 180 = 90% of 200 a year → at risk (≥ 80%)"
    full = _progress(runtime, official.actor, "003-new-ai-startups", as_of="2021Q4")
    assert (full.latest, full.verdict) == (220, "achieved")


def test_listing_filters_and_errors(runtime, world):
    with runtime.session() as session:
        listed = statistics.list_progress(session, world.a_member.actor, document="002")
        assert [p.target_id for p in listed] == [t.id for t in statistics.list_targets(document="002")]
        assert {p.verdict for p in listed} == {"no_data"}
        assert len(statistics.list_progress(session, world.a_member.actor)) == 70
        with pytest.raises(Invalid, match="'document' parameter must be one of 000"):
            statistics.list_progress(session, world.a_member.actor, document="005")
        with pytest.raises(Invalid, match="'as_of' parameter"):
            statistics.list_progress(session, world.a_member.actor, as_of="2026Q0")
        with pytest.raises(NotFound):
            statistics.get_progress(session, world.a_member.actor, "009-nothing")
