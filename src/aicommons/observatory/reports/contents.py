"""What a report holds: the plain dataclasses gathering fills and both formats show, a `Missing`
section with its reason, and the marks and labels they share."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from aicommons.observatory.reports.periods import Quarter

SAMPLE_MARK = "示例数据"
VERDICTS = {  # the statistics service's verdicts: label and bar colour
    "achieved": ("已完成", "achieved", "#1565c0"),
    "on_track": ("进展正常", "on track", "#2e7d32"),
    "at_risk": ("存在风险", "at risk", "#ef8f00"),
    "off_track": ("明显滞后", "off track", "#c62828"),
    "no_data": ("暂无数据", "no data", "#9e9e9e"),
}

Label = tuple[str, str]  # (Chinese, English): English is the PDF's fallback without a CJK font


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
