"""`aicommons endpoints …` against a real home: deploy, predict from files, usage, refusals."""

from __future__ import annotations

import json

import numpy as np
import skops.io as sio
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression


def test_deploy_predict_and_read_usage(member_cli, tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    estimator = LogisticRegression(max_iter=5000).fit(X, y)
    sio.dump(estimator, tmp_path / "m.skops")
    assert member_cli("models", "create", "cancer", "--task", "tabular-classification").exit_code == 0
    assert member_cli("models", "upload", "cancer", str(tmp_path / "m.skops")).exit_code == 0
    deployed = member_cli("endpoints", "deploy", "cancer-api", "cancer", "--max-wait-ms", "1")
    assert deployed.exit_code == 0 and "/api/v1/endpoints/cancer-api/predict" in deployed.output

    np.save(tmp_path / "x.npy", X[:3].astype(np.float32))
    result = member_cli("endpoints", "predict", "cancer-api", "--array", str(tmp_path / "x.npy"))
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert [p["label"] for p in body["predictions"]] == estimator.predict(X[:3]).tolist()

    usage = member_cli("endpoints", "usage", "cancer-api")
    assert usage.exit_code == 0 and "3" in usage.output  # the meter flushed on the way out: 3 rows
    assert "cancer-api" in member_cli("endpoints", "list").output

    np.save(tmp_path / "bad.npy", X[:3, :5].astype(np.float32))
    bad = member_cli("endpoints", "predict", "cancer-api", "--array", str(tmp_path / "bad.npy"))
    assert bad.exit_code == 2 and "30" in bad.output
    both = member_cli("endpoints", "predict", "cancer-api", "--text", "hi", "--array", str(tmp_path / "x.npy"))
    assert both.exit_code == 2 and "exactly one" in both.output
    missing = member_cli("endpoints", "predict", "nope", "--text", "hi")
    assert missing.exit_code == 3
    unfiled = member_cli("endpoints", "deploy", "cancer-public", "cancer", "--visibility", "public")
    assert unfiled.exit_code != 0 and "fil" in unfiled.output.lower()  # public needs an approved filing
    assert "cancer-public" not in member_cli("endpoints", "list").output
    made_public = member_cli("endpoints", "update", "cancer-api", "--visibility", "public")
    assert made_public.exit_code != 0
    assert "private" in member_cli("endpoints", "list").output
