"""`aicommons annotate …` against a real home: create from a spec file or options, two orgs' workers
label through `next`/`answer`, quality table, aggregation job, review, publish; refusals."""

from __future__ import annotations

import json
import re
import threading

import pytest
from datakit import REVIEWS_CSV, DataKit
from support import cli_env
from typer.testing import CliRunner

from aicommons.cli.annotation import parse_value
from aicommons.cli.main import app
from aicommons.core.jobs.worker import WorkerLoop

OWNER, OUTSIDER = "member@a.test", "member@b.test"


@pytest.fixture
def cli(settings, world):
    """`aicommons --as EMAIL …` in this process, against the test's home."""
    runner = CliRunner()
    return lambda email, *args: runner.invoke(app, ["--as", email, *args], env=cli_env(settings), catch_exceptions=False)


@pytest.fixture
def truth(runtime, world):
    """Org A's six-review dataset `reviews`; {record_id: true label}."""
    kit = DataKit(runtime, world.a_member.actor)
    version = kit.imported(kit.dataset().id, "reviews.csv", REVIEWS_CSV)
    return {r["record_id"]: r["label"] for r in kit.records(version.id).items}


def _project_id(output: str) -> str:
    found = re.search(r"\banp_\w+", output)
    assert found, output
    return found.group(0)


def test_a_project_from_a_spec_file_is_worked_aggregated_reviewed_and_published(cli, runtime, truth, tmp_path):
    spec = tmp_path / "project.yaml"
    spec.write_text(
        "name: sentiment\ndataset: reviews@1\nschema:\n  kind: single\n  labels: [positive, negative]\n"
        "overlap: 1\nmax_overlap: 1\nadaptive: false\ngold_rate: 0\nmin_seconds: 0\nguidelines: Judge the whole review.\n",
        encoding="utf-8",
    )
    created = cli(OWNER, "annotate", "create", "--spec", str(spec), "--method", "mv")
    assert created.exit_code == 0, created.output
    project = _project_id(created.output)
    assert "0/6 items done" in created.output
    shown = json.loads(cli(OWNER, "annotate", "show", project, "--json").stdout)
    assert shown["method"] == "mv" and shown["schema"]["labels"] == ["positive", "negative"] and shown["guidelines"] == "Judge the whole review."
    assert project in cli(OUTSIDER, "annotate", "list").output  # public: other orgs see it

    for email in (OWNER, OUTSIDER):
        joined = cli(email, "annotate", "join", project)
        assert joined.exit_code == 0 and email in joined.output, joined.output
    answered = 0
    for _ in range(3):  # overlap 1: the two workers share the six items
        for email in (OWNER, OUTSIDER):
            nxt = cli(email, "annotate", "next", project)
            assert nxt.exit_code == 0, nxt.output
            task = json.loads(nxt.stdout)
            assert task["project_id"] == project and task["item"]["text"]
            result = cli(email, "annotate", "answer", task["id"], truth[task["record_id"]], "--seconds", "3.5", "--project", project)
            assert result.exit_code == 0 and "Answered" in result.output, result.output
            answered += 1
    assert answered == 6
    for email in (OWNER, OUTSIDER):
        done = cli(email, "annotate", "next", project)
        assert done.exit_code == 0 and done.stdout == "" and "Nothing is left" in done.output

    workers = cli(OWNER, "annotate", "workers", project)
    assert workers.exit_code == 0 and OWNER in workers.output and OUTSIDER in workers.output and "gold accuracy" in workers.output
    assert [w["answers"] for w in json.loads(cli(OWNER, "annotate", "workers", project, "--json").stdout)] == [3, 3]
    refused = cli(OUTSIDER, "annotate", "workers", project)
    assert refused.exit_code == 4, refused.output

    queued = cli(OWNER, "annotate", "aggregate", project)
    assert queued.exit_code == 0 and "annotation.aggregate" in queued.output and "Not waiting" in queued.output, queued.output
    assert WorkerLoop(runtime, "cli-annotation").run_one()
    results = json.loads(cli(OWNER, "annotate", "results", project, "--json").stdout)
    assert {r["record_id"]: r["value"] for r in results} == truth
    table = cli(OWNER, "annotate", "results", project)
    assert table.exit_code == 0 and "1.000" in table.output

    record = sorted(truth)[0]
    flipped = "negative" if truth[record] == "positive" else "positive"
    both = cli(OWNER, "annotate", "review", project, record, "--accept", "--reject")
    assert both.exit_code == 2 and "exactly one" in both.output
    unknown = cli(OWNER, "annotate", "review", project, record, "--correct", "neutral")
    assert unknown.exit_code == 2 and "unknown label 'neutral'" in unknown.output
    corrected = cli(OWNER, "annotate", "review", project, record, "--correct", flipped, "--comment", "sarcasm")
    assert corrected.exit_code == 0 and "corrected" in corrected.output, corrected.output
    reviewed = json.loads(cli(OWNER, "annotate", "results", project, "--review", "corrected", "--json").stdout)
    assert [(r["record_id"], r["final_value"]) for r in reviewed] == [(record, flipped)]

    published = cli(OWNER, "annotate", "publish", project)
    assert published.exit_code == 0 and "Published version 2" in published.output, published.output
    version = json.loads(cli(OWNER, "data", "show", "reviews", "--json").stdout)
    assert version["number"] == 2 and version["operation"] == "annotate" and version["parameters"]["project_id"] == project


def test_create_from_options_follow_the_aggregation_and_refusals(cli, runtime, truth, tmp_path):
    gold_record = sorted(truth)[0]
    (tmp_path / "gold.json").write_text(json.dumps({gold_record: truth[gold_record]}), encoding="utf-8")
    created = cli(OWNER, "annotate", "create", "quick", "--dataset", "reviews", "--kind", "single", "-l", "positive", "-l", "negative",
                  "--gold", str(tmp_path / "gold.json"), "--gold-rate", "0.2", "--overlap", "1", "--max-overlap", "1", "--fixed",
                  "--method", "wawa", "--visibility", "private")
    assert created.exit_code == 0, created.output
    project = _project_id(created.output)
    assert "0/5 items done" in created.output  # the gold item is not counted among the items to label
    assert project not in cli(OUTSIDER, "annotate", "list").output  # private
    hidden = cli(OUTSIDER, "annotate", "join", project)
    assert hidden.exit_code == 3 and "No annotation" in hidden.output, hidden.output

    assert cli(OWNER, "annotate", "join", project).exit_code == 0
    task = json.loads(cli(OWNER, "annotate", "next", project).stdout)
    bad = cli(OWNER, "annotate", "answer", task["id"], "neutral")
    assert bad.exit_code == 2 and "unknown label 'neutral'" in bad.output
    wrong_shape = cli(OWNER, "annotate", "answer", task["id"], '["positive"')
    assert wrong_shape.exit_code == 2 and "looks like JSON" in wrong_shape.output
    stolen = cli(OUTSIDER, "annotate", "answer", task["id"], "positive")
    assert stolen.exit_code == 3, stolen.output  # another org's private project: not even there
    assert cli(OWNER, "annotate", "answer", task["id"], truth[task["record_id"]]).exit_code == 0

    loop, stop = WorkerLoop(runtime, "cli-annotation-live"), threading.Event()
    loop.announce()  # counted as a live executor from now on
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        followed = cli(OWNER, "annotate", "aggregate", project)  # the progress bar follows the job to its end
    finally:
        stop.set()
        thread.join(10)
    assert followed.exit_code == 0 and "succeeded" in followed.output and "100.0%" in followed.output, followed.output

    closed = cli(OWNER, "annotate", "update", project, "--status", "closed", "--guidelines", "Paused.")
    assert closed.exit_code == 0 and "closed" in closed.output, closed.output
    refused = cli(OWNER, "annotate", "next", project)
    assert refused.exit_code == 5 and "closed" in refused.output

    for args, code, message in [
        (("annotate", "create", "x", "--kind", "single", "-l", "a"), 2, "--dataset"),
        (("annotate", "create", "x", "--dataset", "reviews@x", "--kind", "single", "-l", "a"), 2, "DATASET@N"),
        (("annotate", "create", "x", "--dataset", "reviews", "--kind", "colour", "-l", "a"), 2, "kind"),
        (("annotate", "create", "--spec", str(tmp_path / "none.yaml")), 2, "No spec file"),
        (("annotate", "create", "x", "--dataset", "reviews", "--kind", "single", "-l", "a", "--method", "best"), 2, "method"),
        (("annotate", "show", "anp_nope"), 3, "anp_nope"),
    ]:
        result = cli(OWNER, *args)
        assert result.exit_code == code, (args, result.output)
        assert message in result.output, (args, result.output)


@pytest.mark.no_database
@pytest.mark.parametrize(
    ("typed", "value"),
    [("positive", "positive"), ("1", "1"), ('["a", "b"]', ["a", "b"]), ('[[0, 5, "PER"]]', [[0, 5, "PER"]]), ('"[odd]"', "[odd]")],
)
def test_answer_values_are_labels_or_json(typed, value):
    assert parse_value(typed) == value
