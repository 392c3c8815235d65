"""The demo's sample statistics: 11 cities, the province and Binjiang, marked, reproducible, and enough for progress and a ranking."""

from __future__ import annotations

import pytest

from aicommons.core.errors import Forbidden
from aicommons.observatory import statistics
from aicommons.observatory.statistics.areas import city_codes
from aicommons.observatory.statistics.samples import sample_values


def test_sample_rows_are_marked_cover_the_cities_and_feed_progress_and_ranking(runtime, world, official):
    with runtime.session() as session:
        rows = statistics.add_sample_observations(session, official.actor)
    assert rows == 7 * 12 * 11 + 2 * 11  # 7 indicators × (province + 11 cities) × 11 quarters, Binjiang's 2 × 11
    with runtime.session() as session:
        page = statistics.list_observations(session, world.a_member.actor, quarter="2026Q3", limit=200)
        progress = {p.target_id: p for p in statistics.list_progress(session, world.a_member.actor, document="001")}
        ranking = statistics.run_evaluation(session, official.actor, statistics.SAMPLE_EVALUATION)
    assert all(o.source == "sample" and o.sample for o in page.items)
    assert {o.region for o in page.items} == {"330000", "330108", *city_codes()}
    assert progress["001-ai-enterprises"].sample and progress["001-ai-enterprises"].observations == 11
    assert {p.verdict for p in progress.values()} >= {"on_track", "at_risk", "off_track", "no_data"}
    assert ranking.sample and len(ranking.rows) == 11 and ranking.rows[0].region_name == "杭州市"
    assert all(r.previous_rank is not None for r in ranking.rows)
    assert sum(ranking.weights.values()) == pytest.approx(1.0)


def test_the_same_seed_gives_the_same_figures_and_only_officials_seed(runtime, world):
    first, last = statistics.parse_quarter("2025Q1"), statistics.parse_quarter("2025Q4")
    assert sample_values(first, last, 3) == sample_values(first, last, 3) != sample_values(first, last, 4)
    with pytest.raises(Forbidden), runtime.session() as session:
        statistics.add_sample_observations(session, world.a_admin.actor)
