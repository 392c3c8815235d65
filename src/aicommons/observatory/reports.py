"""The observatory's two publications, in Chinese: the quarterly statistics bulletin (季度统计公报)
and the annual AI industry development report (人工智能产业发展报告), each as HTML and PDF.

001 七(四) asks for quarterly statistics and monitoring, an annual regional evaluation and an
industry development report; this module assembles them from the other services' figures.

The method, in three steps:

1. **Gather** (`gather_bulletin`, `gather_annual`): an official's call reads each service's
   public functions (targets and progress, the regional evaluation, the enterprise registry,
   subsidies, vouchers and the ledger) and platform activity, into plain dataclasses
   (`BulletinData`, `AnnualData`). A section whose service has nothing for the period is a
   `Missing` carrying the reason, so the report says so instead of failing. Rows that come from
   sample data (the demo's enterprises, statistics …) carry `sample`, and every place that shows
   them says 示例数据.
2. **View** (`_views`): each section becomes display tables, lines
   and charts, shared by both formats so the HTML and the PDF show the same figures.
3. **Render**: HTML through a Jinja2 template with the charts inlined as PNG data: URIs; PDF
   through matplotlib's PdfPages, charts drawn as vectors. The annual narrative is generated
   from the gathered figures only (`narrative`): every number in it is one shown in a table.

Same data, same bytes: no clock is read while rendering (the PDF's CreationDate is the period's
last day, PNGs carry no Software tag), and every list is sorted when gathered.

Chinese text needs a CJK font for matplotlib. `cjk_font_family` looks for one among the fonts
matplotlib knows, then asks fontconfig (`fc-list :lang=zh`, which finds the WenQuanYi Micro Hei
that scripts/ensure-cjk-font.sh installs). Without one, the PDF and the chart images still
render: fixed labels fall back to English, names to pinyin, and page 1 says why.
"""

from __future__ import annotations

import base64
import functools
import io
import re
import subprocess
import threading
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from aicommons import compute
from aicommons.compute.ledger import REVENUE
from aicommons.core.errors import Invalid, NotFound
from aicommons.core.officials import require_official
from aicommons.core.pagination import MAX_LIMIT
from aicommons.core.permissions import Actor
from aicommons.core.schemas import JobStatus
from aicommons.core.tables import Job
from aicommons.data.tables import Dataset, DatasetVersion
from aicommons.filing.tables import Filing
from aicommons.models.tables import Model, ModelVersion
from aicommons.observatory import enterprises, statistics, subsidies
from aicommons.observatory.statistics.periods import check_year
from aicommons.serving.tables import EndpointUsage

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SAMPLE_MARK = "示例数据"
QUARTERS_ZH = ("一", "二", "三", "四")
VERDICTS = {  # the statistics service's verdicts: label and bar colour
    "achieved": ("已完成", "achieved", "#1565c0"),
    "on_track": ("进展正常", "on track", "#2e7d32"),
    "at_risk": ("存在风险", "at risk", "#ef8f00"),
    "off_track": ("明显滞后", "off track", "#c62828"),
    "no_data": ("暂无数据", "no data", "#9e9e9e"),
}

Label = tuple[str, str]  # (Chinese, English): English is the PDF's fallback without a CJK font


# --- periods ----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Quarter:
    """A quarter as the statistics service keys it (`2026Q3`), with the calendar a report needs."""

    year: int
    number: int  # 1 to 4

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def label_zh(self) -> str:
        return f"{self.year}年第{QUARTERS_ZH[self.number - 1]}季度"

    @property
    def start(self) -> datetime:
        return datetime(self.year, 3 * self.number - 2, 1, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The first moment after the quarter."""
        return self.next().start

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()

    def next(self) -> Quarter:
        return Quarter(self.year + 1, 1) if self.number == 4 else Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - 1, 4) if self.number == 1 else Quarter(self.year, self.number - 1)

    def trailing(self, count: int) -> list[Quarter]:
        """This quarter and the `count - 1` before it, oldest first."""
        quarters = [self]
        while len(quarters) < count:
            quarters.insert(0, quarters[0].previous())
        return quarters


def parse_quarter(text: str) -> Quarter:
    """`2026Q3` (also `2026-Q3`, `2026q3`), read as the statistics service reads quarters;
    Invalid naming the expected form."""
    parsed = statistics.parse_quarter(text)
    return Quarter(parsed.year, parsed.number)


def year_quarters(year: int) -> list[Quarter]:
    return [Quarter(year, n) for n in range(1, 5)]


# --- what a report holds ----------------------------------------------------------------------


@dataclass
class Missing:
    """A section with nothing to show, and why (nothing recorded in the period, no evaluation run …)."""

    reason: str


@dataclass
class ProgressRow:
    """One policy target's progress as the statistics service judged it."""

    indicator: str  # the indicator's Chinese name
    region: str
    unit: str
    target: float
    target_year: int
    latest: float | None
    progress: float | None  # share of the way from the baseline to the target, 0 to 1 (or beyond)
    verdict: str  # a key of VERDICTS
    explanation: str  # the service's arithmetic, e.g. "120 / 200 = 60%, expected 55% by now"
    sample: bool = False


@dataclass
class Targets:
    rows: list[ProgressRow]  # the targets with observations
    unobserved: int = 0  # targets without any observation yet


@dataclass
class RankingRow:
    rank: int
    region: str
    score: float
    previous_rank: int | None = None
    previous_score: float | None = None
    strongest: str = ""
    weakest: str = ""
    sample: bool = False


@dataclass
class Ranking:
    year: int  # the evaluation's year
    rows: list[RankingRow]


@dataclass
class CountRow:
    """A count, how many of it are sample data, and the same count a year before (annual report)."""

    label: str
    count: int
    sample: int = 0
    previous: int | None = None


@dataclass
class Enterprises:
    total: int
    sample: int
    by_tier: list[CountRow]
    by_city: list[CountRow]
    previous_total: int | None = None


ACTIVITY_FIELDS: list[tuple[str, Label]] = [
    ("datasets", ("新增数据集", "new datasets")),
    ("dataset_versions", ("数据集新版本", "dataset versions")),
    ("models", ("新增模型", "new models")),
    ("model_versions", ("模型新版本", "model versions")),
    ("filings", ("备案通过", "filings approved")),
    ("jobs", ("完成任务", "jobs finished")),
    ("endpoint_calls", ("推理调用次数", "inference calls")),
]


@dataclass
class ActivityRow:
    period: str  # 2026Q3, or 2026 for a year
    datasets: int = 0
    dataset_versions: int = 0
    models: int = 0
    model_versions: int = 0
    filings: int = 0
    jobs: int = 0
    endpoint_calls: int = 0


@dataclass
class Activity:
    rows: list[ActivityRow]  # oldest first; the last is the reported period
    previous_year: ActivityRow | None = None  # annual report: last year's totals
    year_total: ActivityRow | None = None


@dataclass
class MoneyRow:
    """A labelled count and amount in yuan: subsidies by status or item, vouchers by kind."""

    label: str
    count: int
    amount: float  # yuan
    previous_amount: float | None = None


@dataclass
class Subsidies:
    applications: int
    approved: int
    approved_amount: float
    by_status: list[MoneyRow]  # applications received in the period, by their status now; amount: approved or quoted
    by_item: list[MoneyRow]  # approvals in the period, by item of 002 三
    previous_approved_amount: float | None = None


@dataclass
class Compute:
    vouchers: list[MoneyRow]  # issued, by kind (算力券, 智评券): count and face value
    redeemed: list[MoneyRow]  # used against charges, by kind
    charges: MoneyRow  # metered usage billed in the period


@dataclass
class BulletinData:
    quarter: Quarter
    targets: Targets | Missing
    ranking: Ranking | Missing
    enterprises: Enterprises | Missing
    activity: Activity | Missing
    subsidies: Subsidies | Missing
    compute: Compute | Missing


@dataclass
class AnnualData:
    year: int
    targets: Targets | Missing
    ranking: Ranking | Missing
    enterprises: Enterprises | Missing  # with last year's counts in `previous`
    activity: Activity | Missing  # the year's quarters, its total and last year's
    subsidies: Subsidies | Missing
    compute: Compute | Missing

    @property
    def last_day(self) -> date:
        return date(self.year, 12, 31)


# --- formatting -------------------------------------------------------------------------------


def number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def yuan(amount: float | None) -> str:
    """Amounts as 万元 (ten thousand yuan), the unit the policies use."""
    return "—" if amount is None else f"{amount / 10_000:,.2f} 万元"


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.1f}%"


def change(current: float, previous: float | None, shown: Callable[[float], str] = number) -> str:
    """`+12 (+25.0%)`: the change from last year, or — when there is nothing to compare."""
    if previous is None:
        return "—"
    delta = current - previous
    ratio = f" ({delta / previous * 100:+.1f}%)" if previous else ""
    return f"{'+' if delta >= 0 else '-'}{shown(abs(delta))}{ratio}"


def _with_sample(count: int, sample: int, unit: str = "") -> str:
    """`40 家（含示例数据 12 家）`: a count and how many of it are sample data."""
    return f"{count:,}{unit}（含{SAMPLE_MARK} {sample:,}{unit}）" if sample else f"{count:,}{unit}"


def _marked(text: str, sample: bool) -> str:
    return f"{text}（{SAMPLE_MARK}）" if sample else text


def verdict_label(verdict: str) -> str:
    return VERDICTS.get(verdict, (verdict, verdict, ""))[0]


# --- views: what both formats show -------------------------------------------------------------


@dataclass
class Table:
    columns: list[Label]
    rows: list[list[str]]
    widths: list[float] | None = None  # shares of the page's width, for the PDF


@dataclass
class Chart:
    name: str
    title: str
    draw: Callable[[Axes, Script], None]
    height: float = 3.2  # inches


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


# --- fonts ------------------------------------------------------------------------------------

CJK_FAMILIES = ("WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC",
                "Source Han Sans CN", "AR PL UMing CN", "AR PL UKai CN", "SimHei", "Microsoft YaHei", "PingFang SC")


@functools.cache
def cjk_font_family() -> str | None:
    """A font family matplotlib can draw Chinese with, or None; fonts installed after matplotlib
    built its cache are found through fontconfig and added."""
    from matplotlib import font_manager

    known = {f.name for f in font_manager.fontManager.ttflist}
    for family in CJK_FAMILIES:
        if family in known:
            return family
    for path in _fontconfig_chinese_fonts():
        try:
            font_manager.fontManager.addfont(path)
            return str(font_manager.FontProperties(fname=path).get_name())
        except (OSError, RuntimeError, ValueError):
            continue  # a format FreeType here cannot read: try the next
    return None


def _fontconfig_chinese_fonts() -> list[str]:
    try:
        listed = subprocess.run(["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=20, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()})
    return [p for p in paths if p.lower().endswith((".ttf", ".otf", ".ttc"))]


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_CJK_PUNCTUATION = str.maketrans({"、": ",", "。": ".", "〔": "[", "〕": "]", "《": "<", "》": ">", "【": "[", "】": "]", "—": "-"})


@dataclass(frozen=True)
class Script:
    """How text reaches matplotlib: as is with a CJK font; without one, labels in English and
    names in pinyin. '$' is escaped either way so no text switches on mathtext."""

    family: str | None

    def __call__(self, text: str) -> str:
        if self.family is None:
            text = unicodedata.normalize("NFKC", text).translate(_CJK_PUNCTUATION)
            text = _HAN.sub(lambda m: _spaced(m, _pinyin(m.group(0))), text).encode("latin-1", "replace").decode("latin-1")
        return text.replace("$", r"\$")

    def label(self, label: Label) -> str:
        return self(f"{label[0]} {label[1]}") if self.family else label[1]


def _spaced(match: re.Match[str], word: str) -> str:
    """`word` with a space on each side where it would touch a letter or digit (and before a parenthesis)."""
    text, start, end = match.string, match.start(), match.end()
    before = " " if start > 0 and text[start - 1].isalnum() else ""
    after = " " if end < len(text) and (text[end].isalnum() or text[end] == "(") else ""
    return before + word + after


def _pinyin(han: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(han)).capitalize()


def _script(cjk: bool | None) -> Script:
    """`cjk=None` finds a font; False forces the fallback (what a machine without one shows)."""
    return Script(cjk_font_family() if cjk is not False else None)


def _style(script: Script) -> dict[str, Any]:
    families = [script.family, "DejaVu Sans"] if script.family else ["DejaVu Sans"]
    return {"font.family": "sans-serif", "font.sans-serif": families, "axes.unicode_minus": False, "pdf.fonttype": 3,
            "svg.hashsalt": "aicommons"}


FONT_NOTE = ("No Chinese font was found for the charts and the PDF: labels are in English and names in pinyin. "
             "Install one with scripts/ensure-cjk-font.sh (WenQuanYi Micro Hei) for Chinese.")


# --- charts -----------------------------------------------------------------------------------


CHART_LABEL_UNITS = 30  # a bar's label, in half-width characters: longer ones would leave the page


def _draw_progress(rows: list[ProgressRow], ax: Axes, script: Script) -> None:
    labels = [_clip(script(f"{r.region} {r.indicator}"), CHART_LABEL_UNITS) for r in rows][::-1]
    values = [min(max(r.progress or 0.0, 0.0), 1.5) * 100 for r in rows][::-1]
    colours = [VERDICTS.get(r.verdict, ("", "", "#9e9e9e"))[2] for r in rows][::-1]
    ax.barh(range(len(rows)), values, color=colours)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    ax.axvline(100, color="#333333", linewidth=0.8, linestyle="--")
    ax.set_xlabel(script.label(("进度 %", "progress %")), fontsize=8)
    handles = [_patch(colour, script.label((zh, en))) for key, (zh, en, colour) in VERDICTS.items() if any(r.verdict == key for r in rows)]
    ax.set_xlim(0, max(values, default=100) + 60)  # room on the right for the legend
    ax.legend(handles=handles, fontsize=7, loc="lower right")


def _patch(colour: str, label: str) -> Any:
    from matplotlib.patches import Patch

    return Patch(color=colour, label=label)


def _draw_ranking(rows: list[RankingRow], ax: Axes, script: Script) -> None:
    ordered = rows[::-1]
    ax.barh(range(len(ordered)), [r.score for r in ordered], color="#1565c0")
    ax.set_yticks(range(len(ordered)), [_clip(script(f"{r.rank}. {r.region}"), CHART_LABEL_UNITS) for r in ordered], fontsize=7)
    ax.set_xlabel(script.label(("综合得分", "score")), fontsize=8)
    for i, r in enumerate(ordered):
        ax.text(r.score, i, f" {number(r.score)}", va="center", fontsize=6)


def _draw_tiers(rows: list[CountRow], annual: bool, ax: Axes, script: Script) -> None:
    ordered = rows[::-1]
    positions = list(range(len(ordered)))
    if annual:
        ax.barh([p + 0.2 for p in positions], [r.count for r in ordered], height=0.4, color="#2e7d32", label=script.label(("本年", "this year")))
        ax.barh([p - 0.2 for p in positions], [r.previous or 0 for r in ordered], height=0.4, color="#a5d6a7", label=script.label(("上年", "last year")))
        ax.legend(fontsize=7, loc="lower right")
    else:
        ax.barh(positions, [r.count for r in ordered], color="#2e7d32")
    ax.set_yticks(positions, [_clip(script(r.label), CHART_LABEL_UNITS) for r in ordered], fontsize=7)
    ax.set_xlabel(script.label(("企业数", "enterprises")), fontsize=8)


def _draw_activity(rows: list[ActivityRow], ax: Axes, script: Script) -> None:
    shown = [(name, label) for name, label in ACTIVITY_FIELDS if name != "endpoint_calls"]  # calls dwarf the rest: the table has them
    width = 0.8 / len(shown)
    for i, (name, label) in enumerate(shown):
        ax.bar([q + i * width for q in range(len(rows))], [getattr(r, name) for r in rows], width=width, label=script.label(label))
    ax.set_xticks([q + 0.4 - width / 2 for q in range(len(rows))], [r.period for r in rows], fontsize=7)
    ax.margins(y=0.35)  # headroom for the legend above the bars
    ax.legend(fontsize=6, ncols=3, loc="upper left")
    ax.set_ylabel(script.label(("数量", "count")), fontsize=8)


def _chart_png(chart: Chart, script: Script) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.figure import Figure

    with plt.rc_context(_style(script)):
        fig = Figure(figsize=(7.5, chart.height))
        ax = fig.add_subplot()
        ax.set_title(script(chart.title), fontsize=10)
        chart.draw(ax, script)
        fig.tight_layout()
        out = io.BytesIO()
        fig.savefig(out, format="png", dpi=110, metadata={"Software": None})
    return out.getvalue()


# --- HTML -------------------------------------------------------------------------------------


@functools.cache
def _environment() -> Any:
    import jinja2

    return jinja2.Environment(
        loader=jinja2.PackageLoader("aicommons.observatory", "templates"), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
    )


def _html(kind: str, title: str, period: str, as_of: date, views: list[SectionView], paragraphs: list[str], cjk: bool | None) -> str:
    script = _script(cjk)
    sections = []
    for view in views:
        charts = [{"name": c.name, "title": c.title,
                   "uri": "data:image/png;base64," + base64.b64encode(_chart_png(c, script)).decode("ascii")} for c in view.charts]
        sections.append({"view": view, "charts": charts})
    return _environment().get_template("report.html.j2").render(
        kind=kind, title=title, period=period, as_of=as_of.isoformat(), sections=sections, narrative=paragraphs,
        sample=any(v.sample for v in views), sample_mark=SAMPLE_MARK, font_note=None if script.family else FONT_NOTE,
    )


def bulletin_title(quarter: Quarter) -> str:
    return f"{quarter.label_zh}人工智能产业统计公报"


def annual_title(year: int) -> str:
    return f"{year}年人工智能产业发展报告"


def render_bulletin_html(data: BulletinData, *, cjk: bool | None = None) -> str:
    """The bulletin as one self-contained HTML page; `cjk=False` draws the charts as a machine
    without a Chinese font would."""
    return _html("bulletin", bulletin_title(data.quarter), data.quarter.label, data.quarter.last_day, _views(data, annual=False), [], cjk)


def render_annual_html(data: AnnualData, *, cjk: bool | None = None) -> str:
    return _html("annual", annual_title(data.year), str(data.year), data.last_day, _views(data, annual=True), narrative(data), cjk)


# --- PDF --------------------------------------------------------------------------------------

A4 = (8.27, 11.69)
TOP, BOTTOM, LEFT = 0.95, 0.05, 0.07
ROW_HEIGHT = 15 / 72 / A4[1]  # a table row or a line of text: 15 pt, as a share of the page
LINE_UNITS = 104  # a 9 pt line's width in half-width characters; a Chinese character counts two
TABLE_UNITS = 150  # the same for a table row at 6.5 pt, cells padded


def _width(char: str) -> int:
    return 2 if unicodedata.east_asian_width(char) in "WF" else 1


def _clip(text: str, units: int) -> str:
    """`text` cut to `units` display columns with an ellipsis: a table cell does not wrap (the HTML has it whole)."""
    if sum(map(_width, text)) <= units:
        return text
    mark = f"（{SAMPLE_MARK}）"
    if text.endswith(mark):  # the mark survives the cut
        return _clip(text.removesuffix(mark), units - 2 * len(mark)) + mark
    kept, width = "", 1
    for char in text:
        if width + _width(char) > units:
            break
        kept, width = kept + char, width + _width(char)
    return kept + "…"


def _wrap(text: str, units: int = LINE_UNITS) -> list[str]:
    """Break `text` into lines of at most `units` display columns (Chinese has no spaces to break at)."""
    lines, line, width = [], "", 0
    for char in text:
        w = _width(char)
        if width + w > units:
            lines.append(line)
            line, width = "", 0
        line, width = line + char, width + w
    return [*lines, line] if line else lines


class _Pages:
    """A4 pages that headings, text, tables and charts flow down, starting a new page when full."""

    def __init__(self, pdf: Any, script: Script):
        self.pdf, self.script = pdf, script
        self.fig: Figure | None = None
        self.y = TOP

    def _new(self) -> None:
        from matplotlib.figure import Figure

        if self.fig is not None:
            self.pdf.savefig(self.fig)
        self.fig, self.y = Figure(figsize=A4), TOP

    def room(self, height: float) -> None:
        if self.fig is None or (self.y - height < BOTTOM and self.y < TOP):
            self._new()

    def text(self, text: str, *, size: float = 9, weight: str = "normal", colour: str = "#1a1a1a") -> None:
        for line in _wrap(self.script(text), int(LINE_UNITS * 9 / size)):
            step = (size + 6) / 72 / A4[1]
            self.room(step)
            assert self.fig is not None
            self.fig.text(LEFT, self.y, line, fontsize=size, weight=weight if self.script.family is None else "normal", color=colour, va="top")
            self.y -= step

    def gap(self, height: float = 0.01) -> None:
        self.y -= height

    def table(self, table: Table) -> None:
        rows = table.rows or [["—"] * len(table.columns)]
        start = 0
        while start < len(rows):
            self.room(ROW_HEIGHT * 3)
            fitting = max(int((self.y - BOTTOM) / ROW_HEIGHT) - 1, 1)
            chunk = rows[start:start + fitting]
            self._draw_table(table, chunk)
            start += len(chunk)

    def _draw_table(self, table: Table, rows: list[list[str]]) -> None:
        assert self.fig is not None
        height = ROW_HEIGHT * (len(rows) + 1)
        ax = self.fig.add_axes((LEFT, self.y - height, 1 - 2 * LEFT, height))
        ax.axis("off")
        widths = table.widths or [1 / len(table.columns)] * len(table.columns)
        cells = [[_clip(self.script(c), int(w * TABLE_UNITS)) for c, w in zip(row, widths)] for row in rows]
        headers = [_clip(self.script(zh) if self.script.family else en, int(w * TABLE_UNITS)) for (zh, en), w in zip(table.columns, widths)]
        drawn = ax.table(cellText=cells, colLabels=headers,
                         colWidths=widths, loc="upper left", cellLoc="left", colLoc="left", bbox=(0, 0, 1, 1))
        drawn.auto_set_font_size(False)
        drawn.set_fontsize(6.5)
        for (row, _), cell in drawn.get_celld().items():
            cell.set_linewidth(0.3)
            if row == 0:
                cell.set_facecolor("#eeeeee")
        self.y -= height + 0.015

    def chart(self, chart: Chart) -> None:
        height = min(chart.height / A4[1], TOP - BOTTOM - 0.05)
        self.room(height + 0.03)
        assert self.fig is not None
        ax = self.fig.add_axes((LEFT + 0.2, self.y - height + 0.02, 1 - 2 * LEFT - 0.22, height - 0.04))
        ax.set_title(self.script(chart.title), fontsize=9)
        chart.draw(ax, self.script)
        self.y -= height + 0.02

    def close(self) -> None:
        if self.fig is not None:
            self.pdf.savefig(self.fig)


def _pdf(title: Label, period: str, as_of: date, views: list[SectionView], paragraphs: list[str], cjk: bool | None) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    script = _script(cjk)
    metadata = {"Title": script(title[0]) if script.family else title[1], "Subject": period, "Creator": "aicommons", "Producer": "aicommons",
                "CreationDate": datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)}
    out = io.BytesIO()
    with plt.rc_context(_style(script)), PdfPages(out, metadata=metadata) as pdf:
        pages = _Pages(pdf, script)
        pages.text(title[0] if script.family else title[1], size=17, weight="bold")
        pages.text(f"数据截至 {as_of.isoformat()}" if script.family else f"Figures as of {as_of.isoformat()}", size=9, colour="#555555")
        if any(v.sample for v in views):
            pages.text(f"本报告含{SAMPLE_MARK}：标注“{SAMPLE_MARK}”的数字来自示例数据，不代表真实统计。" if script.family
                       else "Contains sample data: figures marked as such are not real statistics.", colour="#b00020", weight="bold")
        if not script.family:
            pages.text(FONT_NOTE, colour="#b00020")
        if paragraphs:
            pages.gap()
            pages.text(script.label(("综述", "Overview")), size=13, weight="bold")
            if script.family:
                for paragraph in paragraphs:
                    pages.text(paragraph)
            else:
                pages.text("The overview is written in Chinese: see the HTML report.")
        for view in views:
            pages.gap(0.015)
            pages.room(0.12)
            pages.text(script.label(view.title) + (f"（{SAMPLE_MARK}）" if view.sample and script.family else ""), size=13, weight="bold")
            if view.sample:
                pages.text(f"本节含{SAMPLE_MARK}。" if script.family else "This section contains sample data.", colour="#b00020")
            if view.missing:
                pages.text(("暂无数据：" if script.family else "No data: ") + view.missing, colour="#555555")
                continue
            for line in view.lines:
                pages.text(line)
            for table in view.tables:
                pages.table(table)
            for chart in view.charts:
                pages.chart(chart)
        pages.close()
    return out.getvalue()


def render_bulletin_pdf(data: BulletinData, *, cjk: bool | None = None) -> bytes:
    """The bulletin as a PDF; the same data gives the same bytes."""
    return _pdf((bulletin_title(data.quarter), f"AI industry statistics bulletin, {data.quarter.label}"), data.quarter.label, data.quarter.last_day, _views(data, annual=False), [], cjk)


def render_annual_pdf(data: AnnualData, *, cjk: bool | None = None) -> bytes:
    return _pdf((annual_title(data.year), f"AI industry development report {data.year}"), str(data.year), data.last_day, _views(data, annual=True), narrative(data), cjk)


# --- gathering --------------------------------------------------------------------------------


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


def _all_enterprises(session: Session, actor: Actor) -> list[enterprises.EnterpriseRead]:
    found, cursor = [], None
    while True:
        page = enterprises.list_enterprises(session, actor, limit=MAX_LIMIT, cursor=cursor)
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


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
    found, cursor = [], None
    while True:
        page = subsidies.list_applications(session, actor, limit=MAX_LIMIT, cursor=cursor)
        found += page.items
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


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


# --- publishing -------------------------------------------------------------------------------

FORMATS = ("html", "pdf")
MEDIA_TYPES = {"html": "text/html; charset=utf-8", "pdf": "application/pdf"}
# Rendering sets matplotlib's global rcParams (fonts) for its duration: one render at a time, so
# two API requests in their worker threads never draw with each other's settings.
_RENDERING = threading.Lock()


@dataclass
class Publication:
    filename: str
    media_type: str
    content: bytes


def _check_formats(formats: Sequence[str]) -> list[str]:
    wrong = [f for f in formats if f not in FORMATS]
    if wrong or not formats:
        raise Invalid(f"The 'format' parameter must be one of {', '.join(FORMATS)}; got {', '.join(map(str, formats)) or 'nothing'} instead.")
    return list(dict.fromkeys(formats))


def publish_bulletin(session: Session, actor: Actor, quarter: str, formats: Sequence[str] = FORMATS) -> list[Publication]:
    """The quarter's bulletin in each format, gathered once; rendered synchronously (see docs)."""
    wanted = _check_formats(formats)
    data = gather_bulletin(session, actor, quarter)
    renderers = {"html": lambda: render_bulletin_html(data).encode("utf-8"), "pdf": lambda: render_bulletin_pdf(data)}
    with _RENDERING:
        return [Publication(f"bulletin-{data.quarter.label}.{f}", MEDIA_TYPES[f], renderers[f]()) for f in wanted]


def publish_annual(session: Session, actor: Actor, year: int, formats: Sequence[str] = FORMATS) -> list[Publication]:
    """The year's industry development report in each format, gathered once."""
    wanted = _check_formats(formats)
    data = gather_annual(session, actor, year)
    renderers = {"html": lambda: render_annual_html(data).encode("utf-8"), "pdf": lambda: render_annual_pdf(data)}
    with _RENDERING:
        return [Publication(f"annual-report-{data.year}.{f}", MEDIA_TYPES[f], renderers[f]()) for f in wanted]
