"""The quarterly bulletin and the annual report: gathered from the services, rendered as HTML and
PDF, sample data marked, missing sections explained, officials only, API and CLI."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from support import assert_db_unchanged, auth, cli_env, db_state
from typer.testing import CliRunner

from aicommons import compute, data
from aicommons.cli.main import app
from aicommons.core import jobs
from aicommons.core.db import utcnow
from aicommons.core.errors import Forbidden, Invalid
from aicommons.core.jobs.worker import WorkerLoop
from aicommons.core.schemas import JobSubmit
from aicommons.observatory import enterprises, reports, statistics, subsidies

SECTIONS = ("targets", "ranking", "enterprises", "activity", "subsidies", "compute")


def _this_quarter() -> reports.Quarter:
    now = utcnow()
    return reports.Quarter(now.year, (now.month - 1) // 3 + 1)


def _section(html: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}" class="report-section">(.*?)</section>', html, re.DOTALL)
    assert match, f"no section {anchor!r}"
    return match.group(1)


@pytest.fixture
def busy(runtime, world, official):
    """A platform with a quarter's worth of records: 40 sample enterprises, the sample statistics
    up to this quarter and regional evaluations of last year and this year, a dataset, a finished job, a compute voucher
    issued to org A and a charge it half paid, and org A's approved subsidy for a provincial key lab."""
    with runtime.session() as session:
        enterprises.add_sample_enterprises(session, official.actor, count=40, seed=3)
        statistics.add_sample_observations(session, official.actor, first="2024Q1", last=_this_quarter().label)
        for year in (utcnow().year - 1, utcnow().year):
            statistics.run_evaluation(session, official.actor, statistics.SAMPLE_EVALUATION.model_copy(update={"year": year}))
        application = subsidies.apply_for_subsidy(session, world.a_admin.actor, subsidies.SubsidyRequest(
            item="key-lab", level="provincial", year=utcnow().year, project_key="lab-1"))
        subsidies.approve_application(session, official.actor, application.id, subsidies.Approval(reason="Recognised by the province."))
        data.create_dataset(session, world.a_member.actor, data.DatasetCreate(name="reviews", modality="text"))
        jobs.submit_job(session, world.a_member.actor, JobSubmit(type="diagnostics.noop"))
        compute.issue_voucher(session, official.actor, compute.VoucherCreate(
            org_id=world.org_a, kind="compute", face_value_fen=5_000_000, share_percent=50, valid_until=utcnow() + timedelta(days=90)))
        compute.topup(session, official.actor, compute.TopupCreate(org_id=world.org_a, amount_fen=100_000))
        compute.charge(session, world.operator.actor, compute.ChargeCreate(
            org_id=world.org_a, service="compute", amount_fen=20_000, idempotency_key="reports-test-charge"))
    while WorkerLoop(runtime, "reports-test-worker").run_one():
        pass
    return official.actor


def test_bulletin_shows_each_section_marks_sample_data_and_renders_the_same_pdf_twice(runtime, busy):
    quarter = _this_quarter()
    with runtime.session() as session:
        bulletin = reports.gather_bulletin(session, busy, quarter.label)
        registered = enterprises.list_enterprises(session, busy, limit=200).items
        judged = statistics.list_progress(session, busy, as_of=quarter.label)
        ranking = statistics.get_ranking(session, busy, quarter.year)
    assert isinstance(bulletin.targets, reports.Targets) and bulletin.targets.rows
    assert all(r.sample and r.verdict != "no_data" for r in bulletin.targets.rows)
    assert len(bulletin.targets.rows) + bulletin.targets.unobserved == len(judged)
    assert isinstance(bulletin.ranking, reports.Ranking) and bulletin.ranking.year == ranking.year
    assert [(r.rank, r.region, r.score) for r in bulletin.ranking.rows] == [(r.rank, r.region_name, r.score) for r in ranking.rows]
    assert isinstance(bulletin.enterprises, reports.Enterprises)
    assert bulletin.enterprises.total == len(registered) == 40
    assert bulletin.enterprises.sample == sum(e.sample for e in registered) == 40
    assert sum(r.count for r in bulletin.enterprises.by_city) == 40
    assert isinstance(bulletin.activity, reports.Activity)
    latest = bulletin.activity.rows[-1]
    assert (latest.period, latest.datasets, latest.jobs) == (quarter.label, 1, 1)
    assert [r.period for r in bulletin.activity.rows] == [q.label for q in quarter.trailing(4)]
    assert isinstance(bulletin.compute, reports.Compute)
    assert [(r.label, r.count, r.amount) for r in bulletin.compute.vouchers] == [("AI算力券", 1, 50_000.0), ("智评券", 0, 0.0)]
    assert [(r.label, r.count, r.amount) for r in bulletin.compute.redeemed] == [("AI算力券", 1, 100.0), ("智评券", 0, 0.0)]
    assert (bulletin.compute.charges.count, bulletin.compute.charges.amount) == (1, 200.0)  # half from the voucher, half prepaid
    assert isinstance(bulletin.subsidies, reports.Subsidies)
    assert (bulletin.subsidies.applications, bulletin.subsidies.approved, bulletin.subsidies.approved_amount) == (1, 1, 2_000_000.0)
    assert [(r.count, r.amount) for r in bulletin.subsidies.by_item] == [(1, 2_000_000.0)] and bulletin.subsidies.by_item[0].label.startswith("三.2 ")

    html = reports.render_bulletin_html(bulletin)
    assert f"<title>{quarter.label_zh}人工智能产业统计公报</title>" in html
    for anchor in SECTIONS:
        _section(html, anchor)
    registry = _section(html, "enterprises")
    assert "示例数据" in registry and "入库企业 40 家（含示例数据 40 家）。" in registry
    assert 'id="sample-notice"' in html
    for anchor in ("targets", "ranking"):
        assert "本节含示例数据" in _section(html, anchor)
    top = bulletin.ranking.rows[0]
    assert f"<td>{top.region}（示例数据）</td>" in _section(html, "ranking")
    assert "示例数据" not in _section(html, "activity")  # platform records are real, not samples
    assert 'id="chart-enterprise-tiers"' in html and 'id="chart-platform-activity"' in html

    pdf = reports.render_bulletin_pdf(bulletin)
    assert pdf.startswith(b"%PDF") and pdf == reports.render_bulletin_pdf(bulletin)


def test_a_section_without_data_says_so(runtime, world, official):
    quarter = reports.Quarter(2025, 1)
    with runtime.session() as session:
        bulletin = reports.gather_bulletin(session, official.actor, quarter)
    html = reports.render_bulletin_html(bulletin)
    for anchor in SECTIONS:
        section = getattr(bulletin, anchor)
        assert isinstance(section, reports.Missing), anchor
        assert f"暂无数据：{section.reason}" in _section(html, anchor)
    assert "企业培育库在 2025-04-01 之前没有登记企业" in bulletin.enterprises.reason
    assert 'id="sample-notice"' not in html
    assert reports.render_bulletin_pdf(bulletin).startswith(b"%PDF")


def test_annual_report_compares_years_and_its_narrative_uses_only_its_figures(runtime, busy):
    year = utcnow().year
    with runtime.session() as session:
        annual = reports.gather_annual(session, busy, year)
    registered, activity = annual.enterprises, annual.activity
    assert isinstance(registered, reports.Enterprises) and isinstance(activity, reports.Activity)
    assert registered.previous_total == 0  # every record was registered this year
    assert activity.year_total is not None and activity.previous_year is not None
    assert (activity.year_total.datasets, activity.previous_year.datasets) == (1, 0)
    assert sum(r.jobs for r in activity.rows) == activity.year_total.jobs == 1

    paragraphs = reports.narrative(annual)
    text = "".join(paragraphs)
    assert f"入库企业 {registered.total:,} 家（含示例数据 {registered.sample:,} 家），较上年 +{registered.total}" in text
    assert "平台全年新增数据集 1 个" in text and "完成任务 1 个" in text
    assert "全年受理补贴申请 1 件，核准 1 件，核准金额 200.00 万元，较上年 +200.00 万元" in text
    assert f"{year}年度区域综合评价中，{annual.ranking.rows[0].region}以" in text and "（示例数据。）" in text
    assert "以下部分本年度暂无数据" not in text
    html = reports.render_annual_html(annual)
    assert '<section id="overview">' in html and all(p in html for p in paragraphs)
    assert "上年" in _section(html, "enterprises")
    pdf = reports.render_annual_pdf(annual)
    assert pdf.startswith(b"%PDF") and pdf == reports.render_annual_pdf(annual)


def test_without_a_chinese_font_the_pdf_still_renders_and_says_why(runtime, busy):
    with runtime.session() as session:
        bulletin = reports.gather_bulletin(session, busy, _this_quarter())
    pdf = reports.render_bulletin_pdf(bulletin, cjk=False)
    assert pdf.startswith(b"%PDF") and pdf == reports.render_bulletin_pdf(bulletin, cjk=False)
    assert f"/Title (AI industry statistics bulletin, {bulletin.quarter.label})".encode() in pdf
    assert pdf != reports.render_bulletin_pdf(bulletin, cjk=True)
    assert 'id="font-note"' in reports.render_bulletin_html(bulletin, cjk=False)
    assert reports.Script(None)("杭州市（示例数据）$5 ok杭州") == r"Hangzhoushi (Shilishuju)\$5 ok Hangzhou"


def test_only_officials_may_generate_reports(runtime, world, client):
    with runtime.session() as session:
        for member in (world.a_admin, world.b_member):
            with pytest.raises(Forbidden, match="government org"):
                reports.gather_bulletin(session, member.actor, "2026Q3")
            with pytest.raises(Forbidden):
                reports.gather_annual(session, member.actor, 2026)
    refused = client.get("/api/v1/observatory/reports/bulletin", params={"quarter": "2026Q3"}, headers=auth(world.a_member))
    assert refused.status_code == 403 and "operator or a government org" in refused.json()["error"]["message"]


@pytest.mark.parametrize("text", ["2026Q5", "2026", "Q3 2026", "1899Q1", ""])
def test_a_bad_quarter_is_refused_naming_the_expected_form(text):
    with pytest.raises(Invalid, match=r"'quarter' parameter must be .* like 2026Q3; got"):
        reports.parse_quarter(text)


def test_quarter_spellings_and_arithmetic():
    assert reports.parse_quarter(" 2026-q4 ") == reports.Quarter(2026, 4)
    q = reports.parse_quarter("2026Q1")
    assert (q.label_zh, q.start.isoformat(), q.end.isoformat(), q.last_day.isoformat()) == (
        "2026年第一季度", "2026-01-01T00:00:00+00:00", "2026-04-01T00:00:00+00:00", "2026-03-31")
    assert [x.label for x in q.trailing(3)] == ["2025Q3", "2025Q4", "2026Q1"]


def test_api_serves_both_formats_and_refuses_bad_input_changing_nothing(runtime, world, client):
    headers = auth(world.operator)
    page = client.get("/api/v1/observatory/reports/bulletin", params={"quarter": "2026Q3"}, headers=headers)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "2026年第三季度人工智能产业统计公报" in page.text
    pdf = client.get("/api/v1/observatory/reports/annual", params={"year": 2026, "format": "pdf"}, headers=headers)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert 'filename="annual-report-2026.pdf"' in pdf.headers["content-disposition"]

    before = db_state(runtime)
    bad = client.get("/api/v1/observatory/reports/bulletin", params={"quarter": "2026Q5"}, headers=headers)
    assert bad.status_code == 422 and "'quarter' parameter must be" in bad.json()["error"]["message"] and "2026Q5" in bad.json()["error"]["message"]
    bad_year = client.get("/api/v1/observatory/reports/annual", params={"year": 1800}, headers=headers)
    assert bad_year.status_code == 422 and "'year' parameter must be" in bad_year.json()["error"]["message"]
    bad_format = client.get("/api/v1/observatory/reports/bulletin", params={"quarter": "2026Q3", "format": "docx"}, headers=headers)
    assert bad_format.status_code == 422 and "format" in bad_format.json()["error"]["message"]
    assert_db_unchanged(before, db_state(runtime))


def test_cli_writes_bulletin_and_annual_report(settings, world, tmp_path):
    runner = CliRunner()
    out = tmp_path / "reports"
    result = runner.invoke(app, ["--as", "root@operator.test", "observatory", "report", "--quarter", "2026Q3", "--annual", "2026", "--out", str(out)],
                           env=cli_env(settings), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    names = ["annual-report-2026.html", "annual-report-2026.pdf", "bulletin-2026Q3.html", "bulletin-2026Q3.pdf"]
    assert sorted(p.name for p in out.iterdir()) == names
    for name in names:
        assert str(out / name) in result.output
    assert (out / "bulletin-2026Q3.pdf").read_bytes().startswith(b"%PDF")
    nothing = runner.invoke(app, ["--as", "root@operator.test", "observatory", "report", "--out", str(out)], env=cli_env(settings))
    assert nothing.exit_code == 2 and "--quarter" in nothing.output
