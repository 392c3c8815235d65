"""Observations: recorded, superseded with audit, imported from CSV row by row, computed from the platform;
bad input stores nothing; only officials write."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from support import assert_db_unchanged, db_state

from aicommons import data
from aicommons.core.errors import Forbidden, Invalid
from aicommons.core.tables import AuditEntry
from aicommons.observatory import statistics
from aicommons.observatory.statistics import ComputeRequest, ObservationCreate


def _record(runtime, actor, indicator="ai_enterprises", region="330100", quarter="2026Q3", value="1,250"):
    with runtime.session() as session:
        return statistics.record_observation(session, actor, ObservationCreate(indicator=indicator, region=region, quarter=quarter, value=value))


def test_record_then_rerecord_supersedes_with_audit(runtime, official):
    first = _record(runtime, official.actor, region="Hangzhou", quarter="2026-q3")
    assert (first.region, first.region_name, first.quarter, first.value, first.unit, first.source) == ("330100", "杭州市", "2026Q3", 1250.0, "家", "manual")
    second = _record(runtime, official.actor, region="杭州", value=1300)
    assert second.supersedes == first.id
    with runtime.session() as session:
        current = statistics.list_observations(session, official.actor, indicator="ai_enterprises").items
        history = statistics.list_observations(session, official.actor, indicator="ai_enterprises", history=True).items
        entries = list(session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "statistics.record").order_by(AuditEntry.seq)))
    assert [o.id for o in current] == [second.id]
    assert {o.id: o.superseded_by for o in history} == {first.id: second.id, second.id: None}
    assert [e.resource_id for e in entries] == [first.id, second.id]
    assert entries[0].before_digest is None and entries[1].before_digest is not None
    assert entries[1].detail["supersedes"] == first.id


@pytest.mark.parametrize(("field", "value", "message"), [
    ("indicator", "ai_unicorns", "must be a known indicator"),
    ("quarter", "2026Q5", "written like 2026Q3; got '2026Q5'"),
    ("value", "many", "must be a finite number, zero or more; got 'many'"),
    ("value", "-3", "zero or more"),
    ("region", "上海市", r"must be Zhejiang \(330000\).*got '上海市'"),
])  # fmt: skip
def test_bad_input_names_the_problem_and_stores_nothing(runtime, official, field, value, message):
    spec = {"indicator": "ai_enterprises", "region": "330100", "quarter": "2026Q3", "value": "12"} | {field: value}
    before = db_state(runtime)
    with pytest.raises(Invalid, match=message), runtime.session() as session:
        statistics.record_observation(session, official.actor, ObservationCreate(**spec))
    assert_db_unchanged(before, db_state(runtime))


def test_shares_are_at_most_100_and_only_officials_write(runtime, world, official):
    with pytest.raises(Invalid, match="percentage from 0 to 100"):
        _record(runtime, official.actor, indicator="high_performance_compute_share", value=130)
    before = db_state(runtime)
    with pytest.raises(Forbidden, match="record statistics"):
        _record(runtime, world.a_admin.actor)
    with pytest.raises(Forbidden), runtime.session() as session:
        statistics.import_observations(session, world.a_member.actor, b"indicator,region,quarter,value\n")
    assert_db_unchanged(before, db_state(runtime))
    assert _record(runtime, world.operator.actor).recorded_by == world.operator.actor.user_id


def test_csv_import_keeps_good_rows_and_reports_bad_ones(runtime, official):
    content = (
        "indicator,region,quarter,value,note\n"
        "ai_enterprises,杭州市,2026Q2,1200,统计局\n"
        "ai_enterprises,宁波市,2026Q5,300,\n"
        "ai_unicorns,宁波市,2026Q2,3,\n"
        "ai_revenue,330200,2026Q2,abc,\n"
        "ai_revenue,Ningbo,2026Q2,\"1,234.5\",\n"
    ).encode()
    with runtime.session() as session:
        report = statistics.import_observations(session, official.actor, content, "q2.csv")
    assert report.rows == 5
    assert [(o.indicator, o.region, o.value) for o in report.recorded] == [("ai_enterprises", "330100", 1200.0), ("ai_revenue", "330200", 1234.5)]
    assert report.recorded[0].note == "统计局" and report.source.startswith("csv:") and len(report.source) == 20
    assert all(o.source == report.source for o in report.recorded)
    assert [p.row for p in report.problems] == [3, 4, 5]
    assert "2026Q5" in report.problems[0].message and "ai_unicorns" in report.problems[1].message and "'abc'" in report.problems[2].message
    before = db_state(runtime)
    with pytest.raises(Invalid, match="lacks value"), runtime.session() as session:
        statistics.import_observations(session, official.actor, b"indicator,region,quarter\nai_revenue,330100,2026Q1\n")
    assert_db_unchanged(before, db_state(runtime))


def test_platform_indicators_count_the_platform_by_region(runtime, world, official):
    enterprises = pytest.importorskip("aicommons.observatory.enterprises", reason="the enterprise registry (helper H4) is not installed")
    with runtime.session() as session:
        enterprises.add_sample_enterprises(session, official.actor, count=12, seed=5)
        first = enterprises.list_enterprises(session, official.actor, limit=200).items[0]
        enterprises.update_enterprise(session, official.actor, first.credit_code, enterprises.EnterpriseUpdate(org_id=world.org_a))
        data.create_dataset(session, world.a_member.actor, data.DatasetCreate(name="reviews", modality="text"))
        data.create_dataset(session, world.b_member.actor, data.DatasetCreate(name="images", modality="text"))
    quarter = statistics.Quarter(first.created_at.year, (first.created_at.month - 1) // 3 + 1).label
    city = statistics.find_area(first.city)
    with runtime.session() as session:
        datasets = statistics.compute_observations(session, official.actor, ComputeRequest(indicator="platform.datasets", quarter=quarter))
        registered = statistics.compute_observations(session, official.actor, ComputeRequest(indicator="platform.enterprises", quarter=quarter))
    by_region = {o.region: o.value for o in datasets}
    assert len(datasets) == 12 and by_region["330000"] == 2 and by_region[city.code] == 1
    assert sum(v for code, v in by_region.items() if code != "330000") == 1  # org B is in no region's registry
    assert {o.source for o in datasets} == {"platform:platform.datasets"}
    counts = {o.region: o.value for o in registered}
    assert counts["330000"] == 12 and sum(v for code, v in counts.items() if code != "330000") == 12
    assert all(o.sample for o in registered if o.value)
    with pytest.raises(Invalid, match="must be a platform indicator"), runtime.session() as session:
        statistics.compute_observations(session, official.actor, ComputeRequest(indicator="ai_enterprises", quarter=quarter))


def test_every_platform_indicator_reads_an_empty_platform_as_zero(runtime, official):
    with runtime.session() as session:
        for name in statistics.platform_indicators.names():
            if name == "platform.enterprises":
                continue  # needs the registry; covered above
            found = statistics.compute_observations(session, official.actor, ComputeRequest(indicator=name, quarter="2026Q1", regions=["330000", "滨江区"]))
            assert [(o.region, o.value) for o in found] == [("330000", 0.0), ("330108", 0.0)], name
