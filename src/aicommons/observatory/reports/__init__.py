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

Modules: `periods` (Quarter), `contents` (the dataclasses a report holds), `formatting` (numbers,
yuan, display widths), `views` (section views, titles, narrative), `fonts` (CJK font, Script,
pinyin), `charts`, `html`, `pdf`, `gathering` (gather_bulletin, gather_annual) and `publishing`.
"""

from aicommons.observatory.reports.charts import Chart
from aicommons.observatory.reports.contents import (
    ACTIVITY_FIELDS,
    SAMPLE_MARK,
    VERDICTS,
    Activity,
    ActivityRow,
    AnnualData,
    BulletinData,
    Compute,
    CountRow,
    Enterprises,
    Label,
    Missing,
    MoneyRow,
    ProgressRow,
    Ranking,
    RankingRow,
    Subsidies,
    Targets,
)
from aicommons.observatory.reports.fonts import FONT_NOTE, Script, cjk_font_family
from aicommons.observatory.reports.formatting import change, number, percent, verdict_label, yuan
from aicommons.observatory.reports.gathering import STATUS_LABELS, UNTIERED, VOUCHER_LABELS, gather_annual, gather_bulletin
from aicommons.observatory.reports.html import render_annual_html, render_bulletin_html
from aicommons.observatory.reports.pdf import render_annual_pdf, render_bulletin_pdf
from aicommons.observatory.reports.periods import Quarter, parse_quarter, year_quarters
from aicommons.observatory.reports.publishing import FORMATS, MEDIA_TYPES, Publication, publish_annual, publish_bulletin
from aicommons.observatory.reports.views import SectionView, Table, annual_title, bulletin_title, narrative

__all__ = [
    "ACTIVITY_FIELDS", "FONT_NOTE", "FORMATS", "MEDIA_TYPES", "SAMPLE_MARK", "STATUS_LABELS", "UNTIERED", "VERDICTS", "VOUCHER_LABELS",
    "Activity", "ActivityRow", "AnnualData", "BulletinData", "Chart", "Compute", "CountRow", "Enterprises", "Label", "Missing",
    "MoneyRow", "ProgressRow", "Publication", "Quarter", "Ranking", "RankingRow", "Script", "SectionView", "Subsidies", "Table",
    "Targets", "annual_title", "bulletin_title", "change", "cjk_font_family", "gather_annual", "gather_bulletin", "narrative",
    "number", "parse_quarter", "percent", "publish_annual", "publish_bulletin", "render_annual_html", "render_annual_pdf",
    "render_bulletin_html", "render_bulletin_pdf", "verdict_label", "year_quarters", "yuan",
]  # fmt: skip
