"""The serving pages: the endpoints list and the deploy form, an endpoint's page with its model
version, settings, metered usage and latency charts, and the "try it" form answering with real
ONNX Runtime predictions (tabular, text and image models); bad input refused next to the field;
another org's private endpoint a 404; a list whose statement count does not grow with endpoints."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import numpy as np
import onnxruntime as ort
import pytest
import sqlalchemy as sa
from consolekit import IRIS_FEATURES, IRIS_SPECIES, counted_page, csrf_of
from datakit import DataKit
from PIL import Image
from sklearn.datasets import load_digits
from support import assert_db_unchanged, db_state

from aicommons import models, serving
from aicommons.console.locales import Translator
from aicommons.core.db import utcnow
from aicommons.core.ids import new_id
from aicommons.data.builtin_datasets import chinese_reviews
from aicommons.data.manifest import Record, build_table
from aicommons.data.versions import write_version
from aicommons.serving.endpoints import UsageDelta, record_usage
from aicommons.serving.tables import Endpoint

ZH = Translator("zh_CN")


def _onnx_probabilities(runtime, version, rows):
    session = ort.InferenceSession(runtime.blobs.read_bytes(version.onnx_sha256))
    outputs = session.run(None, {"X": np.asarray(rows, dtype=np.float32)})
    return next(o for o in outputs if o.dtype.kind == "f")


def _try(client, name, page, **fields):
    files = fields.pop("files", None)
    return client.post(
        f"/endpoints/{name}/try",
        data={"csrf_token": csrf_of(page), **fields},
        files=files,
    )


def test_the_endpoint_page_shows_its_version_settings_and_a_tabular_form(
    console, world, iris
):
    model, version = iris
    client = console("member@a.test")
    listed = client.get("/endpoints").text
    assert "<h1>推理服务</h1>" in listed
    assert 'href="/endpoints/iris"' in listed and "运行中" in listed
    page = client.get("/endpoints/iris").text
    assert f'href="/models/{model.id}?version={version.number}"' in page
    assert "POST /api/v1/endpoints/iris/predict" in page
    # A tabular model: a JSON form pre-filled with a record of its features.
    assert 'name="features"' in page and "sepal_length" in page
    assert "&#34;petal_width&#34;: 0" in page
    assert "尚无计量的调用" in page and "服务器启动以来尚无调用" in page


def test_try_it_answers_with_the_models_own_probabilities(
    console, runtime, world, iris
):
    _, version = iris
    client = console("member@a.test")
    page = client.get("/endpoints/iris").text
    flower = [6.7, 3.0, 5.2, 2.3]
    record = dict(zip(IRIS_FEATURES, flower, strict=True))
    import json

    answered = _try(client, "iris", page, features=json.dumps(record))
    assert answered.status_code == 200, answered.text[-2000:]
    expected = _onnx_probabilities(runtime, version, [flower])[0]
    label = IRIS_SPECIES[int(np.argmax(expected))]
    html = answered.text
    assert 'id="try-result"' in html
    assert f'<strong class="predicted-label">{label}</strong>' in html
    assert f"({ZH.percent(expected.max())})" in html
    for name, p in zip(
        IRIS_SPECIES, expected, strict=True
    ):  # every class in the chart, with its probability
        assert f"<title>{name}: {ZH.percent(p)}</title>" in html
    assert version.id in html  # the version that answered
    # What was typed is kept.
    assert "6.7" in html

    # The call was metered and timed by the same engine the API uses.
    client.app.state.serving.meter.flush()
    after = client.get("/endpoints/iris").text
    assert "（你的组织）" in after or "(你的组织)" in after
    assert 'id="latency-p50"' in after and "服务器启动以来的请求" in after
    with runtime.session() as session:
        hours = serving.hourly_usage(session, world.a_member.actor, "iris", hours=3)
    assert [h.calls for h in hours] == [0, 0, 1] and hours[-1].rows == 1


def test_bad_try_it_input_is_refused_next_to_the_field(console, runtime, world, iris):
    client = console("member@a.test")
    page = client.get("/endpoints/iris").text
    cases = [
        ("", "请以 JSON 填写输入"),
        ("{not json", "不是 JSON"),
        ("42", "JSON 对象"),
        ('{"sepal_length": 1}', "sepal_width"),  # refused by the model's preprocessing
        (
            '{"sepal_length": "long", "sepal_width": 1, "petal_length": 1, "petal_width": 1}',
            "sepal_length",
        ),
    ]
    # Refusals by the model are metered as errors, as for the API; the form's own refusals are not.
    before = db_state(runtime)
    for typed, needle in cases:
        refused = _try(client, "iris", page, features=typed)
        assert refused.status_code == 422, (typed, refused.text[-1500:])
        error = re.search(
            r'<p id="try-features-error" class="field-error" role="alert">([^<]*)</p>',
            refused.text,
        )
        assert error and needle in error.group(1), (typed, error and error.group(1))
        field = re.search(r'<textarea id="try-features"[^>]*>', refused.text).group(0)
        assert 'aria-invalid="true"' in field and "try-features-error" in field
        assert 'id="try-result"' not in refused.text
        if typed:
            assert typed.replace('"', "&#34;") in refused.text  # what was typed is kept
    after = db_state(runtime)
    before.pop("endpoint_usage", None), after.pop("endpoint_usage", None)
    assert_db_unchanged(before, after)


def _trained(kit, name, task, table, recipe, **params):
    with kit.runtime.session() as session:
        dataset = kit.dataset(name, "image" if task.startswith("image") else "text")
        dataset_version = write_version(
            session,
            kit.runtime.blobs,
            kit.actor,
            dataset.id,
            table,
            operation="builtin",
            parameters={},
        )
        model = models.create_model(
            session, kit.actor, models.ModelCreate(name=name, task=task)
        )
        job = models.start_training(
            session,
            kit.actor,
            model.id,
            models.TrainParams(
                dataset_version_id=dataset_version.id, recipe=recipe, params=params
            ),
        )
    done = kit.run(job)
    assert done.status == "succeeded", done.error
    with kit.runtime.session() as session:
        serving.deploy(
            session,
            kit.actor,
            serving.EndpointCreate(name=f"{name}-api", model_id=model.id),
        )


def _digit_records(blobs, count):
    """The first `count` of scikit-learn's 8×8 digits as image records (the built-in set stores all 1,797)."""
    images, targets = load_digits(return_X_y=True)
    return [
        Record(
            fields={"width": 8, "height": 8},
            label=str(target),
            file_sha256=blobs.put_bytes(_png(pixels.reshape(8, 8))).sha256,
            file_name=f"{target}/{index:04d}.png",
        )
        for index, (pixels, target) in enumerate(
            zip(images[:count], targets[:count], strict=True)
        )
    ]


def _png(pixels):
    buffer = io.BytesIO()
    Image.fromarray(np.uint8(pixels * 255 / 16), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def test_try_it_takes_sentences_for_text_models_and_an_upload_for_image_models(
    console, runtime, world
):
    kit = DataKit(runtime, world.a_member.actor)
    records = chinese_reviews(runtime.blobs)
    chosen = np.random.default_rng(0).choice(len(records), 300, replace=False)
    _trained(
        kit,
        "sentiment",
        "text-classification",
        build_table([records[i] for i in sorted(chosen)]),
        "text-tfidf",
    )
    _trained(
        kit,
        "digits",
        "image-classification",
        build_table(_digit_records(runtime.blobs, 300)),
        "image-cnn",
        epochs=2,
    )
    client = console("member@a.test")

    text_page = client.get("/endpoints/sentiment-api").text
    assert '<textarea id="try-text" name="text"' in text_page
    answered = _try(
        client,
        "sentiment-api",
        text_page,
        text="质量很好，非常满意\n太差了，完全不能用，退货\n",
    )
    assert answered.status_code == 200, answered.text[-1500:]
    labels = re.findall(
        r'<strong class="predicted-label">([^<]+)</strong>', answered.text
    )
    assert len(labels) == 2 and set(labels) <= {"positive", "negative"}
    assert "<title>positive: " in answered.text and "<title>negative: " in answered.text
    empty = _try(client, "sentiment-api", text_page, text="  \n ")
    assert (
        empty.status_code == 422
        and 'id="try-text-error"' in empty.text
        and "请至少输入一句" in empty.text
    )

    image_page = client.get("/endpoints/digits-api").text
    assert 'type="file"' in image_page and 'enctype="multipart/form-data"' in image_page
    images, _ = load_digits(return_X_y=True)
    answered = _try(
        client,
        "digits-api",
        image_page,
        files={"image": ("digit.png", _png(images[0].reshape(8, 8)), "image/png")},
    )
    assert answered.status_code == 200, answered.text[-1500:]
    labels = re.findall(
        r'<strong class="predicted-label">([^<]+)</strong>', answered.text
    )
    assert len(labels) == 1 and labels[0] in {str(d) for d in range(10)}
    assert answered.text.count("<title>") >= 10  # ten digits' probabilities
    missing = _try(client, "digits-api", image_page)
    assert (
        missing.status_code == 422
        and 'id="try-image-error"' in missing.text
        and "请选择图像文件" in missing.text
    )
    not_an_image = _try(
        client,
        "digits-api",
        image_page,
        files={"image": ("x.png", b"not an image", "image/png")},
    )
    assert (
        not_an_image.status_code == 422
        and "Pillow" in not_an_image.text
        and 'id="try-image-error"' in not_an_image.text
    )


def test_another_orgs_private_endpoint_is_not_found(console, runtime, world, iris):
    other = console("member@b.test")
    listed = other.get("/endpoints").text
    assert 'href="/endpoints/iris"' not in listed
    assert other.get("/endpoints/iris").status_code == 404
    refused = other.post(
        "/endpoints/iris/try", data={"csrf_token": csrf_of(listed), "features": "{}"}
    )
    assert refused.status_code == 404
    assert other.get("/endpoints/no-such-endpoint").status_code == 404


def test_the_deploy_form_deploys_and_refuses_bad_input_next_to_the_field(
    console, runtime, world, iris
):
    model, _ = iris
    client = console("member@a.test")
    page = client.get("/endpoints").text
    assert f'<option value="{model.id}"' in page

    def deploy(**fields):
        form = {
            "csrf_token": csrf_of(page),
            "model_id": model.id,
            "version": "1",
            "max_batch_size": "16",
            "max_wait_ms": "2",
            **fields,
        }
        return client.post("/endpoints", data=form)

    before = db_state(runtime)
    refusals = [
        ({"name": "Bad Name!"}, "name", "小写字母"),
        ({"name": "ok-name", "max_batch_size": "many"}, "max_batch_size", "1 到 1,024"),
        ({"name": "ok-name", "max_wait_ms": "500"}, "max_wait_ms", "200"),
        ({"name": "iris"}, "name", "已被占用"),
        ({"name": "ok-name", "version": "9"}, "version", "“9”"),
        ({"name": "ok-name", "version": "no such!"}, "version", "别名"),
    ]
    for fields, field, needle in refusals:
        refused = deploy(**fields)
        assert refused.status_code == 422, (fields, refused.text[-1500:])
        error = re.search(
            rf'<p id="deploy-{field}-error" class="field-error" role="alert">([^<]*)</p>',
            refused.text,
        )
        assert error and needle in error.group(1), (fields, error and error.group(1))
        for value in fields.values():
            assert f'value="{value}"' in refused.text  # what was typed is kept
    assert_db_unchanged(before, db_state(runtime))

    deployed = deploy(name="iris-batch")
    assert deployed.status_code == 200 and deployed.url.path == "/endpoints/iris-batch"
    with runtime.session() as session:
        endpoint = serving.get_endpoint(session, world.a_member.actor, "iris-batch")
    assert (
        endpoint.version_ref == "1"
        and endpoint.max_batch_size == 16
        and endpoint.max_wait_ms == 2
    )
    assert endpoint.org_id == world.org_a and endpoint.visibility == "private"


def test_usage_charts_sum_the_metered_minutes_by_hour(console, runtime, world, iris):
    with runtime.session() as session:
        endpoint = serving.get_endpoint(session, world.a_member.actor, "iris")
        now = utcnow().replace(second=0, microsecond=0)
        record_usage(
            session,
            [
                UsageDelta(
                    endpoint.id, world.org_a, now, calls=4, rows=8, compute_seconds=0.02
                ),
                UsageDelta(endpoint.id, world.org_b, now, calls=1, rows=1, errors=1),
                UsageDelta(
                    endpoint.id,
                    world.org_a,
                    now - timedelta(hours=2),
                    calls=10,
                    rows=10,
                    compute_seconds=0.05,
                ),
                UsageDelta(
                    endpoint.id,
                    world.org_a,
                    now - timedelta(hours=30),
                    calls=99,
                    rows=99,
                ),
            ],
        )
    with runtime.session() as session:
        hours = serving.hourly_usage(session, world.a_member.actor, "iris")
    assert (
        len(hours) == 24
        and hours[-1].calls == 5
        and hours[-1].errors == 1
        and hours[-3].calls == 10
    )
    assert sum(h.calls for h in hours) == 15  # 30 hours ago is outside the day
    assert (
        hours[-3].compute_ms_per_call == pytest.approx(5.0)
        and hours[-2].compute_ms_per_call is None
    )
    page = console("member@a.test").get("/endpoints/iris").text
    assert "每小时调用次数" in page and page.count('<svg class="chart"') >= 2
    assert re.search(r"<td>113</td>", page)  # org A's calls: 4 + 10 + 99
    with runtime.session() as session, pytest.raises(Exception, match="hours"):
        serving.hourly_usage(session, world.a_member.actor, "iris", hours=0)


def test_the_list_keeps_a_bounded_statement_count_with_many_endpoints(
    console, runtime, world, iris
):
    model, _ = iris
    client = console("member@a.test")

    _, few, _ = counted_page(client, runtime.engine, "/endpoints")
    now = utcnow()
    rows = [
        {
            "id": new_id("ept"),
            "name": f"bulk-{i:05d}",
            "org_id": world.org_a,
            "model_id": model.id,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(10_000)
    ]
    with runtime.session() as session:
        session.execute(sa.insert(Endpoint), rows)
    page, many, elapsed = counted_page(client, runtime.engine, "/endpoints")
    assert many == few <= 8
    assert page.count('<a href="/endpoints/bulk-') == 50 and 'rel="next"' in page
    assert elapsed < 0.3, f"the endpoints page took {elapsed * 1000:.0f} ms"
    print(
        f"\nendpoints page over 10,000 rows: {elapsed * 1000:.1f} ms, {many} SQL statements"
    )


def test_messages_outside_templates_and_routes_have_chinese():
    """The try-it form's refusals, the deploy form's rules and the charts' words, which the
    catalogue-wide check (it reads templates and routes) does not see."""
    from pathlib import Path

    from aicommons.console import serving_charts, serving_tryit
    from aicommons.console.routes.serving import DEPLOY_RULES

    refusal = re.compile(r'TryRefused\(\s*"?\w+"?,\s*"((?:[^"\\]|\\.)+)"')
    literal = re.compile(r'\b_\("((?:[^"\\]|\\.)+)"')
    messages = set(refusal.findall(Path(serving_tryit.__file__).read_text()))
    messages |= set(literal.findall(Path(serving_charts.__file__).read_text()))
    messages |= set(DEPLOY_RULES.values())
    assert len(messages) >= 23
    assert not sorted(m for m in messages if ZH.gettext(m) == m)
