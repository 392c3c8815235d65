"""Sample enterprises: valid, spread over Zhejiang, marked as samples, the same for the same seed."""

from __future__ import annotations

from collections import Counter

import pytest
import sqlalchemy as sa

from aicommons.core.errors import Forbidden, Invalid
from aicommons.observatory import enterprises
from aicommons.observatory.enterprises.credit_codes import credit_code_problem
from aicommons.observatory.enterprises.regions import cities
from aicommons.observatory.enterprises.samples import SAMPLE_MARK, sample_enterprises
from aicommons.observatory.enterprises.tables import Enterprise


@pytest.mark.no_database
def test_samples_cover_zhejiang_with_valid_marked_records():
    samples = sample_enterprises()
    assert len(samples) == 200 and len({s.credit_code for s in samples}) == 200
    assert all(credit_code_problem(s.credit_code) is None for s in samples)
    assert all(s.sample and s.name.endswith(SAMPLE_MARK) for s in samples)
    per_city = Counter(s.city for s in samples)
    assert set(per_city) == {c.name for c in cities()}
    assert per_city.most_common(1)[0][0] == "杭州市"
    districts = {d.name: d.code for c in cities() for d in c.districts}
    assert all(s.credit_code[2:8] == districts[s.district] for s in samples)
    tiers = Counter(t for s in samples for t in s.tiers)
    assert 0 < tiers["tech-leader"] < tiers["little-giant"] < tiers["innovative-sme"]
    assert all(len(s.revenue) == 3 and min(s.revenue.values()) > 0 for s in samples)


@pytest.mark.no_database
def test_the_same_seed_gives_the_same_samples():
    assert sample_enterprises(20, seed=4) == sample_enterprises(20, seed=4)
    assert sample_enterprises(20, seed=4) != sample_enterprises(20, seed=5)


def test_adding_samples_twice_changes_nothing_the_second_time(runtime, world):
    with runtime.session() as session:
        first = enterprises.add_sample_enterprises(session, world.operator.actor, count=30)
    with runtime.session() as session:
        again = enterprises.add_sample_enterprises(session, world.operator.actor, count=30)
        assert session.scalar(sa.select(sa.func.count()).select_from(Enterprise).where(Enterprise.sample)) == 30
    assert (first.created, again.created, again.unchanged) == (30, 0, 30)
    with runtime.session() as session:
        with pytest.raises(Forbidden):
            enterprises.add_sample_enterprises(session, world.a_admin.actor)
        with pytest.raises(Invalid, match="'count' parameter"):
            enterprises.add_sample_enterprises(session, world.operator.actor, count=0)
