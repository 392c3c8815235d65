"""Gathering: an official's call reads each service's public functions and the platform's
activity into a report's dataclasses; a section with nothing for the period is `Missing`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons import compute
from aicommons.compute.ledger import REVENUE
from aicommons.core.errors import NotFound
from aicommons.core.officials import require_official
from aicommons.core.pagination import MAX_LIMIT
from aicommons.core.permissions import Actor
from aicommons.core.schemas import JobStatus, Page
from aicommons.core.tables import Job
from aicommons.data.tables import Dataset, DatasetVersion
from aicommons.filing.tables import Filing
from aicommons.models.tables import Model, ModelVersion
from aicommons.observatory import enterprises, statistics, subsidies
from aicommons.observatory.reports.contents import (
    ACTIVITY_FIELDS,
    Activity,
    ActivityRow,
    AnnualData,
    BulletinData,
    Compute,
    CountRow,
    Enterprises,
    Missing,
    MoneyRow,
    ProgressRow,
    Ranking,
    RankingRow,
    Subsidies,
    Targets,
)
from aicommons.observatory.reports.periods import Quarter, parse_quarter, year_quarters
from aicommons.observatory.statistics.periods import check_year
from aicommons.serving.tables import EndpointUsage

T = TypeVar("T")


def _activity_row(session: Session, period: str, start: datetime, end: datetime) -> ActivityRow:
    """What the platform did between `start` and `end`. No service function counts these per
    period for the whole platform (their list functions page through what the actor may see),
    so the figures are counted from their tables: totals only, no row leaves this function."""
    counts = {
        "datasets": sa.select(sa.func.count()).where(Dataset.created_at >= start, Dataset.created_at < end),
        "dataset_versions": sa.select(sa.func.count()).where(DatasetVersion.created_at >= start, DatasetVersion.created_at < end),
        "models": sa.select(sa.func.count()).where(Model.created_at >= start, Model.created_at < end),
        "model_versions": sa.select(sa.func.count()).where(ModelVersion.created_at >= start, ModelVersion.created_at < end),
        "filings": sa.select(sa.func.count()).where(Filing.issued_at >= start, Filing.issued_at < end),
        "jobs": sa.select(sa.func.count()).where(Job.status == JobStatus.succeeded.value, Job.finished_at >= start, Job.finished_at < end),
        "endpoint_calls": sa.select(sa.func.coalesce(sa.func.sum(EndpointUsage.calls), 0)).where(
            EndpointUsage.minute >= start, EndpointUsage.minute < end),
    }
    return ActivityRow(period, **{name: int(session.scalar(stmt) or 0) for name, stmt in counts.items()})


def _no_activity(rows: list[ActivityRow]) -> bool:
    return all(getattr(r, name) == 0 for r in rows for name, _ in ACTIVITY_FIELDS)


def _bulletin_activity(session: Session, quarter: Quarter) -> Activity | Missing:
    rows = [_activity_row(session, q.label, q.start, q.end) for q in quarter.trailing(4)]
    if _no_activity(rows):
        return Missing(f"平台在 {rows[0].period} 至 {quarter.label} 期间没有数据集、模型、备案、任务或推理调用的记录。")
    return Activity(rows)


def _annual_activity(session: Session, year: int) -> Activity | Missing:
    rows = [_activity_row(session, q.label, q.start, q.end) for q in year_quarters(year)]
    total = _activity_row(session, f"{year}年合计", Quarter(year, 1).start, Quarter(year, 4).end)
    previous = _activity_row(session, f"{year - 1}年合计", Quarter(year - 1, 1).start, Quarter(year - 1, 4).end)
    if _no_activity([total, previous]):
        return Missing(f"平台在 {year - 1} 年和 {year} 年均没有数据集、模型、备案、任务或推理调用的记录。")
    return Activity(rows, previous_year=previous, year_total=total)


UNTIERED = "未认定梯队"


def _every_page(page_at: Callable[[str | None], Page[T]]) -> list[T]:
    """Every item of a paged list, `page_at(cursor)` giving each page in turn."""
    found: list[T] = []
    cursor: str | None = None
    while True:
        page = page_at(cursor)
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def _all_enterprises(session: Session, actor: Actor) -> list[enterprises.EnterpriseRead]:
    return _every_page(lambda cursor: enterprises.list_enterprises(session, actor, limit=MAX_LIMIT, cursor=cursor))


def _tier_and_city_counts(
    registered: list[enterprises.EnterpriseRead], tier_labels: dict[str, str]
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """{label: [count, sample count]} per tier (an enterprise counts in each of its tiers) and per city."""
    tiers: dict[str, list[int]] = {}
    cities_: dict[str, list[int]] = {}
    for e in registered:
        for label in [tier_labels.get(str(t), str(t)) for t in e.tiers] or [UNTIERED]:
            tiers.setdefault(label, [0, 0])
            tiers[label][0] += 1
            tiers[label][1] += int(e.sample)
        cities_.setdefault(e.city, [0, 0])
        cities_[e.city][0] += 1
        cities_[e.city][1] += int(e.sample)
    return tiers, cities_


def _enterprises(session: Session, actor: Actor, as_of: datetime, previous_as_of: datetime | None) -> Enterprises | Missing:
    """The registry as it stood at `as_of` (records created before it), and at `previous_as_of`
    for the annual comparison. A record's tiers are today's: the registry keeps no history of them."""
    registered = _all_enterprises(session, actor)
    now = [e for e in registered if e.created_at < as_of]
    if not now:
        return Missing(f"企业培育库在 {as_of.date().isoformat()} 之前没有登记企业。")
    vocabulary = enterprises.vocabulary()
    tier_labels = {t.value: t.label for t in vocabulary.tiers}
    tiers, cities_ = _tier_and_city_counts(now, tier_labels)
    previous_tiers: dict[str, list[int]] = {}
    previous_cities: dict[str, list[int]] = {}
    previous_total = None
    if previous_as_of is not None:
        before = [e for e in registered if e.created_at < previous_as_of]
        previous_tiers, previous_cities = _tier_and_city_counts(before, tier_labels)
        previous_total = len(before)
    tier_order = {label: i for i, label in enumerate(tier_labels.values())}

    def rows(counts: dict[str, list[int]], previous: dict[str, list[int]], order: Callable[[str], Any]) -> list[CountRow]:
        return [CountRow(label, n, sample, previous.get(label, [0])[0] if previous_as_of is not None else None)
                for label, (n, sample) in sorted(counts.items(), key=lambda item: order(item[0]))]

    city_order = {c.name: i for i, c in enumerate(vocabulary.cities)}
    return Enterprises(
        total=len(now), sample=sum(e.sample for e in now),
        by_tier=rows(tiers, previous_tiers, lambda label: (tier_order.get(label, len(tier_order)), label)),
        by_city=rows(cities_, previous_cities, lambda label: (city_order.get(label, len(city_order)), label)),
        previous_total=previous_total,
    )


VOUCHER_LABELS = {compute.VoucherKind.compute.value: "AI算力券", compute.VoucherKind.evaluation.value: "智评券"}


def _transactions_since(session: Session, actor: Actor, start: datetime) -> list[compute.TransactionRead]:
    """Ledger transactions from `start` on; pages come newest first, so paging stops at `start`."""
    found, cursor = [], None
    while True:
        page = compute.list_transactions(session, actor, limit=MAX_LIMIT, cursor=cursor)
        found += [t for t in page.items if t.created_at >= start]
        if page.next_cursor is None or any(t.created_at < start for t in page.items):
            return found
        cursor = page.next_cursor


def _compute(session: Session, actor: Actor, start: datetime, end: datetime, previous_start: datetime | None) -> Compute | Missing:
    """Vouchers issued in [start, end) by kind (count, face value); what vouchers paid of the
    charges in it, by kind; and the charges themselves (what platform revenue was credited).
    With `previous_start`, each kind's row also shows the year before."""
    issued = compute.list_vouchers(session, actor)
    kind_of = {v.id: v.kind.value for v in issued}
    transactions = _transactions_since(session, actor, previous_start or start)

    def voucher_rows(lo: datetime, hi: datetime) -> dict[str, MoneyRow]:
        rows = {label: MoneyRow(label, 0, 0.0) for label in VOUCHER_LABELS.values()}
        for v in issued:
            if lo <= v.created_at < hi:
                label = VOUCHER_LABELS.get(v.kind.value, v.kind.value)
                row = rows.setdefault(label, MoneyRow(label, 0, 0.0))
                row.count, row.amount = row.count + 1, row.amount + v.face_value_fen / 100
        return rows

    def redeemed_rows(lo: datetime, hi: datetime) -> tuple[dict[str, MoneyRow], MoneyRow]:
        rows = {label: MoneyRow(label, 0, 0.0) for label in VOUCHER_LABELS.values()}
        charges = MoneyRow("计费", 0, 0.0)
        for t in transactions:
            revenue = sum(p.amount_fen for p in t.postings if p.account_key == REVENUE)
            if not lo <= t.created_at < hi or revenue <= 0:
                continue
            charges.count, charges.amount = charges.count + 1, charges.amount + revenue / 100
            for p in t.postings:
                if p.account_key.startswith("voucher:") and p.amount_fen < 0:
                    label = VOUCHER_LABELS.get(kind_of.get(p.account_key.removeprefix("voucher:"), ""), "其他券")
                    row = rows.setdefault(label, MoneyRow(label, 0, 0.0))
                    row.count, row.amount = row.count + 1, row.amount - p.amount_fen / 100
        return rows, charges

    issued_rows, (redeemed, charges) = voucher_rows(start, end), redeemed_rows(start, end)
    if not any(r.count for r in issued_rows.values()) and not charges.count:
        return Missing(f"{start.date().isoformat()} 至 {(end - timedelta(days=1)).date().isoformat()} 期间没有发放算力券或智评券，也没有计费记录。")
    if previous_start is not None:
        for label, row in voucher_rows(previous_start, start).items():
            issued_rows.setdefault(label, MoneyRow(label, 0, 0.0)).previous_amount = row.amount
        for label, row in redeemed_rows(previous_start, start)[0].items():
            redeemed.setdefault(label, MoneyRow(label, 0, 0.0)).previous_amount = row.amount
    return Compute(list(issued_rows.values()), list(redeemed.values()), charges)


def _targets(session: Session, actor: Actor, as_of: Quarter) -> Targets | Missing:
    """Every policy target with observations up to `as_of`, as the statistics service judged it;
    those with none yet are counted rather than listed."""
    judged = statistics.list_progress(session, actor, as_of=as_of.label)
    observed = [p for p in judged if p.verdict != "no_data"]
    if not observed:
        return Missing(f"截至 {as_of.label} 还没有任何政策目标的观测数据（共 {len(judged)} 项目标）。")
    return Targets([_progress_row(p) for p in observed], len(judged) - len(observed))


def _progress_row(p: statistics.ProgressRead) -> ProgressRow:
    # A growth target (年均增长 15%) is measured by the series' yearly growth, not its latest level.
    growth = p.kind == "growth_rate"
    return ProgressRow(p.indicator_name, p.region_name, "%/年" if growth else p.unit, p.target, p.deadline,
                       p.growth_rate if growth else p.latest, p.share_of_target, str(p.verdict), f"{p.citation}：{p.arithmetic}", p.sample)


def _ranking_of(evaluation: statistics.EvaluationRead) -> Ranking:
    names = {key: statistics.find_indicator(key).name_zh for key in evaluation.weights}
    return Ranking(evaluation.year, [
        RankingRow(r.rank, r.region_name, r.score, r.previous_rank, r.previous_score, names.get(r.strongest, r.strongest),
                   names.get(r.weakest, r.weakest), evaluation.sample)
        for r in sorted(evaluation.rows, key=lambda r: (r.rank, r.region))
    ])


def _ranking(session: Session, actor: Actor, year: int) -> Ranking | Missing:
    """The published regional ranking of `year` (its latest evaluation)."""
    try:
        return _ranking_of(statistics.get_ranking(session, actor, year))
    except NotFound:
        return Missing(f"{year}年度的区域综合评价尚未开展。")


def _latest_ranking(session: Session, actor: Actor, quarter: Quarter) -> Ranking | Missing:
    """The newest year's published ranking up to the quarter's year: a bulletin shows the latest evaluation."""
    years: set[int] = set()
    cursor = None
    while True:
        page = statistics.list_evaluations(session, actor, limit=MAX_LIMIT, cursor=cursor)
        years |= {e.year for e in page.items if e.year <= quarter.year}
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    if not years:
        return Missing(f"截至 {quarter.label} 尚未开展区域综合评价。")
    return _ranking(session, actor, max(years))


def _all_applications(session: Session, actor: Actor) -> list[subsidies.ApplicationRead]:
    return _every_page(lambda cursor: subsidies.list_applications(session, actor, limit=MAX_LIMIT, cursor=cursor))


STATUS_LABELS = {"pending": "待审核", "approved": "已核准", "rejected": "未通过"}


def _subsidies(session: Session, actor: Actor, start: datetime, end: datetime, previous_start: datetime | None) -> Subsidies | Missing:
    """Applications received in [start, end) by their status today, and those approved in it by
    item (002 三's clauses) with the amounts approval fixed; with `previous_start`, the year before's
    approved amount per item beside them."""
    applications = _all_applications(session, actor)
    received = [a for a in applications if start <= a.created_at < end]

    def approved_in(lo: datetime, hi: datetime) -> list[subsidies.ApplicationRead]:
        return [a for a in applications if a.status == "approved" and a.decided_at is not None and lo <= a.decided_at < hi]

    approved = approved_in(start, end)
    if not received and not approved:
        return Missing(f"{start.date().isoformat()} 至 {(end - timedelta(days=1)).date().isoformat()} 期间没有受理或核准补贴申请。")
    by_status = []
    for status, label in STATUS_LABELS.items():
        matching = [a for a in received if a.status == status]
        by_status.append(MoneyRow(label, len(matching), float(sum(a.amount if a.amount is not None else a.quoted for a in matching))))
    previous = approved_in(previous_start, start) if previous_start is not None else []
    titles = {item.id: f"{item.clause} {item.text}" for item in subsidies.list_items()}
    by_item = []
    for item_id in sorted({a.item for a in approved + previous}, key=lambda i: (titles.get(i, i), i)):
        now = [a for a in approved if a.item == item_id]
        before = [a for a in previous if a.item == item_id]
        by_item.append(MoneyRow(titles.get(item_id, item_id), len(now), float(sum(a.amount or 0 for a in now)),
                                previous_amount=float(sum(a.amount or 0 for a in before)) if previous_start is not None else None))
    return Subsidies(
        applications=len(received), approved=len(approved), approved_amount=float(sum(a.amount or 0 for a in approved)),
        by_status=by_status, by_item=by_item,
        previous_approved_amount=float(sum(a.amount or 0 for a in previous)) if previous_start is not None else None,
    )


def gather_bulletin(session: Session, actor: Actor, quarter: str | Quarter) -> BulletinData:
    """Everything the quarter's bulletin shows, read as `actor` (an official)."""
    require_official(session, actor, "generate the statistics bulletin")
    period = quarter if isinstance(quarter, Quarter) else parse_quarter(quarter)
    return BulletinData(
        quarter=period,
        targets=_targets(session, actor, period),
        ranking=_latest_ranking(session, actor, period),
        enterprises=_enterprises(session, actor, period.end, None),
        activity=_bulletin_activity(session, period),
        subsidies=_subsidies(session, actor, period.start, period.end, None),
        compute=_compute(session, actor, period.start, period.end, None),
    )


def gather_annual(session: Session, actor: Actor, year: int) -> AnnualData:
    """Everything the year's report shows, with the year before for comparison, read as `actor` (an official)."""
    require_official(session, actor, "generate the annual industry development report")
    check_year(year)
    start, end, previous_start = Quarter(year, 1).start, Quarter(year, 4).end, Quarter(year - 1, 1).start
    return AnnualData(
        year=year,
        targets=_targets(session, actor, Quarter(year, 4)),
        ranking=_ranking(session, actor, year),
        enterprises=_enterprises(session, actor, end, start),
        activity=_annual_activity(session, year),
        subsidies=_subsidies(session, actor, start, end, previous_start),
        compute=_compute(session, actor, start, end, previous_start),
    )
