"""The datasets and models pages: a version's statistics, lineage and diff; the import, cleaning
and de-identification forms (the API's own service functions, then the job page); a model's
lineage graph, version comparison and aliases. Each page shows only what the visitor may see and
every form refuses bad input next to the field, storing nothing."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa
from consolekit import csrf_of
from datakit import REVIEWS_CSV, zip_bytes
from support import assert_db_unchanged, db_state

from aicommons import data, models
from aicommons.core import jobs
from aicommons.core.tables import AuditEntry


def _blob_count(runtime) -> int:
    return sum(
        1 for path in Path(runtime.settings.blob_url).rglob("*") if path.is_file()
    )


def _refused(client, url: str, token: str, fields: dict, error_id: str, message: str, files=None):
    """Post the form at `url`: it is refused (422) with `message` in the field's error `error_id`."""
    response = client.post(url, data={"csrf_token": token, **fields}, files=files)
    assert response.status_code == 422, f"{error_id}: {fields}"
    assert (
        f'<p id="{error_id}" class="field-error" role="alert">' in response.text
        and message in response.text
    )
    return response


def _refused_each(client, runtime, url: str, good: dict, refusals) -> list:
    """Post the form at `url` once per refusal `(changes, error_id, message)`, the good input with its
    changes: each is refused next to its field, and nothing is stored. Each one's (changes, fields
    posted, error_id, response)."""
    token = csrf_of(client.get(url).text)
    before = db_state(runtime)
    refused = []
    for changes, error_id, message in refusals:
        fields = {**good, **changes}
        refused.append((changes, fields, error_id, _refused(client, url, token, fields, error_id, message)))
    assert_db_unchanged(before, db_state(runtime))
    return refused


# --- datasets: the version page ---------------------------------------------------------------


def test_a_version_page_charts_its_statistics_and_shows_its_lineage(
    console, kit, reviews
):
    dataset, first, _second = reviews
    page = console("member@a.test").get(f"/datasets/{dataset.id}/versions/1").text
    assert page.count('<svg class="chart"') == 3  # per label, per split, text lengths
    assert (
        "<title>每个标签的记录数</title>" in page
        and "<title>文本长度（字符）</title>" in page
    )
    assert "<title>positive: 3</title>" in page and "<title>negative: 3</title>" in page
    assert f'<a href="/jobs/{first.job_id}">' in page and "<code>import</code>" in page
    assert "<code>reviews.csv</code>" in page  # the import's parameters
    # The owner may start jobs.
    assert f'href="/datasets/{dataset.id}/versions/1/clean"' in page
    assert "共 6 条记录" in page


def test_a_derived_version_links_to_its_parent_and_the_parent_to_it(
    console, kit, reviews, runtime, world
):
    dataset, first, _second = reviews
    with runtime.session() as session:
        job = data.start_split(
            session,
            world.a_member.actor,
            first.id,
            data.SplitParams(train=0.5, validation=0.0, test=0.5),
        )
    split = kit.version(kit.run(job).result["version_id"])
    client = console("member@a.test")
    child = client.get(f"/datasets/{dataset.id}/versions/{split.number}").text
    assert (
        f'<a href="/datasets/{dataset.id}/versions/1">v1</a>' in child
        and "<code>split</code>" in child
    )
    parent = client.get(f"/datasets/{dataset.id}/versions/1").text
    assert (
        f'<a href="/datasets/{dataset.id}/versions/{split.number}">v{split.number}</a> (split)'
        in parent
    )
    listing = client.get(f"/datasets/{dataset.id}").text
    # v1 is linked from its own row, and as v3's source.
    assert listing.count(f'<a href="/datasets/{dataset.id}/versions/1">v1</a>') == 2


def test_the_diff_between_two_versions_counts_and_lists_the_changes(
    console, kit, reviews, runtime, world
):
    dataset, first, second = reviews
    with runtime.session() as session:
        expected = data.diff_versions(
            session,
            data.manifest_cache(runtime),
            world.a_member.actor,
            first.id,
            second.id,
        )
    page = (
        console("member@a.test")
        .get(f"/datasets/{dataset.id}/versions/1/diff", params={"other": 2})
        .text
    )
    assert "v1 到 v2 的变化" in page
    for name in ("added", "removed", "changed", "resplit", "unchanged"):
        assert f'data-count="{name}">{getattr(expected, name)}<' in page
    assert expected.added >= 1 and all(
        f"<li><code>{r}</code></li>" in page for r in expected.added_ids
    )
    assert '<svg class="chart"' in page


def test_other_orgs_get_404_for_private_versions_and_no_job_forms_for_public_ones(
    console, kit, reviews, runtime, world
):
    dataset, _first, _second = reviews
    other = console("member@b.test")
    for path in (
        "/versions/1",
        "/versions/1/diff?other=2",
        "/import",
        "/versions/1/clean",
        "/versions/1/deid",
    ):
        assert other.get(f"/datasets/{dataset.id}{path}").status_code == 404, path
    with runtime.session() as session:
        data.update_dataset(
            session,
            world.a_admin.actor,
            dataset.id,
            data.DatasetUpdate(visibility="public"),
        )
    page = other.get(f"/datasets/{dataset.id}/versions/1").text
    assert (
        "每个标签的记录数" in page
        and "/versions/1/clean" not in page
        and "/import" not in page
    )
    assert other.get(f"/datasets/{dataset.id}/versions/1/clean").status_code == 403
    before = db_state(runtime)
    refused = other.post(
        f"/datasets/{dataset.id}/versions/1/clean",
        data={"csrf_token": csrf_of(page), "operation": "dedup"},
    )
    assert refused.status_code == 403
    assert_db_unchanged(before, db_state(runtime))


# --- datasets: the job forms ------------------------------------------------------------------


def _job(runtime, world, job_id):
    with runtime.session() as session:
        return jobs.get_job(session, world.a_member.actor, job_id)


def _job_started(client, runtime, world, url: str, form: str, fields: dict):
    """Send the form at `url` (`form`, its page) with `fields`: it redirects (303) to the job it started."""
    response = client.post(
        url, follow_redirects=False, data={"csrf_token": csrf_of(form), **fields}
    )
    assert response.status_code == 303
    return _job(runtime, world, response.headers["location"].removeprefix("/jobs/"))


def test_the_import_form_uploads_the_file_and_opens_the_job_page(
    console, kit, runtime, world
):
    dataset = kit.dataset("reviews")
    client = console("member@a.test")
    assert (
        f'href="/datasets/{dataset.id}/import"'
        in client.get(f"/datasets/{dataset.id}").text
    )
    form = client.get(f"/datasets/{dataset.id}/import").text
    response = client.post(
        f"/datasets/{dataset.id}/import",
        data={
            "csrf_token": csrf_of(form),
            "format": "csv",
            "label_field": "label",
            "split_field": "",
            "text_field": "text",
        },
        files={"file": ("reviews.csv", REVIEWS_CSV, "text/csv")},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"].startswith(
        "/jobs/job_"
    )
    job = _job(runtime, world, response.headers["location"].removeprefix("/jobs/"))
    assert (
        job.type == "data.import"
        and job.params["options"]["format"] == "csv"
        and job.params["source_name"] == "reviews.csv"
    )
    assert kit.run(job).status == "succeeded"
    job_page = client.get(response.headers["location"]).text  # leads to the version it made
    assert re.search(r'<a class="button" href="/datasets/ds_\w+/versions/1">查看产出</a>', job_page)


IMPORT_REFUSALS = [  # (form fields, uploaded file, the field's error id, what it says)
    ({"format": "csv"}, None, "file-error", "请选择要导入的文件。"),
    ({"format": "csv"}, ("empty.csv", b""), "file-error", "无法导入此文件"),
    (
        {"format": "auto"},
        ("climbs.zip", zip_bytes({"../outside.csv": REVIEWS_CSV})),
        "file-error",
        "climbs out of the archive",
    ),
    (
        {"format": "excel"},
        ("reviews.csv", REVIEWS_CSV),
        "format-error",
        "请从列出的格式中选择。",
    ),
    (
        {"format": "csv", "label_field": "x" * 101},
        ("reviews.csv", REVIEWS_CSV),
        "label_field-error",
        "字段名最多 100 个字符。",
    ),
]


def test_the_import_form_refuses_bad_input_next_to_the_field_and_stores_nothing(
    console, kit, runtime
):
    dataset = kit.dataset("reviews")
    client = console("member@a.test")
    token = csrf_of(client.get(f"/datasets/{dataset.id}/import").text)
    before, blobs = db_state(runtime), _blob_count(runtime)
    for fields, upload, error_id, message in IMPORT_REFUSALS:
        files = (
            {"file": (upload[0], upload[1], "application/octet-stream")}
            if upload
            else None
        )
        response = _refused(
            client, f"/datasets/{dataset.id}/import", token, fields, error_id, message, files
        )
        assert f'aria-describedby="{error_id}"' in response.text
        if "label_field" in fields:
            assert f'value="{"x" * 101}"' in response.text  # what was typed stays
    assert_db_unchanged(before, db_state(runtime))
    assert _blob_count(runtime) == blobs


def test_the_cleaning_form_starts_the_apis_cleaning_job(
    console, reviews, runtime, world
):
    dataset, first, _second = reviews
    client = console("member@a.test")
    url = f"/datasets/{dataset.id}/versions/1/clean"
    form = client.get(url).text
    assert 'value="dedup" checked' in form
    job = _job_started(
        client,
        runtime,
        world,
        url,
        form,
        {
            "operation": "text_quality",
            "threshold": "0.8",
            "max_distance": "4",
            "min_chars": "3",
            "max_chars": "500",
            "min_width": "32",
            "min_height": "32",
            "seed": "0",
        },
    )
    assert job.type == "data.clean" and job.params["version_id"] == first.id
    assert (
        job.params["clean"]["operation"] == "text_quality"
        and job.params["clean"]["near"] is False
    )
    assert job.params["clean"]["text_rules"]["min_chars"] == 3


CLEAN_REFUSALS = [  # (what differs from good input, the field's error id, what it says)
    ({"threshold": "2"}, "threshold-error", "相似度阈值必须是大于 0、不超过 1 的数。"),
    (
        {"threshold": "high"},
        "threshold-error",
        "相似度阈值必须是大于 0、不超过 1 的数。",
    ),
    ({"operation": "shred"}, "operation-error", "请选择一种清洗操作。"),
    (
        {"min_chars": "50", "max_chars": "10"},
        "max_chars-error",
        "最多字符数必须是不小于 1",
    ),
    ({"seed": "-1"}, "seed-error", "随机种子必须是不小于 0 的整数。"),
]


def test_the_cleaning_form_refuses_bad_input_next_to_the_field_and_stores_nothing(
    console, reviews, runtime
):
    dataset, _first, _second = reviews
    good = {
        "operation": "dedup",
        "near": "on",
        "threshold": "0.8",
        "max_distance": "4",
        "min_chars": "5",
        "max_chars": "100",
        "min_width": "32",
        "min_height": "32",
        "seed": "0",
    }
    url = f"/datasets/{dataset.id}/versions/1/clean"
    for _changes, fields, error_id, response in _refused_each(
        console("member@a.test"), runtime, url, good, CLEAN_REFUSALS
    ):
        field = error_id.removesuffix("-error")
        if field != "operation":
            assert re.search(
                rf'id="{field}"[^>]*value="{re.escape(fields[field])}"[^>]*aria-invalid="true"',
                response.text,
            )


def test_the_deid_form_starts_the_apis_deid_job(console, reviews, runtime, world):
    dataset, _first, second = reviews
    client = console("member@a.test")
    url = f"/datasets/{dataset.id}/versions/2/deid"
    form = client.get(url).text
    assert 'name="fields" value="text"' in form
    job = _job_started(
        client,
        runtime,
        world,
        url,
        form,
        {"fields": ["text"], "faces": "off", "policy": "", "k": "5", "max_suppression": "0.05"},
    )
    assert job.type == "data.deid" and job.params["version_id"] == second.id
    assert job.params["deid"] == {
        "policy": None,
        "fields": ["text"],
        "faces": "off",
        "k_anonymity": None,
    }


DEID_REFUSALS = [  # (what differs from good input, the field's error id, what it says)
    ({"policy": "entities: [unclosed"}, "policy-error", "策略无效"),
    (
        {"quasi_identifiers": ["text"], "k": "1"},
        "k-error",
        "k 必须是 2 到 1000 的整数。",
    ),
    (
        {"quasi_identifiers": ["text"], "max_suppression": "0.9"},
        "max_suppression-error",
        "被抑制记录的比例必须是 0 到 0.5 的数。",
    ),
    ({"faces": "pixelate"}, "faces-error", "人脸处理请选择模糊、遮盖或关闭。"),
    ({"fields": ["no_such_field"]}, "fields-error", "no_such_field"),
]


def test_the_deid_form_refuses_bad_input_next_to_the_field_and_stores_nothing(
    console, reviews, runtime
):
    dataset, _first, _second = reviews
    good = {"faces": "blur", "policy": "", "k": "5", "max_suppression": "0.05"}
    url = f"/datasets/{dataset.id}/versions/2/deid"
    for changes, _fields, _error_id, response in _refused_each(
        console("member@a.test"), runtime, url, good, DEID_REFUSALS
    ):
        if "policy" in changes:
            assert "entities: [unclosed</textarea>" in response.text


# --- models: lineage, comparison, aliases ----------------------------------------------------


def test_the_lineage_graph_runs_from_the_dataset_through_jobs_and_versions_to_the_endpoint(
    console, hub
):
    page = console("member@a.test").get(f"/models/{hub.model.id}/lineage").text
    graph = page[
        page.index('<svg class="lineage"') : page.index(
            "</svg>", page.index('<svg class="lineage"')
        )
    ]
    assert '<title id="lineage-title">sentiment 的谱系</title>' in graph
    for href in (
        f"/datasets/{hub.dataset.id}/versions/1",
        f"/jobs/{hub.train_job}",
        f"/models/{hub.model.id}?version=1",
        f"/jobs/{hub.compress_job}",
        f"/models/{hub.model.id}?version=2",
        "/endpoints/sentiment-prod",
    ):
        assert f'<a href="{href}"' in graph, href
    # data → train job → v1 → compression job → v2 → endpoint
    assert graph.count('class="arrow"') == 5
    assert "v2 · production" in graph and "sentiment-prod → production" in graph
    assert (
        graph.count('class="node node-job"') == 2
        and graph.count('class="node node-endpoint"') == 1
    )
    # Every arrow points right: columns follow the longest path, endpoints last.
    arrows = re.findall(r'class="arrow" d="M(\d+),\d+ C[\d, ]+ (\d+),\d+"', graph)
    assert len(arrows) == 5 and all(int(start) < int(end) for start, end in arrows)
    columns = set(re.findall(r'<rect x="(\d+)" y="\d+" width="184"', graph))
    assert len(columns) == 6
    # The same steps as text.
    assert "数据集版本 <b>reviews v1</b> → 训练作业 <b>train</b>" in page


def test_other_orgs_see_a_public_models_lineage_without_its_private_data(
    console, hub, runtime, world
):
    other = console("member@b.test")
    for path in ("", "/lineage", "/compare", "/aliases"):
        assert other.get(f"/models/{hub.model.id}{path}").status_code == 404, path
    with runtime.session() as session:
        models.update_model(
            session,
            world.a_admin.actor,
            hub.model.id,
            models.ModelUpdate(visibility="public"),
        )
    page = other.get(f"/models/{hub.model.id}/lineage").text
    assert (
        "reviews v1" not in page
        and "对你不可见" in page
        and f"/datasets/{hub.dataset.id}" not in page
    )
    assert "sentiment-prod" not in page  # a private endpoint of org A


def test_two_versions_compare_metrics_size_and_latency_side_by_side(console, hub):
    client = console("member@a.test")
    page = client.get(
        f"/models/{hub.model.id}/compare"
    ).text  # default: the latest and its parent
    assert (
        '<option value="1" selected>' in page and '<option value="2" selected>' in page
    )
    table = page[page.index('<table class="side-by-side">') : page.index("</table>")]
    assert re.search(
        r"<th scope=\"row\">accuracy</th>\s*<td>0\.9</td>\s*<td>0\.895</td>\s*<td>-0\.005</td>",
        table,
    )
    assert re.search(r"<th scope=\"row\">f1</th>\s*<td>0\.88</td>\s*<td>—</td>", table)
    assert (
        f'data-size="{hub.v1.onnx_size}"' in table
        and f'data-size="{hub.v2.onnx_size}"' in table
    )
    assert "大小相同" in table  # the same artefact in both
    assert re.search(
        r"延迟 p50，批大小 1（毫秒）</th>\s*<td>0\.25</td>\s*<td>0\.125</td>", table
    )
    assert "两者在 v2 压缩时交替计时。" in page
    assert page.count('<svg class="chart"') == 3  # metrics, sizes, latencies
    swapped = client.get(
        f"/models/{hub.model.id}/compare", params={"base": 2, "other": 1}
    ).text
    assert re.search(
        r"<th scope=\"row\">accuracy</th>\s*<td>0\.895</td>\s*<td>0\.9</td>\s*<td>\+0\.005</td>",
        swapped,
    )


def test_comparing_needs_two_versions(console, runtime, world):
    with runtime.session() as session:
        model = models.create_model(
            session,
            world.a_member.actor,
            models.ModelCreate(name="empty", task="tabular-classification"),
        )
    client = console("member@a.test")
    page = client.get(f"/models/{model.id}/compare")
    assert page.status_code == 200 and "比较需要两个版本" in page.text
    assert (
        client.get(
            f"/models/{model.id}/compare", params={"base": 7, "other": 1}
        ).status_code
        == 200
    )


def _aliases(runtime, world, model_id):
    with runtime.session() as session:
        return models.get_model(session, world.a_member.actor, model_id).aliases


def test_the_owner_moves_an_alias_through_the_hub_which_audits_it(
    console, hub, runtime, world
):
    client = console("member@a.test")
    page = client.get(f"/models/{hub.model.id}/aliases").text
    assert (
        "<code>production</code>" in page
        and f'action="/models/{hub.model.id}/aliases"' in page
    )
    response = client.post(
        f"/models/{hub.model.id}/aliases",
        data={
            "csrf_token": csrf_of(page),
            "alias": "production",
            "version_id": hub.v1.id,
        },
        follow_redirects=False,
    )
    assert (
        response.status_code == 303
        and response.headers["location"] == f"/models/{hub.model.id}/aliases"
    )
    assert _aliases(runtime, world, hub.model.id) == {"production": 1}
    with runtime.session() as session:
        moved = session.scalars(
            sa.select(AuditEntry).where(AuditEntry.action == "model.alias")
        ).all()[-1]
        assert moved.detail == {
            "alias": "production",
            "from": hub.v2.id,
            "to": hub.v1.id,
        }
    client.post(
        f"/models/{hub.model.id}/aliases",
        data={"csrf_token": csrf_of(page), "alias": "staging", "version_id": hub.v2.id},
    )
    client.post(
        f"/models/{hub.model.id}/aliases/staging/delete",
        data={"csrf_token": csrf_of(page)},
    )
    assert _aliases(runtime, world, hub.model.id) == {"production": 1}


ALIAS_REFUSALS = [  # (alias, version, the field's error id, what it says)
    ("Prod!", "v1", "alias-error", "别名由 1 到 40 个小写字母"),
    ("", "v1", "alias-error", "别名由 1 到 40 个小写字母"),
    ("latest", "v1", "alias-error", "latest"),
    ("staging", "elsewhere", "version_id-error", "请选择此模型的一个版本。"),
]


def test_the_alias_form_refuses_bad_input_next_to_the_field_and_stores_nothing(
    console, hub, runtime
):
    client = console("member@a.test")
    token = csrf_of(client.get(f"/models/{hub.model.id}/aliases").text)
    before = db_state(runtime)
    for alias, version, error_id, message in ALIAS_REFUSALS:
        version_id = hub.v1.id if version == "v1" else "mdv_from_another_model"
        response = _refused(
            client,
            f"/models/{hub.model.id}/aliases",
            token,
            {"alias": alias, "version_id": version_id},
            error_id,
            message,
        )
        assert f'value="{alias}"' in response.text
    assert_db_unchanged(before, db_state(runtime))


def test_only_the_owner_may_move_aliases(console, hub, runtime, world):
    with runtime.session() as session:
        models.update_model(
            session,
            world.a_admin.actor,
            hub.model.id,
            models.ModelUpdate(visibility="public"),
        )
    other = console("member@b.test")
    page = other.get(f"/models/{hub.model.id}/aliases").text
    assert (
        "<code>production</code>" in page
        and 'name="alias"' not in page
        and "/delete" not in page
    )
    before = db_state(runtime)
    refused = other.post(
        f"/models/{hub.model.id}/aliases",
        data={
            "csrf_token": csrf_of(page),
            "alias": "production",
            "version_id": hub.v1.id,
        },
    )
    assert refused.status_code == 403
    assert (
        other.post(
            f"/models/{hub.model.id}/aliases/production/delete",
            data={"csrf_token": csrf_of(page)},
        ).status_code
        == 403
    )
    assert_db_unchanged(before, db_state(runtime))


def test_the_model_page_links_its_lineage_comparison_and_aliases(console, hub):
    page = console("member@a.test").get(f"/models/{hub.model.id}").text
    for path in ("/lineage", "/compare", "/aliases"):
        assert f'href="/models/{hub.model.id}{path}"' in page
    assert 'aria-current="page">模型卡' in page


def test_every_message_of_the_catalogue_modules_has_a_chinese_translation():
    """The lineage, comparison and statistics modules speak through gettext too, outside the
    templates and routes the console-wide check reads."""
    import aicommons.console as console_package
    from aicommons.console.locales import Translator

    root = Path(console_package.__file__).parent
    literal = re.compile(r'(?:\b_|gettext)\("((?:[^"\\]|\\.)+)"')
    messages = {
        m
        for name in (
            "lineage_graph.py",
            "version_comparison.py",
            "version_statistics.py",
        )
        for m in literal.findall((root / name).read_text())
    }
    assert len(messages) > 15
    zh = Translator("zh_CN")
    assert not sorted(m for m in messages if zh.gettext(m) == m)
