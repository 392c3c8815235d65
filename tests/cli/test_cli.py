"""The `aicommons` command against a real home and database (in-process runner, real subprocess for exit codes)."""

from __future__ import annotations

import json

import pytest
from support import cli_env, run_cli
from typer.testing import CliRunner

from aicommons.cli.main import app
from aicommons.core.identity import authenticate


@pytest.fixture
def cli(settings):
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args), env=cli_env(settings), catch_exceptions=False)

    return invoke


def test_init_creates_the_home_and_prints_a_working_admin_token_that_rerun_rotates(cli, settings, runtime):
    first = cli("init", "--demo")
    assert first.exit_code == 0, first.output
    token = first.output.strip().splitlines()[-1]
    assert (settings.home / "config.toml").exists()
    with runtime.session() as session:
        assert authenticate(session, token).is_operator
    second = cli("init", "--demo")
    assert second.exit_code == 0
    assert second.output.strip().splitlines()[-1] != token
    with runtime.session() as session, pytest.raises(Exception, match="revoked"):
        authenticate(session, token)
    orgs = cli("org", "list")
    assert "Demo Enterprise" in orgs.output and orgs.output.count("Demo Enterprise") == 1


def test_org_user_and_token_commands(cli, runtime):
    cli("init")
    assert cli("org", "create", "Zhejiang Lab", "--kind", "lab").exit_code == 0
    made = cli("user", "create", "ana@zjlab.test", "--org", "zhejiang lab", "--role", "admin")
    assert made.exit_code == 0, made.output
    issued = cli("token", "create", "ana@zjlab.test", "--name", "laptop")
    assert issued.exit_code == 0
    secret = issued.stdout.strip().splitlines()[-1]
    with runtime.session() as session:
        actor = authenticate(session, secret)
    assert actor.email == "ana@zjlab.test" and actor.is_org_admin
    listing = json.loads(cli("token", "list", "ana@zjlab.test", "--json").stdout)
    token_id = next(t["id"] for t in listing if t["name"] == "laptop")
    assert cli("token", "revoke", token_id).exit_code == 0
    with runtime.session() as session, pytest.raises(Exception, match="revoked"):
        authenticate(session, secret)


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["org", "create", "aicommons", "--kind", "lab"], 5, "already exists"),
        (["user", "create", "x@y.test", "--org", "No Such Org"], 3, "No organisation"),
        (["user", "create", "not-an-email", "--org", "aicommons"], 2, "email"),
        (["token", "revoke", "tok_missing"], 3, "No token"),
        (["jobs", "show", "job_missing"], 3, "No job"),
        (["jobs", "submit", "no.such.type"], 2, "Unknown job type"),
        (["jobs", "submit", "diagnostics.sleep", "-p", "steps=-3"], 2, "steps"),
        (["jobs", "submit", "diagnostics.sleep", "-p", "oops"], 2, "KEY=VALUE"),
    ],
)
def test_bad_input_is_a_message_and_a_nonzero_exit(cli, args, exit_code, message):
    cli("init")
    result = cli(*args)
    assert result.exit_code == exit_code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_acting_as_a_member_limits_what_the_cli_may_do(cli):
    cli("init", "--demo")
    cli("org", "create", "Org Z", "--kind", "enterprise")
    cli("user", "create", "m@z.test", "--org", "Org Z")
    refused = cli("--as", "m@z.test", "org", "create", "Sneaky", "--kind", "lab")
    assert refused.exit_code == 4 and "operator" in refused.output


def test_jobs_commands_follow_a_job_through_its_life(cli, runtime, world):
    submitted = cli("jobs", "submit", "diagnostics.sleep", "-p", "steps=2", "-p", "seconds=0")
    assert submitted.exit_code == 0
    assert "No executor is running" in submitted.output
    job_id = next(word for word in submitted.output.split() if word.startswith("job_"))
    assert job_id in cli("jobs", "list").output
    shown = cli("jobs", "show", job_id, "--json")
    assert '"status": "queued"' in shown.output
    assert cli("jobs", "cancel", job_id).exit_code == 0
    assert cli("jobs", "retry", job_id).exit_code == 0
    from aicommons.core.jobs.worker import WorkerLoop

    WorkerLoop(runtime, "cli-test").run_one()
    assert '"status": "succeeded"' in cli("jobs", "show", job_id, "--json").output
    assert "step 2/2 done" in cli("jobs", "logs", job_id).output


def test_the_installed_command_reports_errors_with_exit_codes(settings, world):
    result = run_cli(settings, "jobs", "show", "job_nope")
    assert result.returncode == 3
    assert "No job with id 'job_nope'" in result.stderr
