"""`aicommons models …` against a real home."""

from __future__ import annotations

import pickle

import skops.io as sio
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression


def test_create_upload_alias_card_and_download(member_cli, tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    sio.dump(LogisticRegression(max_iter=5000).fit(X, y), tmp_path / "m.skops")
    assert member_cli("models", "create", "cancer", "--task", "tabular-classification", "--name-zh", "乳腺癌").exit_code == 0
    uploaded = member_cli("models", "upload", "cancer", str(tmp_path / "m.skops"), "--metrics", '{"accuracy": 0.96}')
    assert uploaded.exit_code == 0, uploaded.output
    assert member_cli("models", "alias", "cancer@1", "production").exit_code == 0
    assert '"number": 1' in member_cli("models", "show", "cancer@production", "--json").stdout
    assert "乳腺癌" in member_cli("models", "card", "cancer@production").stdout
    assert member_cli("models", "download", "cancer@1", "--output", str(tmp_path)).exit_code == 0
    assert (tmp_path / "cancer-v1.onnx").stat().st_size > 100
    assert "production→1" in member_cli("models", "list").output


def test_a_pickle_is_refused_with_a_message_and_exit_code(member_cli, tmp_path):
    (tmp_path / "m.pkl").write_bytes(pickle.dumps({"weights": [1, 2, 3]}))
    member_cli("models", "create", "p", "--task", "tabular-classification")
    result = member_cli("models", "upload", "p", str(tmp_path / "m.pkl"))
    assert result.exit_code == 2 and "pickle" in result.output and "skops" in result.output
