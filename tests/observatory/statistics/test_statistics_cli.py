"""`aicommons observatory stats …` against a real home: targets, record, import, compute, progress, sample, evaluate, ranking."""

from __future__ import annotations

import json

import pytest
from support import cli_env
from typer.testing import CliRunner

from aicommons.cli.main import app


@pytest.fixture
def cli(settings, world, official):
    """`aicommons --as EMAIL observatory stats …` in this process."""
    runner = CliRunner()

    def invoke(as_email: str, *args: str):
        return runner.invoke(app, ["--as", as_email, "observatory", "stats", *args], env=cli_env(settings), catch_exceptions=False)

    return invoke


def test_targets_record_import_compute_and_progress(cli, tmp_path):
    targets = cli("member@a.test", "targets", "--document", "002")
    assert targets.exit_code == 0 and "002-ai-revenue-2025" in targets.output and "2,000 亿元" in targets.output
    assert len(json.loads(cli("member@a.test", "targets", "--json").output)) == 70
    recorded = cli("official@gov.test", "record", "ai_enterprises", "浙江省", "2026Q2", "2,000")
    assert recorded.exit_code == 0 and "ai_enterprises 浙江省 2026Q2 = 2,000 家" in recorded.output
    again = cli("official@gov.test", "record", "ai_enterprises", "330000", "2026Q2", "2050", "--note", "revised")
    assert "superseding obs_" in again.output
    csv = tmp_path / "q3.csv"
    csv.write_text("indicator,region,quarter,value\nai_enterprises,330000,2026Q3,2200\nai_enterprises,330000,2026Q9,1\n", encoding="utf-8")
    imported = cli("official@gov.test", "import", str(csv))
    assert imported.exit_code == 0 and "1 of 2 rows recorded, 1 refused" in imported.output and "2026Q9" in imported.output
    computed = cli("official@gov.test", "compute", "platform.filed_models", "2026Q3", "--region", "330000", "--region", "滨江区")
    assert computed.exit_code == 0 and "platform:platform.filed_models" in computed.output and "滨江区" in computed.output
    progress = cli("member@a.test", "progress", "001-ai-enterprises")
    assert progress.exit_code == 0 and "projected 2,950 at 2027Q4 = 98% of 3,000 → at risk (≥ 80%)" in progress.output
    assert "2026Q3" in cli("member@a.test", "observations", "--indicator", "ai_enterprises").output


def test_sample_then_ranking(cli):
    seeded = cli("official@gov.test", "sample")
    assert seeded.exit_code == 0 and "Recorded 946 sample observations" in seeded.output and "示例数据" in seeded.output
    ranking = cli("member@b.test", "ranking", "2025")
    assert ranking.exit_code == 0 and "Regional ranking 2025" in ranking.output and "杭州市 (330100)" in ranking.output
    evaluated = cli("official@gov.test", "evaluate", "2025", "-i", "ai_enterprises=2", "-i", "industry_models=1", "--normalisation", "z-score")
    assert evaluated.exit_code == 0 and "given weights" in evaluated.output
    assert json.loads(cli("member@b.test", "ranking", "2025", "--json").output)["weights"] == {"ai_enterprises": pytest.approx(2 / 3, abs=1e-6),
                                                                                               "industry_models": pytest.approx(1 / 3, abs=1e-6)}


def test_errors_exit_non_zero_with_the_message(cli):
    bad_quarter = cli("official@gov.test", "record", "ai_enterprises", "330000", "2026Q5", "1")
    assert bad_quarter.exit_code == 2 and "2026Q5" in bad_quarter.output
    unknown = cli("official@gov.test", "record", "ai_unicorns", "330000", "2026Q3", "1")
    assert unknown.exit_code == 2 and "known indicator" in unknown.output
    not_numeric = cli("official@gov.test", "record", "ai_enterprises", "330000", "2026Q3", "plenty")
    assert not_numeric.exit_code == 2 and "'plenty'" in not_numeric.output
    assert cli("member@a.test", "record", "ai_enterprises", "330000", "2026Q3", "1").exit_code == 4
    assert cli("official@gov.test", "evaluate", "2025", "-i", "ai_enterprises:sideways", "-i", "industry_models").exit_code == 2
    assert cli("member@a.test", "ranking", "2024").exit_code == 3
    assert "no observation" in cli("member@a.test", "progress", "001-ai-enterprises").output
