"""`aicommons data …` against a real home, with jobs run by a worker in this process."""

from __future__ import annotations

import json

import pytest
from datakit import REVIEWS_CSV, png

from aicommons.core.jobs.worker import WorkerLoop


def test_create_import_browse_split_and_diff_from_the_cli(member_cli, runtime, tmp_path):
    (tmp_path / "reviews.csv").write_bytes(REVIEWS_CSV)
    assert member_cli("data", "create", "reviews", "--modality", "text", "--tag", "chinese").exit_code == 0
    submitted = member_cli("data", "import", "reviews", str(tmp_path / "reviews.csv"))
    assert submitted.exit_code == 0 and "Not waiting" in submitted.output  # no executor in this test
    WorkerLoop(runtime, "cli-data").run_one()
    shown = json.loads(member_cli("data", "show", "reviews", "--json").stdout)
    assert shown["number"] == 1 and shown["record_count"] == 6
    lines = member_cli("data", "records", "reviews@1", "--where", "text~书", "--json").stdout.splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["label"] == "positive"
    assert member_cli("data", "split", "reviews", "--seed", "3", "--train", "0.5", "--validation", "0.5", "--test", "0").exit_code == 0
    WorkerLoop(runtime, "cli-data").run_one()
    diff = member_cli("data", "diff", "reviews@1", "reviews@2")
    assert diff.exit_code == 0 and "resplit" in diff.output
    assert "reviews" in member_cli("data", "list", "--tag", "chinese").output


def test_an_image_folder_is_packed_and_imported(member_cli, runtime, tmp_path):
    for label in ("cat", "dog"):
        (tmp_path / "pets" / label).mkdir(parents=True)
        (tmp_path / "pets" / label / "1.png").write_bytes(png())
    member_cli("data", "create", "pets", "--modality", "image")
    assert member_cli("data", "import", "pets", str(tmp_path / "pets")).exit_code == 0
    WorkerLoop(runtime, "cli-data").run_one()
    assert json.loads(member_cli("data", "show", "pets", "--json").stdout)["statistics"]["by_label"] == {"cat": 1, "dog": 1}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["data", "show", "nope"], 3, "No dataset"),
        (["data", "show", "reviews@x"], 2, "DATASET@N"),
        (["data", "import", "reviews", "/no/such/file.csv"], 2, "does not exist"),
        (["data", "records", "reviews", "--where", "oops"], 2, "COLUMN=VALUE"),
        (["data", "split", "reviews", "--train", "0.9"], 2, "add up to 1"),
    ],
)
def test_cli_refusals(member_cli, args, code, message):
    member_cli("data", "create", "reviews", "--modality", "text")
    result = member_cli(*args)
    assert result.exit_code == code, result.output
    assert message in result.output
