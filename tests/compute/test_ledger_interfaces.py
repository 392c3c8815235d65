"""The ledger over HTTP and on the command line: the paths, the errors, and nothing stored on an error."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from support import assert_db_unchanged, auth, cli_env, db_state
from typer.testing import CliRunner

from aicommons.cli.main import app
from aicommons.core.db import utcnow
from aicommons.serving.endpoints import UsageDelta, record_usage

API = "/api/v1/ledger"


@pytest.fixture
def cli(settings, world):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, list(args), env=cli_env(settings), catch_exceptions=False)


def test_top_up_issue_charge_and_read_over_http(client, world, official):
    operator = world.operator
    topped = client.post(f"{API}/topups", json={"org_id": world.org_a, "amount_fen": 2_000, "idempotency_key": "pay-1"}, headers=auth(official))
    assert topped.status_code == 201, topped.text
    assert client.post(f"{API}/topups", json={"org_id": world.org_a, "amount_fen": 2_000, "idempotency_key": "pay-1"}, headers=auth(official)).json() == topped.json()
    until = (utcnow() + timedelta(days=30)).isoformat()
    voucher = client.post(
        f"{API}/vouchers", json={"org_id": world.org_a, "kind": "compute", "face_value_fen": 1_000, "share_percent": 50, "valid_until": until}, headers=auth(official),
    )
    assert voucher.status_code == 201, voucher.text
    charged = client.post(f"{API}/charges", json={"org_id": world.org_a, "service": "training", "amount_fen": 600, "idempotency_key": "c-1"}, headers=auth(operator))
    assert charged.status_code == 201, charged.text
    assert {p["account_key"]: p["amount_fen"] for p in charged.json()["postings"]} == {
        f"voucher:{voucher.json()['id']}": -300, f"prepaid:{world.org_a}": -300, "revenue": 600,
    }
    balance = client.get(f"{API}/balance", headers=auth(world.a_member)).json()
    assert (balance["prepaid_fen"], balance["usable_voucher_fen"]) == (1_700, 700)
    mine = client.get(f"{API}/transactions", headers=auth(world.a_member)).json()["items"]
    assert [t["kind"] for t in mine] == ["charge", "voucher_issue", "topup"]
    assert client.get(f"{API}/transactions/{mine[0]['id']}", headers=auth(world.a_member)).json()["amount_fen"] == 600
    assert client.get(f"{API}/transactions/{mine[0]['id']}", headers=auth(world.b_member)).status_code == 404
    assert client.get(f"{API}/balance", params={"org_id": world.org_a}, headers=auth(world.b_member)).status_code == 404
    assert [v["id"] for v in client.get(f"{API}/vouchers", headers=auth(world.a_member)).json()] == [voucher.json()["id"]]
    assert client.get(f"{API}/prices", headers=auth(world.a_member)).json()["services"]["serving"]["per_thousand_calls"] == "0.05"
    report = client.get(f"{API}/reconciliation", headers=auth(official))
    assert report.status_code == 200 and report.json()["ok"] is True


def test_bad_requests_over_http_name_the_problem_and_store_nothing(client, runtime, world, official):
    client.post(f"{API}/topups", json={"org_id": world.org_a, "amount_fen": 500}, headers=auth(official))
    before = db_state(runtime)
    until = (utcnow() + timedelta(days=1)).isoformat()
    cases = [
        (f"{API}/charges", {"org_id": world.org_a, "service": "training", "amount_fen": 501, "idempotency_key": "k"}, world.operator, 402, "insufficient_funds", "¥0.01 (1 fen) short"),
        (f"{API}/topups", {"org_id": world.org_a, "amount_fen": -5}, official, 422, "invalid", "amount_fen"),
        (f"{API}/topups", {"org_id": world.org_a, "amount_fen": 1.5}, official, 422, "invalid", "amount_fen"),
        (f"{API}/vouchers", {"org_id": world.org_a, "kind": "gpu", "face_value_fen": 100, "share_percent": 50, "valid_until": until}, official, 422, "invalid", "kind"),
        (f"{API}/vouchers", {"org_id": world.org_a, "kind": "compute", "face_value_fen": 100, "share_percent": 50, "valid_until": "2020-01-01T00:00:00+08:00"}, official, 422, "invalid", "must be in the future"),
        (f"{API}/charges", {"org_id": world.org_a, "service": "mining", "amount_fen": 1, "idempotency_key": "k"}, world.operator, 422, "invalid", "priced services"),
        (f"{API}/topups", {"org_id": world.org_a, "amount_fen": 100}, world.a_admin, 403, "forbidden", "top up"),
        (f"{API}/charges", {"org_id": world.org_a, "service": "training", "amount_fen": 1, "idempotency_key": "k"}, official, 403, "forbidden", "operator"),
        (f"{API}/usage-charges", None, world.a_admin, 403, "forbidden", "operator"),
    ]
    for url, body, member, status, code, words in cases:
        response = client.post(url, json=body, headers=auth(member))
        assert response.status_code == status, (url, body, response.text)
        assert response.json()["error"]["code"] == code and words in response.json()["error"]["message"], response.text
    assert_db_unchanged(before, db_state(runtime))


def test_the_ledger_commands(cli, runtime, world, settings):
    org_a = world.org_a
    assert cli("ledger", "topup", org_a, "100.50", "--key", "bank-7").exit_code == 0
    assert cli("ledger", "topup", org_a, "100.50", "--key", "bank-7").exit_code == 0  # the same key: no second top-up
    issued = cli("ledger", "issue-voucher", org_a, "--kind", "compute", "--value", "20", "--share", "50", "--valid-until", (utcnow() + timedelta(days=9)).date().isoformat())
    assert issued.exit_code == 0, issued.output
    endpoint_id = _endpoint(runtime, world)
    with runtime.session() as session:
        record_usage(session, [UsageDelta(endpoint_id, org_a, utcnow() - timedelta(hours=1), calls=20_000, rows=20_000, compute_seconds=100.0)])
    charged = cli("ledger", "charge-usage", "--json")
    assert charged.exit_code == 0, charged.output
    run = json.loads(charged.output)
    assert run["items_billed"] == 1 and run["billed_fen"] == 120  # 20 × ¥0.05 + 100 s × ¥0.002 = ¥1.20
    balance = json.loads(cli("ledger", "balance", "--org", org_a, "--json").output)
    assert balance["prepaid_fen"] == 10_050 - 60 and balance["usable_voucher_fen"] == 2_000 - 60
    shown = cli("ledger", "balance", "--org", org_a)
    assert "¥99.90" in shown.output and "¥19.40" in shown.output
    listed = cli("ledger", "transactions", "--org", org_a)
    assert listed.exit_code == 0 and listed.output.count("usage_charge") == 1 and listed.output.count("topup") == 1
    assert "compute" in cli("ledger", "vouchers").output
    reconciled = cli("ledger", "reconcile")
    assert reconciled.exit_code == 0 and "balanced" in reconciled.output and "¥1.20" in reconciled.output


def test_ledger_command_errors_exit_non_zero_with_the_problem_named(cli, runtime, world):
    before = db_state(runtime)
    for args, code, words in [
        (("topup", "--", world.org_a, "-5"), 2, "positive amount in yuan"),
        (("topup", world.org_a, "0"), 2, "positive amount in yuan"),
        (("topup", world.org_a, "1.234"), 2, "at most two decimals"),
        (("issue-voucher", world.org_a, "--kind", "gpu", "--value", "5", "--valid-until", "2030-01-01"), 2, "'--kind' option must be one of"),
        (("issue-voucher", world.org_a, "--kind", "compute", "--value", "5", "--valid-until", "2020-01-01"), 2, "must be in the future"),
        (("issue-voucher", world.org_a, "--kind", "compute", "--value", "5", "--valid-until", "soon"), 2, "ISO 8601"),
    ]:
        result = cli("ledger", *args)
        assert result.exit_code == code and words in result.output, result.output
    assert_db_unchanged(before, db_state(runtime))


def _endpoint(runtime, world):
    from aicommons import models
    from aicommons.core.ids import new_id
    from aicommons.serving.tables import Endpoint

    with runtime.session() as session:
        model = models.create_model(session, world.a_member.actor, models.ModelCreate(name="digits", task="image-classification"))
        endpoint = Endpoint(id=new_id("ept"), name="digits-api", org_id=world.org_a, model_id=model.id)
        session.add(endpoint)
    return endpoint.id
