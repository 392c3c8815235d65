"""`aicommons observatory enterprises …` against a real home: add, show, list, sample, export, import."""

from __future__ import annotations

import pytest
from support import cli_env
from typer.testing import CliRunner

from aicommons.cli.main import app

HIKVISION = "91330000733796106P"


@pytest.fixture
def cli(settings, world):
    """`aicommons [--as EMAIL] observatory enterprises …` in this process; the operator by default."""
    runner = CliRunner()

    def invoke(*args: str, as_email: str | None = None):
        prefix = ["--as", as_email] if as_email else []
        return runner.invoke(app, [*prefix, "observatory", "enterprises", *args], env=cli_env(settings), catch_exceptions=False)

    return invoke


def test_add_show_list_sample_export_and_import(cli, tmp_path, world):
    added = cli("add", HIKVISION, "--name", "杭州海康威视数字技术股份有限公司", "--city", "杭州", "--district", "滨江",
                "--tier", "科技领军企业", "--field", "computer-vision", "--revenue", "2023=89300000000", "--org", world.org_a)
    assert added.exit_code == 0, added.output
    shown = cli("show", HIKVISION, "--json")
    assert shown.exit_code == 0 and '"district": "滨江区"' in shown.output and '"2023": 89300000000' in shown.output
    assert cli("sample", "--count", "12").exit_code == 0
    listed = cli("list", "--city", "杭州", "--tier", "tech-leader")
    assert listed.exit_code == 0 and HIKVISION in listed.output and "89,300,000,000 (2023)" in listed.output
    exported = cli("export", str(tmp_path / "all.xlsx"))
    assert exported.exit_code == 0, exported.output
    reimported = cli("import", str(tmp_path / "all.xlsx"))
    assert reimported.exit_code == 0 and "13 rows; 0 created, 0 updated, 13 unchanged, 0 refused" in reimported.output


def test_import_prints_the_refused_rows_and_exits_non_zero(cli, tmp_path):
    (tmp_path / "mixed.csv").write_text(
        f"credit_code,name,city,district\n{HIKVISION},海康威视,杭州,滨江\n91330000727215176K,大华,杭州,鹿城区\n", encoding="utf-8"
    )
    result = cli("import", str(tmp_path / "mixed.csv"))
    assert result.exit_code == 2, result.output
    assert "1 created, 0 updated, 0 unchanged, 1 refused" in result.output
    assert "鹿城区" in result.output and "district" in result.output
    assert cli("show", HIKVISION).exit_code == 0


def test_a_bad_record_is_refused_naming_each_problem(cli):
    result = cli("add", "91330000733796106X", "--name", "x", "--city", "苏州")
    assert result.exit_code == 2
    assert "ends with check character 'X', but the first 17 characters give 'P'" in result.output
    result = cli("add", "91330000733796106P", "--name", "x", "--city", "苏州")
    assert result.exit_code == 2 and "The city '苏州' is not a prefecture-level city of Zhejiang" in result.output
    assert cli("show", "91330000733796106P").exit_code == 3


def test_non_officials_are_refused(cli, tmp_path):
    result = cli("list", as_email="admin@a.test")
    assert result.exit_code == 4 and "Only the platform operator or a government org may list" in result.output
    assert cli("export", str(tmp_path / "x.pdf")).exit_code == 2
