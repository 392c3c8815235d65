"""`aicommons observatory subsidies …` against a real home: items, quote, apply, list, show, approve, reject."""

from __future__ import annotations

import json
import re

import pytest
from support import cli_env
from typer.testing import CliRunner

from aicommons.cli.main import app


@pytest.fixture
def cli(settings, world, official):
    """`aicommons --as EMAIL observatory subsidies …` in this process."""
    runner = CliRunner()

    def invoke(as_email: str, *args: str):
        return runner.invoke(app, ["--as", as_email, "observatory", "subsidies", *args], env=cli_env(settings), catch_exceptions=False)

    return invoke


def _id(output: str) -> str:
    return re.search(r"sub_[0-9A-Z]{26}", output).group()


def test_quote_apply_list_show_and_decide(cli):
    listed = cli("member@a.test", "items")
    assert listed.exit_code == 0 and "standard-participate" in listed.output and "三.11" in listed.output
    shown = cli("member@a.test", "items", "standard-lead")
    assert shown.exit_code == 0 and "人工智能企业主导制定完成国际标准、国家标准的，分别给予最高不超过200万元、80万元奖励" in shown.output
    quote = cli("member@a.test", "quote", "conference", "--year", "2025", "--project", "summit", "--base", "actual_spending=2,400,000")
    assert quote.exit_code == 0, quote.output
    assert "50% × actual_spending 2,400,000.00 yuan = 1,200,000.00" in quote.output and "Payable: 1,000,000.00 yuan" in quote.output
    applied = cli("member@a.test", "apply", "standard-lead", "--level", "international", "--year", "2025", "--project", "iso-42001",
                  "--base", "requested=2500000", "--evidence", "ISO/IEC publication")
    assert applied.exit_code == 0, applied.output
    application = _id(applied.output)
    assert "pending; payable now 2,000,000.00 yuan" in applied.output
    assert application in cli("official@gov.test", "list", "--status", "pending").output
    approved = cli("official@gov.test", "approve", application, "--reason", "published", "--amount", "1500000")
    assert approved.exit_code == 0 and "Approved: 1,500,000.00 yuan" in approved.output and "Fixed by the official at 1,500,000.00" in approved.output
    as_json = json.loads(cli("member@a.test", "show", application, "--json").output)
    assert (as_json["status"], as_json["amount"], as_json["reason"]) == ("approved", "1500000.00", "published")
    assert "At the decision (approved)" in cli("member@a.test", "show", application).output
    second = _id(cli("member@a.test", "apply", "rd-centre", "--level", "city", "--year", "2025", "--project", "centre").output)
    rejected = cli("official@gov.test", "reject", second, "--reason", "not in the district")
    assert rejected.exit_code == 0 and "Rejected" in rejected.output


def test_errors_exit_non_zero_with_the_message(cli):
    missing = cli("member@a.test", "apply", "service-platform", "--year", "2025", "--project", "p", "--base", "actual_investment=6000000")
    assert missing.exit_code == 2 and "'hardware_software_investment' was not given" in missing.output
    assert cli("member@a.test", "quote", "key-lab", "--year", "2025", "--project", "p", "--base", "oops").exit_code == 2
    level = cli("member@a.test", "quote", "key-lab", "--year", "2025", "--project", "p", "--level", "city")
    assert level.exit_code == 2 and "must be one of national" in level.output
    applied = _id(cli("member@a.test", "apply", "key-lab", "--level", "provincial", "--year", "2025", "--project", "lab").output)
    refused = cli("admin@b.test", "approve", applied, "--reason", "x")
    assert refused.exit_code == 4 and "government org may approve" in refused.output
