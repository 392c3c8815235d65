"""Applications against a real database: yearly caps across applications, 从高、从优、不重复 with worked
examples, years, decisions, permissions and the audit log."""

from __future__ import annotations

from decimal import Decimal

import pytest
import sqlalchemy as sa

from aicommons.core.errors import Conflict, Forbidden, Invalid, NotFound
from aicommons.core.tables import AuditEntry
from aicommons.observatory.subsidies import (
    Approval,
    Rejection,
    SubsidyRequest,
    apply_for_subsidy,
    approve_application,
    get_application,
    list_applications,
    quote_subsidy,
    reject_application,
)


def request(item: str, *, year: int = 2025, project: str = "p1", level: str | None = None, **bases: object) -> SubsidyRequest:
    return SubsidyRequest.model_validate({"item": item, "level": level, "bases": bases, "year": year, "project_key": project})


@pytest.fixture
def act(runtime):
    """act(actor, function, *args): call a service function in its own committed transaction."""

    def call(actor, function, *args):
        with runtime.session() as session:
            return function(session, actor, *args)

    return call


@pytest.fixture
def granted(act, official):
    """granted(applicant, req) -> approved amount: apply, then approve at the payable amount."""

    def grant(applicant, req, amount=None):
        application = act(applicant, apply_for_subsidy, req)
        return act(official.actor, approve_application, application.id, Approval(reason="meets 002 三", amount=amount)).amount

    return grant


def test_yearly_cap_per_enterprise_across_applications(act, granted, world):
    a = world.a_member.actor
    assert granted(a, request("training-environment", project="contract-1", service_contract=1_000_000)) == Decimal(300_000)
    second = act(a, quote_subsidy, request("training-environment", project="contract-2", service_contract=1_000_000))
    assert (second.entitlement, second.yearly_cap_left, second.payable) == (Decimal(300_000), Decimal(200_000), Decimal(200_000))
    assert "Yearly cap per entity 500,000.00: 300,000.00 approved under training-environment in 2025, 200,000.00 left" in second.arithmetic[-2]
    assert granted(a, request("training-environment", project="contract-2", service_contract=1_000_000)) == Decimal(200_000)
    with pytest.raises(Conflict, match="Nothing is payable"):
        act(a, apply_for_subsidy, request("training-environment", project="contract-3", service_contract=100_000))
    # another year, and another enterprise in the same year, start afresh
    assert act(a, quote_subsidy, request("training-environment", year=2026, project="contract-3", service_contract=1_000_000)).payable == Decimal(300_000)
    assert act(world.b_member.actor, quote_subsidy, request("training-environment", project="contract-1", service_contract=1_000_000)).payable == Decimal(300_000)


def test_a_single_application_above_the_yearly_cap_is_cut_to_it(act, world):
    quote = act(world.a_member.actor, quote_subsidy, request("training-environment", service_contract=2_000_000))
    assert (quote.entitlement, quote.payable) == (Decimal(600_000), Decimal(500_000))


def test_the_yearly_cap_is_applied_again_at_approval_to_pending_applications(act, official, world):
    a = world.a_member.actor
    first = act(a, apply_for_subsidy, request("conference", project="summit", actual_spending=1_200_000))
    second = act(a, apply_for_subsidy, request("conference", project="forum", actual_spending=1_200_000))
    assert first.quoted == second.quoted == Decimal(600_000)  # pending applications do not count
    assert act(official.actor, approve_application, first.id, Approval(reason="ok")).amount == Decimal(600_000)
    approved = act(official.actor, approve_application, second.id, Approval(reason="ok"))
    assert approved.amount == Decimal(400_000) and approved.quoted == Decimal(600_000)
    assert "Yearly cap per entity 1,000,000.00: 600,000.00 approved under conference in 2025, 400,000.00 left" in approved.decision[-2]
    third = act(a, apply_for_subsidy, request("conference", year=2026, project="expo", actual_spending=100_000))
    assert third.quoted == Decimal(50_000)


def test_a_better_item_for_the_same_project_tops_up_to_its_entitlement_and_a_worse_one_pays_nothing(act, granted, world):
    a = world.a_member.actor
    # a provincial key lab (2 M) is recognised as national (10 M) later: the project receives 10 M in all, never 12 M
    assert granted(a, request("key-lab", year=2023, project="vision-lab", level="provincial")) == Decimal(2_000_000)
    upgrade = act(a, quote_subsidy, request("key-lab", year=2025, project="vision-lab", level="national"))
    assert (upgrade.entitlement, upgrade.payable) == (Decimal(10_000_000), Decimal(8_000_000))
    assert [p.amount for p in upgrade.same_project] == [Decimal(2_000_000)]
    assert "max(0, 10,000,000.00 − 2,000,000.00) = 8,000,000.00" in upgrade.arithmetic[-2]
    assert granted(a, request("key-lab", year=2025, project="vision-lab", level="national")) == Decimal(8_000_000)
    # the same platform as a national R&D centre (1 M) adds nothing
    worse = act(a, quote_subsidy, request("rd-centre", year=2025, project="vision-lab", level="national"))
    assert (worse.entitlement, worse.payable) == (Decimal(1_000_000), Decimal(0))
    with pytest.raises(Conflict, match="already has 10,000,000.00 approved"):
        act(a, apply_for_subsidy, request("rd-centre", year=2025, project="vision-lab", level="national"))
    # another project of the same org, and the same key in another org, are other projects
    assert act(a, quote_subsidy, request("rd-centre", project="speech-centre", level="national")).payable == Decimal(1_000_000)
    assert act(world.b_member.actor, quote_subsidy, request("rd-centre", project="vision-lab", level="national")).payable == Decimal(1_000_000)


@pytest.mark.parametrize(
    ("first", "second", "second_payable"),
    [
        # 三.10: drafting among the first three (0.2 M), then recognised as leading the national standard (at most 0.8 M)
        (request("standard-participate", project="gb-x", level="national-top3"), request("standard-lead", project="gb-x", level="national", requested=800_000), 600_000),
        (request("standard-lead", project="gb-x", level="national", requested=800_000), request("standard-participate", project="gb-x", level="national-top3"), 0),
        # 三.4 and 三.7: a national demonstration scenario (1 M), then local matching for the same solution (0.6 M)
        (request("demo-scenario", project="triage", level="national"), request("enterprise-matching", project="triage", level="national", superior_funding=3_000_000, requested=600_000), 0),
        # 三.1: matching funds (3 M), then the same project as a foundational core-technology project (capped at 20 M)
        (request("core-tech-matching", project="npu", level="national", requested=3_000_000), request("core-tech-foundational", project="npu", level="national", requested=25_000_000), 17_000_000),
        # 三.3 then 三.9 in the same year: the platform's 1.8 M already exceeds 30% of a 1 M contract
        (request("service-platform", project="platform", actual_investment=8_000_000, hardware_software_investment=6_000_000), request("training-environment", project="platform", service_contract=1_000_000), 0),
        # 三.6: a city 115 award (0.6 M), then the same team in a provincial leading team (at most 5 M)
        (request("talent-team", project="team-li", level="city-115", requested=600_000), request("talent-team", project="team-li", level="leading-team", requested=5_000_000), 4_400_000),
    ],
)
def test_overlapping_items_pay_the_best_single_entitlement(act, granted, world, first, second, second_payable):
    a = world.a_member.actor
    paid_first = granted(a, first)
    quote = act(a, quote_subsidy, second)
    assert quote.payable == Decimal(second_payable)
    assert paid_first + quote.payable == max(paid_first, quote.entitlement)


def test_year_by_year_items_are_one_project_per_year(act, granted, world):
    a = world.a_member.actor
    # a yearly summit under one key: each year is that year's project
    assert granted(a, request("conference", year=2024, project="westlake-summit", actual_spending=800_000)) == Decimal(400_000)
    assert act(a, quote_subsidy, request("conference", year=2025, project="westlake-summit", actual_spending=800_000)).payable == Decimal(400_000)
    # the same summit twice in one year: the better entitlement, not the sum
    assert act(a, quote_subsidy, request("conference", year=2024, project="westlake-summit", actual_spending=1_000_000)).payable == Decimal(100_000)
    # a one-off platform grant in 2024 does not meet the training environment of 2025 under the same key
    assert granted(a, request("service-platform", year=2024, project="platform", actual_investment=8_000_000, hardware_software_investment=6_000_000)) == Decimal(1_800_000)
    assert act(a, quote_subsidy, request("training-environment", year=2025, project="platform", service_contract=1_000_000)).payable == Decimal(300_000)
    assert act(a, quote_subsidy, request("training-environment", year=2024, project="platform", service_contract=1_000_000)).payable == Decimal(0)


def test_three_years_of_rent_and_no_fourth(act, granted, world):
    a = world.a_member.actor
    rent = {"venture_investment": 12_000_000, "requested": 300_000}
    for year in (2021, 2022, 2023):
        assert granted(a, request("venture-rent", year=year, project="hq-rent", **rent)) == Decimal(300_000)
    fourth = act(a, quote_subsidy, request("venture-rent", year=2024, project="hq-rent", **rent))
    assert fourth.payable == 0 and "Paid for at most 3 years per project; already paid for 2021, 2022, 2023" in fourth.arithmetic[-2]
    # the new-contribution funding is its own three years
    assert act(a, quote_subsidy, request("venture-contribution", year=2024, project="hq-contribution", venture_investment=12_000_000, requested=500_000)).payable == Decimal(500_000)


def test_conditions_not_met_are_refused_and_nothing_is_stored(act, world):
    with pytest.raises(Invalid, match=r"does not meet the conditions of item 'service-platform' \(三.3\).*实际投入500万元以上.*NOT met"):
        act(world.a_member.actor, apply_for_subsidy, request("service-platform", actual_investment=4_000_000, hardware_software_investment=4_000_000))
    with pytest.raises(Invalid, match="needs the base amounts"):
        act(world.a_member.actor, apply_for_subsidy, request("conference"))
    assert act(world.operator.actor, list_applications).items == []


def test_decisions_fix_the_amount_and_are_audited(act, official, world, runtime):
    a = world.a_member.actor
    team = act(a, apply_for_subsidy, request("talent-team", project="team-wang", level="leading-team", requested=5_000_000))
    with pytest.raises(Invalid, match="may not exceed what is payable, 5,000,000.00; got 6,000,000.00"):
        act(official.actor, approve_application, team.id, Approval(reason="too much", amount=Decimal(6_000_000)))
    approved = act(official.actor, approve_application, team.id, Approval(reason="assessed at 3 M", amount=Decimal(3_000_000)))
    assert (approved.status, approved.amount, approved.reason) == ("approved", Decimal(3_000_000), "assessed at 3 M")
    assert approved.decision[-1] == "Fixed by the official at 3,000,000.00 (at most 5,000,000.00)"
    with pytest.raises(Conflict, match="was already approved"):
        act(official.actor, reject_application, team.id, Rejection(reason="second thoughts"))
    # the fixed 3 M is what the project has: a later application for it may top up to the best entitlement
    assert act(a, quote_subsidy, request("talent-team", project="team-wang", level="leading-team", requested=5_000_000)).payable == Decimal(2_000_000)
    lab = act(a, apply_for_subsidy, request("key-lab", project="lab", level="provincial"))
    rejected = act(official.actor, reject_application, lab.id, Rejection(reason="not newly recognised"))
    assert (rejected.status, rejected.amount, rejected.reason) == ("rejected", None, "not newly recognised")
    assert act(a, quote_subsidy, request("key-lab", project="lab", level="provincial")).payable == Decimal(2_000_000)
    with runtime.session() as session:
        actions = session.execute(sa.select(AuditEntry.action, AuditEntry.resource_id).where(AuditEntry.action.like("subsidy.%")).order_by(AuditEntry.seq)).all()
    assert actions == [("subsidy.apply", team.id), ("subsidy.approve", team.id), ("subsidy.apply", lab.id), ("subsidy.reject", lab.id)]


def test_nothing_payable_any_more_at_approval_is_a_conflict(act, official, world):
    a = world.a_member.actor
    national = act(a, apply_for_subsidy, request("demo-scenario", project="port", level="national"))
    city = act(a, apply_for_subsidy, request("demo-scenario", project="port", level="city"))
    act(official.actor, approve_application, national.id, Approval(reason="listed nationally"))
    with pytest.raises(Conflict, match="Nothing is payable for application .* any more; reject it instead"):
        act(official.actor, approve_application, city.id, Approval(reason="listed by the city"))
    assert act(official.actor, reject_application, city.id, Rejection(reason="从高、从优、不重复")).status == "rejected"


def test_who_may_read_list_and_decide(act, official, world, runtime):
    a, b = world.a_member.actor, world.b_admin.actor
    mine = act(a, apply_for_subsidy, request("rd-centre", level="city"))
    theirs = act(b, apply_for_subsidy, request("rd-centre", level="provincial"))
    assert act(a, get_application, mine.id).id == mine.id
    with pytest.raises(NotFound):
        act(b, get_application, mine.id)
    assert [x.id for x in act(a, list_applications).items] == [mine.id]
    assert {x.id for x in act(official.actor, list_applications).items} == {mine.id, theirs.id}
    with runtime.session() as session:
        assert [x.id for x in list_applications(session, official.actor, org_id=world.org_b).items] == [theirs.id]
    with pytest.raises(Forbidden, match="Only officials may list another org's"):
        with runtime.session() as session:
            list_applications(session, a, org_id=world.org_b)
    with pytest.raises(Forbidden, match="Only the platform operator or a government org may approve subsidy applications"):
        act(world.a_admin.actor, approve_application, theirs.id, Approval(reason="mine to give"))
    own = act(official.actor, apply_for_subsidy, request("conference", actual_spending=100_000))
    with pytest.raises(Forbidden, match="may not approve an application of their own org"):
        act(official.actor, approve_application, own.id, Approval(reason="self"))
    assert act(world.operator.actor, approve_application, own.id, Approval(reason="operator decides")).amount == Decimal(50_000)
    with runtime.session() as session:
        assert [x.id for x in list_applications(session, official.actor, status="pending", item="rd-centre", year=2025).items] == [theirs.id, mine.id]
    with pytest.raises(Invalid, match="'status' parameter of list_applications must be one of pending, approved, rejected"):
        with runtime.session() as session:
            list_applications(session, official.actor, status="paid")


# One application per item of 002 三: the request, the level stored (the tier reached for 三.8) and the amount the text gives.
EVERY_ITEM = {
    "core-tech-matching": (request("core-tech-matching", level="provincial", requested=1_000_000), "provincial", 1_000_000),
    "core-tech-foundational": (request("core-tech-foundational", level="city", requested=21_000_000), "city", 20_000_000),
    "key-lab": (request("key-lab", level="national"), "national", 10_000_000),
    "enterprise-research-institute": (request("enterprise-research-institute"), "provincial", 500_000),
    "key-enterprise-research-institute": (request("key-enterprise-research-institute", requested=700_000), None, 700_000),
    "rd-centre": (request("rd-centre", level="provincial"), "provincial", 500_000),
    "service-platform": (request("service-platform", actual_investment=10_000_000, hardware_software_investment=9_000_000), None, 2_700_000),
    "demo-scenario": (request("demo-scenario", level="provincial"), "provincial", 800_000),
    "talent-startup-5050": (request("talent-startup-5050", requested=1_000_000), None, 1_000_000),
    "major-rd-project": (request("major-rd-project", rd_investment=20_000_000), None, 3_000_000),
    "venture-rent": (request("venture-rent", venture_investment=15_000_000, requested=240_000), None, 240_000),
    "venture-contribution": (request("venture-contribution", venture_investment=15_000_000, requested=900_000), None, 900_000),
    "major-investment": (request("major-investment", requested=30_000_000), None, 30_000_000),
    "talent-team": (request("talent-team", level="ten-thousand-talents", requested=2_600_000), "ten-thousand-talents", 2_600_000),
    "top-talent": (request("top-talent", requested=8_000_000), None, 8_000_000),
    "city-high-level-talent": (request("city-high-level-talent", requested=400_000), None, 400_000),
    "enterprise-matching": (request("enterprise-matching", level="city", superior_funding=500_000, requested=250_000), "city", 250_000),
    "incubator": (request("incubator", ai_enterprises=21, registered_enterprises=40, ai_leased_area=5200, leased_area=10000), "share-50", 2_000_000),
    "training-environment": (request("training-environment", service_contract=1_500_000), None, 450_000),
    "standard-lead": (request("standard-lead", level="national", requested=900_000), "national", 800_000),
    "standard-participate": (request("standard-participate", level="industry-top2"), "industry-top2", 100_000),
    "conference": (request("conference", actual_spending=1_800_000), None, 900_000),
}


def test_every_item_is_exercised():
    from aicommons.observatory.subsidies import catalogue

    assert set(EVERY_ITEM) == {item.id for item in catalogue().items}


@pytest.mark.parametrize("item_id", list(EVERY_ITEM))
def test_every_item_can_be_applied_for_and_approved(act, official, world, item_id):
    req, level, amount = EVERY_ITEM[item_id]
    application = act(world.a_member.actor, apply_for_subsidy, req)
    assert (application.item, application.level, application.quoted) == (item_id, level, Decimal(amount))
    approved = act(official.actor, approve_application, application.id, Approval(reason="checked"))
    assert approved.amount == Decimal(amount) and approved.decision == application.quote
