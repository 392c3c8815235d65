"""The making-models pages: a new model, training a version on a dataset version, uploading one and
compressing one. Each form calls the API's own service (the job queued with the typed parameters,
a training job run here to the version it makes), refuses bad input next to the field storing
nothing, and is the model's writers' alone: 404 for another org's private model, 403 for a model
the visitor may only read."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import skops.io as sio
from consolekit import csrf_of
from sklearn.linear_model import LogisticRegression
from support import assert_db_unchanged, db_state

from aicommons import data, models
from aicommons.core import jobs
from aicommons.core.schemas import Visibility


@pytest.fixture
def model(runtime, world):
    """Org A's private tabular classifier with no versions yet."""
    with runtime.session() as session:
        return models.create_model(
            session,
            world.a_member.actor,
            models.ModelCreate(name="flower-classifier", task="tabular-classification"),
        )


@pytest.fixture(scope="module")
def skops_bytes() -> bytes:
    x = np.array([[0, 0, 0], [1, 1, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
    return sio.dumps(LogisticRegression().fit(x, [0, 1, 0, 1]))


def _job(runtime, world, job_id: str):
    with runtime.session() as session:
        return jobs.get_job(session, world.a_member.actor, job_id)


def _versions(runtime, world, model_id: str):
    with runtime.session() as session:
        return models.list_versions(session, world.a_member.actor, model_id)


# --- a new model ------------------------------------------------------------------------------


def test_a_member_creates_a_model_and_lands_on_its_page(console, runtime, world):
    client = console("member@a.test")
    form = client.get("/models/new")  # matched before /models/{model_id}
    assert (
        form.status_code == 200
        and 'action="/models/new"' in form.text
        and "<h1>新建模型</h1>" in form.text
    )
    created = client.post(
        "/models/new",
        data={
            "csrf_token": csrf_of(form.text),
            "name": "iris-classifier",
            "name_zh": "鸢尾花分类",
            "task": "tabular-classification",
            "visibility": "public",
            "licence": "Apache-2.0",
            "description": "Classifies flowers.",
            "tags": "flowers，botany, flowers",
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    with runtime.session() as session:
        found = models.find_model(session, world.a_member.actor, "iris-classifier")
    assert created.headers["location"] == f"/models/{found.id}"
    assert (found.task, found.visibility, found.licence, found.name_zh) == (
        "tabular-classification",
        "public",
        "Apache-2.0",
        "鸢尾花分类",
    )
    assert found.tags == ["botany", "flowers"] and found.org_id == world.org_a
    assert "iris-classifier" in client.get(created.headers["location"]).text


def test_the_new_model_form_refuses_bad_input_keeping_what_was_typed(
    console, runtime, model
):
    client = console("member@a.test")
    token = csrf_of(client.get("/models/new").text)
    before = db_state(runtime)
    typed = {
        "csrf_token": token,
        "name": "  ",
        "task": "telepathy",
        "visibility": "secret",
        "licence": "L" * 101,
        "description": "kept text",
        "tags": ",".join(f"t{i}" for i in range(31)),
    }
    refused = client.post("/models/new", data=typed)
    assert refused.status_code == 422
    for field in ("name", "task", "visibility", "licence", "tags"):
        assert (
            f'id="{field}-error"' in refused.text and f'id="{field}" ' in refused.text
        )
    assert 'aria-invalid="true" aria-describedby="name-error"' in refused.text
    assert (
        "名称须为 1 到 100 个字符" in refused.text
        and ">kept text</textarea>" in refused.text
        and "t29,t30" in refused.text
    )
    taken = client.post(
        "/models/new",
        data={
            "csrf_token": token,
            "name": "Flower-Classifier",
            "task": "tabular-classification",
            "visibility": "private",
        },
    )
    assert (
        taken.status_code == 422
        and 'id="name-error"' in taken.text
        and "本机构已有同名模型" in taken.text
    )
    assert_db_unchanged(before, db_state(runtime))
    # A form without its token is refused too, storing nothing.
    assert (
        client.post(
            "/models/new", data={"name": "no-token", "task": "tabular-classification"}
        ).status_code
        == 403
    )
    assert_db_unchanged(before, db_state(runtime))


def test_signing_in_comes_before_the_new_model_form(anonymous):
    response = anonymous.get("/models/new", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/sign-in"
    )


# --- training ---------------------------------------------------------------------------------


def test_the_training_form_queues_the_job_whose_run_makes_the_next_version(
    console, runtime, world, kit, flowers, model
):
    dataset, version = flowers
    kit.dataset(
        "reviews", modality="text"
    )  # a text dataset does not fit a tabular model
    client = console("member@a.test")
    page = client.get(f"/models/{model.id}/train").text
    assert f'<option value="{dataset.id}@1">flowers v1</option>' in page
    assert (
        'value="tabular-logistic"' in page
        and 'value="tabular-lightgbm"' in page
        and "text-tfidf" not in page
    )
    assert "reviews" not in page
    response = client.post(
        f"/models/{model.id}/train",
        data={
            "csrf_token": csrf_of(page),
            "dataset_version": f"{dataset.id}@1",
            "recipe": "tabular-logistic",
            "seed": "3",
            "params": "C = 0.5\n\nnote=first try\n",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/jobs/"
    )
    job = _job(runtime, world, response.headers["location"].rsplit("/", 1)[1])
    assert job.type == "models.train"
    assert job.params == {
        "model_id": model.id,
        "dataset_version_id": version.id,
        "recipe": "tabular-logistic",
        "seed": 3,
        "params": {"C": 0.5, "note": "first try"},
    }
    assert client.get(response.headers["location"]).status_code == 200
    finished = kit.run(job)
    assert finished.status == "succeeded", finished.error
    [trained] = _versions(runtime, world, model.id)
    assert (trained.number, trained.operation, trained.dataset_version_ids) == (
        1,
        "train",
        [version.id],
    )
    assert (
        trained.parameters["recipe"] == "tabular-logistic"
        and "accuracy" in trained.metrics
    )
    assert (
        f'href="/models/{model.id}?version=1"' in client.get(f"/models/{model.id}").text
    )
    # The finished job's page leads to the version it made.
    job_page = client.get(response.headers["location"]).text
    assert f'<a class="button" href="/models/{model.id}?version=1">查看产出</a>' in job_page


def test_the_training_form_refuses_bad_input_and_queues_nothing(
    console, runtime, world, kit, flowers, model
):
    dataset, _version = flowers
    with (
        runtime.session() as session
    ):  # org B's private dataset: never offered, never accepted
        theirs = data.create_dataset(
            session,
            world.b_member.actor,
            data.DatasetCreate(name="secret", modality="tabular"),
        )
    client = console("member@a.test")
    page = client.get(f"/models/{model.id}/train").text
    assert "secret" not in page
    before = db_state(runtime)
    for choice in (
        "nonsense",
        f"{theirs.id}@1",
        f"{dataset.id}@7",
        f"{dataset.id}@99999999999",
    ):
        refused = client.post(
            f"/models/{model.id}/train",
            data={
                "csrf_token": csrf_of(page),
                "dataset_version": choice,
                "recipe": "tabular-logistic",
                "seed": "0",
            },
        )
        assert (
            refused.status_code == 422 and 'id="dataset_version-error"' in refused.text
        ), choice
    refused = client.post(
        f"/models/{model.id}/train",
        data={
            "csrf_token": csrf_of(page),
            "dataset_version": f"{dataset.id}@1",
            "recipe": "text-tfidf",
            "seed": "-1",
            "params": "C=1\nno equals sign",
        },
    )
    assert refused.status_code == 422
    for field in ("recipe", "seed", "params"):
        assert f'id="{field}-error"' in refused.text, field
    assert "no equals sign</textarea>" in refused.text and 'value="-1"' in refused.text
    assert f'<option value="{dataset.id}@1" selected>' in refused.text
    assert_db_unchanged(before, db_state(runtime))


def test_a_model_no_recipe_trains_points_to_the_upload(console, runtime, world):
    with runtime.session() as session:
        detector = models.create_model(
            session,
            world.a_member.actor,
            models.ModelCreate(name="detector", task="object-detection"),
        )
    page = console("member@a.test").get(f"/models/{detector.id}/train").text
    assert (
        f'href="/models/{detector.id}/upload"' in page
        and 'action="/models/{detector.id}/train"' not in page
    )


# --- uploading --------------------------------------------------------------------------------


def test_uploading_a_skops_file_makes_the_next_version(
    console, runtime, world, flowers, model, skops_bytes
):
    dataset, version = flowers
    client = console("member@a.test")
    page = client.get(f"/models/{model.id}/upload").text
    assert 'enctype="multipart/form-data"' in page and f'value="{dataset.id}@1"' in page
    response = client.post(
        f"/models/{model.id}/upload",
        data={
            "csrf_token": csrf_of(page),
            "classes": "setosa\n virginica \n",
            "dataset_version": f"{dataset.id}@1",
        },
        files={"file": ("flowers.skops", skops_bytes, "application/octet-stream")},
        follow_redirects=False,
    )
    assert (
        response.status_code == 303
        and response.headers["location"] == f"/models/{model.id}?version=1"
    )
    [uploaded] = _versions(runtime, world, model.id)
    assert (
        uploaded.operation,
        uploaded.source_format,
        uploaded.dataset_version_ids,
    ) == ("upload", "skops", [version.id])
    assert uploaded.details["classes"] == [
        "setosa",
        "virginica",
    ] and uploaded.parameters == {"filename": "flowers.skops"}


def test_the_upload_form_refuses_pickles_and_missing_files_storing_nothing(
    console, runtime, model
):
    client = console("member@a.test")
    page = client.get(f"/models/{model.id}/upload").text
    before = db_state(runtime)
    pickled = client.post(
        f"/models/{model.id}/upload",
        data={"csrf_token": csrf_of(page), "classes": "a\nb"},
        files={
            "file": (
                "model.pkl",
                pickle.dumps(LogisticRegression()),
                "application/octet-stream",
            )
        },
    )
    assert (
        pickled.status_code == 422
        and 'id="file-error"' in pickled.text
        and "pickle" in pickled.text
    )
    assert (
        'aria-describedby="file-error"' in pickled.text
        and ">a\nb</textarea>" in pickled.text
    )
    missing = client.post(
        f"/models/{model.id}/upload",
        data={"csrf_token": csrf_of(page), "dataset_version": "elsewhere@1"},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert (
        missing.status_code == 422
        and 'id="file-error"' in missing.text
        and 'id="dataset_version-error"' in missing.text
    )
    assert_db_unchanged(before, db_state(runtime))


# --- compression ------------------------------------------------------------------------------


@pytest.fixture
def uploaded(runtime, world, model, skops_bytes):
    """Version 1 of the model: an uploaded skops classifier that records no training data."""
    import io

    with runtime.session() as session:
        return models.upload_version(
            session,
            runtime.blobs,
            world.a_member.actor,
            model.id,
            io.BytesIO(skops_bytes),
            "m.skops",
            models.VersionMeta(),
        )


def test_the_compression_form_queues_the_job_with_the_chosen_method(
    console, runtime, world, flowers, model, uploaded
):
    dataset, version = flowers
    client = console("member@a.test")
    page = client.get(f"/models/{model.id}/versions/1/compress").text
    for method in ("int8-dynamic", "int8-static", "prune", "distil"):
        assert f'value="{method}"' in page
    response = client.post(
        f"/models/{model.id}/versions/1/compress",
        data={
            "csrf_token": csrf_of(page),
            "method": "int8-static",
            "dataset_version": f"{dataset.id}@1",
            "calibration_records": "16",
            "sparsity": "0.5",
            "fine_tune_epochs": "5",
            "student": "small-cnn",
            "temperature": "4",
            "alpha": "0.7",
            "epochs": "30",
            "seed": "",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/jobs/"
    )
    job = _job(runtime, world, response.headers["location"].rsplit("/", 1)[1])
    assert job.type == "models.compress"
    assert {
        k: job.params[k]
        for k in (
            "version_id",
            "method",
            "dataset_version_id",
            "calibration_records",
            "seed",
        )
    } == {
        "version_id": uploaded.id,
        "method": "int8-static",
        "dataset_version_id": version.id,
        "calibration_records": 16,
        "seed": None,
    }


def test_the_compression_form_refuses_bad_input_and_methods_that_do_not_fit(
    console, runtime, flowers, model, uploaded
):
    dataset, _version = flowers
    client = console("member@a.test")
    page = client.get(f"/models/{model.id}/versions/1/compress").text
    token = csrf_of(page)
    before = db_state(runtime)
    refused = client.post(
        f"/models/{model.id}/versions/1/compress",
        data={
            "csrf_token": token,
            "method": "zip",
            "calibration_records": "3",
            "sparsity": "2",
            "fine_tune_epochs": "x",
            "student": "small-cnn",
            "temperature": "0",
            "alpha": "1.5",
            "epochs": "0",
            "seed": "-4",
        },
    )
    assert refused.status_code == 422
    for field in (
        "method",
        "calibration_records",
        "sparsity",
        "fine_tune_epochs",
        "temperature",
        "alpha",
        "epochs",
        "seed",
    ):
        assert f'id="{field}-error"' in refused.text, field
    assert 'id="sparsity" name="sparsity" inputmode="decimal" value="2"' in refused.text
    # The hub's own refusals: static int8 needs data this version does not record; pruning needs torch weights.
    for method, chosen, words in (
        ("int8-static", "", "needs data"),
        (
            "prune",
            f"{dataset.id}@1",
            "Pruning needs a version trained by a torch recipe",
        ),
    ):
        typed = {
            "csrf_token": token,
            "method": method,
            "dataset_version": chosen,
            "calibration_records": "256",
            "sparsity": "0.5",
            "fine_tune_epochs": "5",
            "student": "small-cnn",
            "temperature": "4",
            "alpha": "0.7",
            "epochs": "30",
        }
        refusal = client.post(f"/models/{model.id}/versions/1/compress", data=typed)
        assert (
            refusal.status_code == 422
            and 'id="method-error"' in refusal.text
            and words in refusal.text
        ), method
    assert_db_unchanged(before, db_state(runtime))
    assert client.get(f"/models/{model.id}/versions/9/compress").status_code == 404


# --- who gets the forms ---------------------------------------------------------------------


def test_another_orgs_private_model_is_404_and_a_readable_one_403(
    console, runtime, world, model, uploaded
):
    outsider = console("member@b.test")
    token = csrf_of(outsider.get("/models/new").text)
    paths = (
        f"/models/{model.id}/train",
        f"/models/{model.id}/upload",
        f"/models/{model.id}/versions/1/compress",
    )
    before = db_state(runtime)
    for path in paths:
        assert outsider.get(path).status_code == 404, path
        assert (
            outsider.post(
                path, data={"csrf_token": token, "method": "int8-dynamic"}
            ).status_code
            == 404
        ), path
    assert_db_unchanged(before, db_state(runtime))
    with runtime.session() as session:
        models.update_model(
            session,
            world.a_admin.actor,
            model.id,
            models.ModelUpdate(visibility=Visibility.public),
        )
    before = db_state(runtime)
    for path in paths:
        shown = outsider.get(path)
        assert shown.status_code == 403 and f'action="{path}"' not in shown.text, path
        assert (
            outsider.post(
                path, data={"csrf_token": token, "method": "int8-dynamic"}
            ).status_code
            == 403
        ), path
    assert_db_unchanged(before, db_state(runtime))


def test_the_model_page_offers_the_forms_to_its_writers_only(console, runtime, world, model, uploaded):
    links = (f'href="/models/{model.id}/train"', f'href="/models/{model.id}/upload"', f'href="/models/{model.id}/versions/1/compress"')
    owner_page = console("member@a.test").get(f"/models/{model.id}").text
    assert all(link in owner_page for link in links)
    assert 'href="/models/new"' in console("member@a.test").get("/models").text
    with runtime.session() as session:
        models.update_model(session, world.a_admin.actor, model.id, models.ModelUpdate(visibility=Visibility.public))
    reader_page = console("member@b.test").get(f"/models/{model.id}")
    assert reader_page.status_code == 200 and not any(link in reader_page.text for link in links)
