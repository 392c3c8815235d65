"""Console fixtures: members with passwords, and signed-in HTTPS test clients (the console's
cookies are Secure, so the clients speak https://testserver); a live server and browser pages; the
data the pages and the browser flows both show (a DataKit, the iris endpoint, a model's hub)."""

from __future__ import annotations

import dataclasses
import io
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
import skops.io as sio
import uvicorn
from consolekit import CHROMIUM, IRIS_FEATURES, IRIS_SPECIES, give_password, sign_in
from datakit import REVIEWS_CSV, DataKit
from fastapi.testclient import TestClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from aicommons import models, serving
from aicommons.core.ids import new_id
from aicommons.models.artifacts import inspect_model_file
from aicommons.models.hub import register_version


@pytest.fixture
def passwords(runtime, world) -> None:
    """member@a.test can sign in with PASSWORD (argon2id is slow by design: one hash, not five)."""
    give_password(runtime, "member@a.test")


@pytest.fixture
def console(runtime, world) -> Iterator[Callable[[str], TestClient]]:
    """`console(email)`: a fresh client signed in as that member of the world, given PASSWORD."""
    from aicommons.api.app import create_app

    app = create_app(runtime)
    clients: list[TestClient] = []

    def signed_in(email: str) -> TestClient:
        give_password(runtime, email)
        client = TestClient(app, base_url="https://testserver")
        client.__enter__()
        clients.append(client)
        response = sign_in(client, email)
        assert response.status_code == 200 and response.url.path == "/", response.text[:500]
        return client

    yield signed_in
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def anonymous(runtime) -> Iterator[TestClient]:
    from aicommons.api.app import create_app

    with TestClient(create_app(runtime), base_url="https://testserver") as client:
        yield client


# --- a real browser against a live server (tests marked `browser`) ---------------------------

@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's headless Chromium under Playwright (browser tests mark themselves `browser` and skip without it)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("console-screenshots")
    print(f"\nconsole screenshots: {folder}")
    return folder


@pytest.fixture
def server(runtime, world) -> Iterator[str]:
    """The platform's app served over HTTP on a free port; `localhost`, where browsers keep Secure cookies."""
    from aicommons.api.app import create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    live = uvicorn.Server(uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=live.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not live.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the console server did not start"
        time.sleep(0.05)
    yield f"http://localhost:{port}"
    live.should_exit = True
    thread.join(10)


@pytest.fixture
def open_page(browser, server) -> Iterator[Callable[..., object]]:
    """`open_page(width, height)`: a page in a browser context of its own (its own cookies, so
    another person, or the same one on another screen), closed after the test."""
    contexts = []

    def opened(width: int = 1280, height: int = 860):
        context = browser.new_context(base_url=server, viewport={"width": width, "height": height})
        contexts.append(context)
        return context.new_page()

    yield opened
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page):
    return open_page()


# --- what the pages and the browser flows show -----------------------------------------------

@pytest.fixture
def kit(runtime, world):
    return DataKit(runtime, world.a_member.actor)


@pytest.fixture
def reviews(kit):
    """Org A's private text dataset with two imported versions (the second has one more review)."""
    dataset = kit.dataset("reviews")
    first = kit.imported(dataset.id, "reviews.csv", REVIEWS_CSV)
    second = kit.imported(dataset.id, "more.csv", REVIEWS_CSV + "新增的一条评论，内容很长,positive\n".encode())
    return dataset, first, second


def _iris_like_csv(rows: int = 40) -> bytes:
    """Three numeric features and two classes a linear model separates: a few seconds' training."""
    lines = ["x1,x2,x3,label"]
    for i in range(rows):
        label = "setosa" if i % 2 == 0 else "virginica"
        lines.append(
            f"{(i % 2) * 2 + (i % 7) / 10:.2f},{(i % 5) / 5:.2f},{i / rows:.3f},{label}"
        )
    return "\n".join(lines).encode()


@pytest.fixture
def flowers(kit):
    """Org A's private tabular dataset with one imported version."""
    dataset = kit.dataset("flowers", modality="tabular")
    return dataset, kit.imported(dataset.id, "flowers.csv", _iris_like_csv())


@pytest.fixture(scope="module")
def iris_skops():
    X, y = load_iris(return_X_y=True)
    return sio.dumps(
        LogisticRegression(max_iter=2000).fit(X.astype(np.float32), IRIS_SPECIES[y])
    )


@pytest.fixture
def iris(runtime, world, iris_skops):
    """A scikit-learn classifier uploaded as skops (served as ONNX) that reads records of four
    named features, deployed as the private endpoint `iris` of org A."""
    actor = world.a_member.actor
    with runtime.session() as session:
        model = models.create_model(
            session,
            actor,
            models.ModelCreate(name="iris", task="tabular-classification"),
        )
        meta = models.VersionMeta(
            preprocessing={"kind": "tabular", "input": "X", "features": IRIS_FEATURES}
        )
        version = models.upload_version(
            session,
            runtime.blobs,
            actor,
            model.id,
            io.BytesIO(iris_skops),
            "iris.skops",
            meta,
        )
        serving.deploy(
            session,
            actor,
            serving.EndpointCreate(name="iris", model_id=model.id, max_wait_ms=1),
        )
    return model, version


@pytest.fixture(scope="module")
def small_skops() -> bytes:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(60, 4)).astype(np.float32)
    return sio.dumps(
        LogisticRegression().fit(features, (features[:, 0] > 0).astype(int))
    )


def _artifact(payload: bytes):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.skops"
        path.write_bytes(payload)
        return inspect_model_file(path)


COMPARISON = {  # what a compression job stores with its child (models.comparison.compare)
    "samples": 60,
    "threads": 1,
    "parent": {
        "size_bytes": 900,
        "latency_ms": {
            "1": {"p50": 0.25, "p95": 0.4, "runs": 50},
            "32": {"p50": 1.5, "p95": 2.0, "runs": 50},
        },
    },
    "child": {
        "size_bytes": 400,
        "latency_ms": {
            "1": {"p50": 0.125, "p95": 0.2, "runs": 50},
            "32": {"p50": 0.75, "p95": 1.0, "runs": 50},
        },
        "cosine_to_parent": 0.999,
        "label_agreement": 1.0,
    },
    "deltas": {
        "size_ratio": 2.25,
        "speedup_b1": 2.0,
        "speedup_b32": 2.0,
        "accuracy_points": -0.5,
    },
}


@pytest.fixture
def hub(runtime, world, kit, small_skops):
    """Org A's model trained (by a job) on its reviews v1, compressed into v2, with an alias and an endpoint."""
    dataset = kit.dataset("reviews")
    trained_on = kit.imported(dataset.id, "reviews.csv", REVIEWS_CSV)
    actor = world.a_member.actor
    artifact = _artifact(small_skops)
    with runtime.session() as session:
        model = models.create_model(
            session,
            actor,
            models.ModelCreate(
                name="sentiment", task="tabular-classification", name_zh="情感"
            ),
        )
        train_job, compress_job = new_id("job"), new_id("job")
        v1 = register_version(
            session,
            runtime.blobs,
            actor,
            model.id,
            artifact,
            operation="train",
            job_id=train_job,
            meta=models.VersionMeta(
                metrics={"accuracy": 0.9, "f1": 0.88},
                dataset_version_ids=[trained_on.id],
            ),
        )
        v2 = register_version(
            session,
            runtime.blobs,
            actor,
            model.id,
            dataclasses.replace(artifact, details={"comparison": COMPARISON}),
            operation="compress.int8-dynamic",
            job_id=compress_job,
            parent_version_id=v1.id,
            meta=models.VersionMeta(metrics={"accuracy": 0.895}),
        )
        models.set_alias(session, actor, model.id, "production", v2.id)
        serving.deploy(
            session,
            actor,
            serving.EndpointCreate(
                name="sentiment-prod", model_id=model.id, version="production"
            ),
        )
    return dataclasses.make_dataclass(
        "Hub",
        ["model", "v1", "v2", "dataset", "trained_on", "train_job", "compress_job"],
    )(model, v1, v2, dataset, trained_on, train_job, compress_job)
