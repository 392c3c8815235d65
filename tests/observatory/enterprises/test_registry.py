"""The registry's records: officials write and search, an enterprise's own org reads, every change audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound
from aicommons.core.tables import AuditEntry
from aicommons.observatory import enterprises
from aicommons.observatory.enterprises import EnterpriseCreate, EnterpriseUpdate
from aicommons.observatory.enterprises.credit_codes import check_character
from aicommons.observatory.enterprises.registry import upsert
from aicommons.observatory.enterprises.tables import Enterprise

HIKVISION = "91330000733796106P"


def code(division: str, serial: str) -> str:
    first17 = "91" + division + serial
    return first17 + check_character(first17)


def spec(credit_code: str = HIKVISION, **overrides) -> EnterpriseCreate:
    fields = {"credit_code": credit_code, "name": "杭州海康威视数字技术股份有限公司", "city": "杭州", "district": "滨江",
              "tiers": ["科技领军企业", "listed"], "ai_fields": ["computer-vision"], "revenue": {2023: 89_300_000_000}}
    return EnterpriseCreate.model_validate({**fields, **overrides})


def audit_actions(session, credit_code: str) -> list[str]:
    return list(session.scalars(sa.select(AuditEntry.action).where(AuditEntry.resource_id == credit_code).order_by(AuditEntry.seq)))


def test_create_read_update_delete_are_audited(runtime, world, official):
    with runtime.session() as session:
        created = enterprises.create_enterprise(session, official.actor, spec(HIKVISION.lower(), org_id=world.org_a))
    assert (created.credit_code, created.city, created.district) == (HIKVISION, "杭州市", "滨江区")
    assert created.tiers == ["tech-leader", "listed"] and created.revenue == {2023: 89_300_000_000}
    with runtime.session() as session:
        changed = enterprises.update_enterprise(session, official.actor, HIKVISION, EnterpriseUpdate(revenue={2024: 92_500_000_000}, standards=3))
    assert changed.revenue == {2023: 89_300_000_000, 2024: 92_500_000_000} and changed.standards == 3 and changed.name == created.name
    with runtime.session() as session:
        removed_year = enterprises.update_enterprise(session, official.actor, HIKVISION, EnterpriseUpdate(revenue={2023: None}, org_id=""))
    assert removed_year.revenue == {2024: 92_500_000_000} and removed_year.org_id is None
    with runtime.session() as session:
        enterprises.delete_enterprise(session, official.actor, HIKVISION)
    with runtime.session() as session:
        assert session.get(Enterprise, HIKVISION) is None
        assert audit_actions(session, HIKVISION) == ["enterprise.create", "enterprise.update", "enterprise.update", "enterprise.delete"]
        with pytest.raises(NotFound):
            enterprises.get_enterprise(session, official.actor, HIKVISION)


def test_a_registered_code_is_one_record(runtime, world):
    with runtime.session() as session:
        enterprises.create_enterprise(session, world.operator.actor, spec())
    with runtime.session() as session, pytest.raises(Conflict, match="already registered"):
        enterprises.create_enterprise(session, world.operator.actor, spec(" 91330000733796106p", name="Another name"))
    with runtime.session() as session:
        assert upsert(session, world.operator.actor, spec(name="海康威视")) == "updated"
        assert upsert(session, world.operator.actor, spec(name="海康威视")) == "unchanged"
    with runtime.session() as session:
        assert session.scalar(sa.select(sa.func.count()).select_from(Enterprise)) == 1
        assert session.get(Enterprise, HIKVISION).name == "海康威视"
        assert audit_actions(session, HIKVISION) == ["enterprise.create", "enterprise.update"]


def test_bad_records_are_refused_naming_the_problem():
    with pytest.raises(ValidationError, match="ends with check character 'Q'"):
        spec(HIKVISION[:17] + "Q")
    with pytest.raises(ValidationError, match="The city '上海市' is not a prefecture-level city of Zhejiang"):
        spec(city="上海市")
    with pytest.raises(ValidationError, match="The district '鹿城区' is not in 杭州市"):
        spec(district="鹿城区")
    with pytest.raises(ValidationError, match="tiers.0"):
        spec(tiers=["national-champion"])
    with pytest.raises(ValidationError, match="revenue"):
        spec(revenue={1800: 5})
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        spec(invention_patents=-1)
    with pytest.raises(ValidationError, match="run it as a formula"):
        spec(products=['=HYPERLINK("http://x.test","点击")'])


def test_an_unknown_linked_org_or_a_bad_change_writes_nothing(runtime, world):
    from support import assert_db_unchanged, db_state

    with runtime.session() as session:
        enterprises.create_enterprise(session, world.operator.actor, spec())
    before = db_state(runtime)
    with runtime.session() as session, pytest.raises(Invalid, match="no org 'org_missing' exists"):
        enterprises.create_enterprise(session, world.operator.actor, spec(code("330212", "MA2AAAAA1"), org_id="org_missing"))
    with runtime.session() as session, pytest.raises(Invalid, match="The district '西湖区' is not in 宁波市"):
        enterprises.update_enterprise(session, world.operator.actor, HIKVISION, EnterpriseUpdate(city="宁波", district="西湖区"))
    with runtime.session() as session, pytest.raises(Invalid, match="'credit_code' parameter of update_enterprise"):
        enterprises.update_enterprise(session, world.operator.actor, "12345", EnterpriseUpdate(name="x"))
    assert_db_unchanged(before, db_state(runtime))


def test_moving_to_another_city_drops_the_old_district(runtime, world):
    with runtime.session() as session:
        enterprises.create_enterprise(session, world.operator.actor, spec())
        moved = enterprises.update_enterprise(session, world.operator.actor, HIKVISION, EnterpriseUpdate(city="宁波"))
    assert (moved.city, moved.district) == ("宁波市", None)


def test_only_officials_write_and_search_and_only_the_linked_org_reads(runtime, world, official):
    with runtime.session() as session:
        enterprises.create_enterprise(session, official.actor, spec(org_id=world.org_a))
    for member in (world.a_admin, world.b_member):
        with runtime.session() as session:
            with pytest.raises(Forbidden, match="Only the platform operator or a government org may register enterprises"):
                enterprises.create_enterprise(session, member.actor, spec(code("330106", "MA2BBBBB2")))
            with pytest.raises(Forbidden):
                enterprises.update_enterprise(session, member.actor, HIKVISION, EnterpriseUpdate(name="x"))
            with pytest.raises(Forbidden):
                enterprises.delete_enterprise(session, member.actor, HIKVISION)
            with pytest.raises(Forbidden):
                enterprises.list_enterprises(session, member.actor)
    with runtime.session() as session:
        assert enterprises.get_enterprise(session, world.a_member.actor, HIKVISION).credit_code == HIKVISION
        assert [e.credit_code for e in enterprises.own_enterprises(session, world.a_member.actor)] == [HIKVISION]
        assert enterprises.own_enterprises(session, world.b_member.actor) == []
        with pytest.raises(NotFound, match="No enterprise with id '91330000733796106P'"):
            enterprises.get_enterprise(session, world.b_admin.actor, HIKVISION)


def test_search_by_region_tier_field_and_name(runtime, world):
    records = [
        spec(),
        spec(code("330108", "MA2CCCCC3"), name="杭州滨江小巨人视觉", tiers=["little-giant"], ai_fields=["computer-vision", "security"]),
        spec(code("330212", "MA2DDDDD4"), name="宁波鄞州智造", city="宁波", district="鄞州", tiers=["little-giant", "high-tech"], ai_fields=["manufacturing"]),
        spec(code("330302", "MA2EEEEE5"), name="温州_100%样例", city="温州", district=None, tiers=[], ai_fields=["finance"], sample=True),
    ]
    with runtime.session() as session:
        for record in records:
            enterprises.create_enterprise(session, world.operator.actor, record)

    def search(**filters) -> set[str]:
        with runtime.session() as session:
            return {e.name for e in enterprises.list_enterprises(session, world.operator.actor, **filters).items}

    assert search(city="杭州") == {records[0].name, records[1].name}
    assert search(district="鄞州区") == {"宁波鄞州智造"}
    assert search(city="Hangzhou", district="330108") == {records[0].name, records[1].name}
    assert search(tier="专精特新小巨人") == {"杭州滨江小巨人视觉", "宁波鄞州智造"}
    assert search(tier="little-giant", city="宁波") == {"宁波鄞州智造"}
    assert search(ai_field="computer-vision") == {records[0].name, "杭州滨江小巨人视觉"}
    assert search(name="滨江") == {"杭州滨江小巨人视觉"}
    assert search(name="_100%") == {"温州_100%样例"}
    assert search(name="%") == {"温州_100%样例"}
    assert search(sample=True) == {"温州_100%样例"}
    assert len(search(sample=False)) == 3
    for bad in ({"city": "Suzhou"}, {"district": "浦东新区"}, {"tier": "national"}, {"ai_field": "quantum"}, {"limit": 0}):
        with runtime.session() as session, pytest.raises(Invalid, match=f"'{next(iter(bad))}' parameter of list_enterprises"):
            enterprises.list_enterprises(session, world.operator.actor, **bad)


def test_pages_continue_with_the_cursor(runtime, world):
    with runtime.session() as session:
        enterprises.add_sample_enterprises(session, world.operator.actor, count=7, seed=1)
    seen, cursor = [], None
    while True:
        with runtime.session() as session:
            page = enterprises.list_enterprises(session, world.operator.actor, limit=3, cursor=cursor)
        seen += [e.credit_code for e in page.items]
        if not (cursor := page.next_cursor):
            break
    assert len(seen) == 7 and seen == sorted(seen, reverse=True)
