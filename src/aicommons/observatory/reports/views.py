"""Views: what both formats show. Each section becomes display tables, lines and charts, so the
HTML and the PDF show the same figures; the reports' titles; the annual narrative."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from aicommons.observatory.reports.charts import Chart, _draw_activity, _draw_progress, _draw_ranking, _draw_tiers
from aicommons.observatory.reports.contents import (
    ACTIVITY_FIELDS,
    SAMPLE_MARK,
    VERDICTS,
    Activity,
    AnnualData,
    BulletinData,
    Compute,
    CountRow,
    Enterprises,
    Label,
    Missing,
    MoneyRow,
    Ranking,
    Subsidies,
    Targets,
)
from aicommons.observatory.reports.formatting import _marked, _with_sample, change, number, percent, verdict_label, yuan
from aicommons.observatory.reports.periods import Quarter


@dataclass
class Table:
    columns: list[Label]
    rows: list[list[str]]
    widths: list[float] | None = None  # shares of the page's width, for the PDF


@dataclass
class SectionView:
    anchor: str
    title: Label
    sample: bool = False
    missing: str | None = None
    lines: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)


def _missing(anchor: str, title: Label, section: Missing) -> SectionView:
    return SectionView(anchor, title, missing=section.reason)


def _targets_view(targets: Targets | Missing, *, annual: bool) -> SectionView:
    title = ("政策目标进展", "Policy targets") if not annual else ("政策目标完成情况", "Policy targets: verdicts")
    if isinstance(targets, Missing):
        return _missing("targets", title, targets)
    rows = targets.rows
    sample = any(r.sample for r in rows)
    counts = {v: sum(1 for r in rows if r.verdict == v) for v in VERDICTS}
    summary = "，".join(f"{VERDICTS[v][0]} {n} 项" for v, n in counts.items() if n)
    table = Table(
        [("指标", "indicator"), ("地区", "region"), ("目标", "target"), ("最新值", "latest"), ("进度", "progress"),
         ("判断", "verdict"), ("计算", "arithmetic")],
        [[_marked(r.indicator, r.sample), r.region, f"{number(r.target)} {r.unit}（{r.target_year}年）", number(r.latest),
          percent(r.progress), verdict_label(r.verdict), r.explanation] for r in rows],
        [0.2, 0.08, 0.14, 0.08, 0.07, 0.08, 0.35],
    )
    line = f"有观测数据的目标 {len(rows)} 项：{summary}。" + (f"另有 {targets.unobserved} 项目标暂无观测数据。" if targets.unobserved else "")
    return SectionView("targets", title, sample, lines=[line], tables=[table],
                       charts=[Chart("target-progress", _marked("目标进度", sample), functools.partial(_draw_progress, rows),
                                     height=max(2.4, 0.32 * len(rows) + 1))])


def _ranking_view(ranking: Ranking | Missing, *, annual: bool) -> SectionView:
    title = ("区域综合评价排名", "Regional ranking")
    if isinstance(ranking, Missing):
        return _missing("ranking", title, ranking)
    rows = ranking.rows
    sample = any(r.sample for r in rows)
    columns: list[Label] = [("排名", "rank"), ("地区", "region"), ("综合得分", "score"), ("上年排名", "last year"), ("得分变化", "change")]
    widths = [0.08, 0.2, 0.14, 0.12, 0.16]
    if annual:
        columns += [("优势指标", "strongest"), ("短板指标", "weakest")]
        widths = [0.07, 0.15, 0.1, 0.09, 0.13, 0.23, 0.23]
    body = []
    for r in rows:
        cells = [str(r.rank), _marked(r.region, r.sample), number(r.score), number(r.previous_rank), change(r.score, r.previous_score)]
        body.append(cells + ([r.strongest or "—", r.weakest or "—"] if annual else []))
    lines = [f"{ranking.year}年度区域综合评价覆盖 {len(rows)} 个地区。"]
    if rows:
        lines.append(f"第一名为{rows[0].region}（{number(rows[0].score)} 分）。")
    return SectionView("ranking", title, sample, lines=lines, tables=[Table(columns, body, widths)],
                       charts=[Chart("regional-ranking", _marked(f"{ranking.year}年度区域综合得分", sample),
                                     functools.partial(_draw_ranking, rows), height=max(2.4, 0.3 * len(rows) + 1))])


def _enterprises_view(section: Enterprises | Missing, *, annual: bool) -> SectionView:
    title = ("人工智能企业培育库", "Enterprise registry")
    if isinstance(section, Missing):
        return _missing("enterprises", title, section)
    lines = [f"入库企业 {_with_sample(section.total, section.sample, ' 家')}。"]
    if annual and section.previous_total is not None:
        lines[0] = lines[0][:-1] + f"，较上年 {change(section.total, section.previous_total)}。"

    def table(first: Label, rows: list[CountRow]) -> Table:
        columns: list[Label] = [first, ("企业数", "enterprises")] + ([("上年", "last year"), ("变化", "change")] if annual else [])
        return Table(columns, [[r.label, _with_sample(r.count, r.sample)] + ([number(r.previous), change(r.count, r.previous)] if annual else [])
                               for r in rows])

    return SectionView(
        "enterprises", title, section.sample > 0, lines=lines,
        tables=[table(("梯队", "tier"), section.by_tier), table(("城市", "city"), section.by_city)],
        charts=[Chart("enterprise-tiers", _marked("企业梯队分布", section.sample > 0), functools.partial(_draw_tiers, section.by_tier, annual),
                      height=max(2.4, 0.3 * len(section.by_tier) + 1))] if section.by_tier else [],
    )


def _activity_view(section: Activity | Missing, *, annual: bool) -> SectionView:
    title = ("平台运行情况", "Platform activity")
    if isinstance(section, Missing):
        return _missing("activity", title, section)
    rows = list(section.rows)
    if annual and section.year_total is not None:
        rows.append(section.year_total)
        if section.previous_year is not None:
            rows.append(section.previous_year)
    table = Table([("期间", "period")] + [label for _, label in ACTIVITY_FIELDS],
                  [[r.period] + [number(getattr(r, name)) for name, _ in ACTIVITY_FIELDS] for r in rows])
    lines = []
    if annual and section.year_total is not None and section.previous_year is not None:
        lines.append("全年与上年相比：" + "；".join(
            f"{label[0]} {change(getattr(section.year_total, name), getattr(section.previous_year, name))}" for name, label in ACTIVITY_FIELDS) + "。")
    return SectionView("activity", title, lines=lines, tables=[table],
                       charts=[Chart("platform-activity", "平台活动（按季度）", functools.partial(_draw_activity, section.rows))])


def _money_table(first: Label, rows: list[MoneyRow], annual: bool) -> Table:
    columns: list[Label] = [first, ("件数", "count"), ("金额", "amount")] + ([("上年金额", "last year")] if annual else [])
    return Table(columns, [[r.label, f"{r.count:,}", yuan(r.amount)]
                           + ([yuan(r.previous_amount)] if annual else []) for r in rows],
                 [0.46, 0.18, 0.18, 0.18] if annual else [0.52, 0.24, 0.24])


def _subsidies_view(section: Subsidies | Missing, *, annual: bool) -> SectionView:
    title = ("政策补贴兑现", "Subsidies")
    if isinstance(section, Missing):
        return _missing("subsidies", title, section)
    line = f"受理申请 {section.applications:,} 件，核准 {section.approved:,} 件，核准金额 {yuan(section.approved_amount)}"
    if annual and section.previous_approved_amount is not None:
        line += f"（上年 {yuan(section.previous_approved_amount)}）"
    return SectionView("subsidies", title, lines=[line + "。"],
                       tables=[_money_table(("申请状态", "status"), section.by_status, False), _money_table(("核准项目", "item approved"), section.by_item, annual)])


def _compute_view(section: Compute | Missing, *, annual: bool) -> SectionView:
    title = ("算力券与智评券", "Compute and evaluation vouchers")
    if isinstance(section, Missing):
        return _missing("compute", title, section)
    charges = section.charges
    return SectionView("compute", title,
                       lines=[f"计量计费 {charges.count:,} 笔，合计 {yuan(charges.amount)}。"],
                       tables=[_money_table(("发放券种", "vouchers issued"), section.vouchers, annual),
                               _money_table(("核销券种", "vouchers redeemed"), section.redeemed, annual)])


def _views(data: BulletinData | AnnualData, *, annual: bool) -> list[SectionView]:
    return [
        _targets_view(data.targets, annual=annual),
        _ranking_view(data.ranking, annual=annual),
        _enterprises_view(data.enterprises, annual=annual),
        _activity_view(data.activity, annual=annual),
        _subsidies_view(data.subsidies, annual=annual),
        _compute_view(data.compute, annual=annual),
    ]


def narrative(data: AnnualData) -> list[str]:
    """The annual report's opening paragraphs, one per section with data: every figure in them
    is one the report's tables show, and a section without data is named as such."""
    year = data.year
    paragraphs = []
    if isinstance(data.targets, Targets):
        rows = data.targets.rows
        counts = {v: sum(1 for r in rows if r.verdict == v) for v in VERDICTS}
        worst = [r for r in rows if r.verdict == "off_track"]
        text = (f"截至{year}年末，有观测数据的政策目标 {len(rows)} 项，其中"
                + "、".join(f"{VERDICTS[v][0]} {n} 项" for v, n in counts.items() if n) + "。")
        if data.targets.unobserved:
            text += f"另有 {data.targets.unobserved} 项目标暂无观测数据。"
        if worst:
            text += "明显滞后的有：" + "、".join(f"{r.region}{r.indicator}（进度 {percent(r.progress)}）" for r in worst[:3]) + "。"
        paragraphs.append(text + (f"（含{SAMPLE_MARK}。）" if any(r.sample for r in rows) else ""))
    if isinstance(data.ranking, Ranking) and data.ranking.rows:
        first, last = data.ranking.rows[0], data.ranking.rows[-1]
        text = f"{data.ranking.year}年度区域综合评价中，{first.region}以 {number(first.score)} 分位列第一"
        if first.strongest:
            text += f"，优势指标为{first.strongest}"
        text += f"；{last.region}位列第 {last.rank}（{number(last.score)} 分）"
        text += f"，短板指标为{last.weakest}。" if last.weakest else "。"
        movers = sorted((r for r in data.ranking.rows if r.previous_rank is not None), key=lambda r: (r.rank - (r.previous_rank or 0), r.rank))
        if movers and movers[0].previous_rank is not None and movers[0].rank < movers[0].previous_rank:
            text += f"排名上升最快的是{movers[0].region}（由第 {movers[0].previous_rank} 升至第 {movers[0].rank}）。"
        paragraphs.append(text + (f"（{SAMPLE_MARK}。）" if any(r.sample for r in data.ranking.rows) else ""))
    if isinstance(data.enterprises, Enterprises):
        e = data.enterprises
        text = f"人工智能企业培育库共有入库企业 {e.total:,} 家" + (f"（含{SAMPLE_MARK} {e.sample:,} 家）" if e.sample else "")
        text += f"，较上年 {change(e.total, e.previous_total)}" if e.previous_total is not None else ""
        if e.by_tier:
            top = max(e.by_tier, key=lambda r: (r.count, r.label))
            text += f"；其中{top.label} {top.count:,} 家，为数量最多的梯队"
        paragraphs.append(text + "。")
    if isinstance(data.activity, Activity) and data.activity.year_total is not None:
        t, p = data.activity.year_total, data.activity.previous_year
        text = (f"平台全年新增数据集 {t.datasets:,} 个、模型 {t.models:,} 个，通过备案 {t.filings:,} 项，"
                f"完成任务 {t.jobs:,} 个，推理调用 {t.endpoint_calls:,} 次")
        if p is not None:
            text += f"；推理调用较上年 {change(t.endpoint_calls, p.endpoint_calls)}"
        paragraphs.append(text + "。")
    if isinstance(data.subsidies, Subsidies):
        s = data.subsidies
        text = f"全年受理补贴申请 {s.applications:,} 件，核准 {s.approved:,} 件，核准金额 {yuan(s.approved_amount)}"
        if s.previous_approved_amount is not None:
            text += f"，较上年 {change(s.approved_amount, s.previous_approved_amount, yuan)}"
        paragraphs.append(text + "。")
    if isinstance(data.compute, Compute):
        c = data.compute
        issued = "、".join(f"{r.label} {r.count:,} 张（{yuan(r.amount)}）" for r in c.vouchers) or "无"
        paragraphs.append(f"全年发放{issued}；计量计费 {c.charges.count:,} 笔，合计 {yuan(c.charges.amount)}。")
    absent = [v.title[0] for v in _views(data, annual=True) if v.missing]
    if absent:
        paragraphs.append("以下部分本年度暂无数据：" + "、".join(absent) + "。")
    return paragraphs


def bulletin_title(quarter: Quarter) -> str:
    return f"{quarter.label_zh}人工智能产业统计公报"


def annual_title(year: int) -> str:
    return f"{year}年人工智能产业发展报告"
