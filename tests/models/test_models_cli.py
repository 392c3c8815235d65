"""`aicommons models …` against a real home."""

from __future__ import annotations

import pickle

import pytest
import skops.io as sio
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from support import cli_env
from typer.testing import CliRunner

from aicommons.cli.main import app


@pytest.fixture
def cli(settings, world):
    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--as", "member@a.test", *args], env=cli_env(settings), catch_exceptions=False)


def test_create_upload_alias_card_and_download(cli, tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    sio.dump(LogisticRegression(max_iter=5000).fit(X, y), tmp_path / "m.skops")
    assert cli("models", "create", "cancer", "--task", "tabular-classification", "--name-zh", "乳腺癌").exit_code == 0
    uploaded = cli("models", "upload", "cancer", str(tmp_path / "m.skops"), "--metrics", '{"accuracy": 0.96}')
    assert uploaded.exit_code == 0, uploaded.output
    assert cli("models", "alias", "cancer@1", "production").exit_code == 0
    assert '"number": 1' in cli("models", "show", "cancer@production", "--json").stdout
    assert "乳腺癌" in cli("models", "card", "cancer@production").stdout
    assert cli("models", "download", "cancer@1", "--output", str(tmp_path)).exit_code == 0
    assert (tmp_path / "cancer-v1.onnx").stat().st_size > 100
    assert "production→1" in cli("models", "list").output


def test_a_pickle_is_refused_with_a_message_and_exit_code(cli, tmp_path):
    (tmp_path / "m.pkl").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    cli("models", "create", "p", "--task", "tabular-classification")
    result = cli("models", "upload", "p", str(tmp_path / "m.pkl"))
    assert result.exit_code == 2 and "pickle" in result.output and "skops" in result.output
