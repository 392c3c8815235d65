"""Creating a dataset in the console: the list's "New dataset" button, the form (the API's own
`data.create_dataset`), then the new dataset's import page, which names the `sumo` format for
traffic data. Bad input — an empty, long or taken name, an unknown modality, too many tags — is
refused next to its field with what was typed kept, and nothing is stored."""

from __future__ import annotations

from consolekit import csrf_of
from support import assert_db_unchanged, db_state

from aicommons import data

GOOD = {
    "name": "hangzhou-signals",
    "modality": "traffic",
    "visibility": "public",
    "licence": "CC-BY-4.0",
    "description": "Road networks of four junctions.",
    "tags": "signals，hangzhou, signals",
}


def test_the_dataset_list_offers_a_new_dataset(console):
    listing = console("member@a.test").get("/datasets").text
    assert '<a class="button" href="/datasets/new">新建数据集</a>' in listing


def test_a_member_creates_a_traffic_dataset_and_lands_on_its_import_page(
    console, runtime, world
):
    client = console("member@a.test")
    form = client.get("/datasets/new")  # matched before /datasets/{dataset_id}
    assert form.status_code == 200 and 'action="/datasets/new"' in form.text
    assert "<h1>新建数据集</h1>" in form.text
    for modality in data.Modality:
        assert f'<option value="{modality.value}"' in form.text
    assert '<option value="traffic">交通</option>' in form.text
    created = client.post(
        "/datasets/new",
        data={"csrf_token": csrf_of(form.text), **GOOD},
        follow_redirects=False,
    )
    assert created.status_code == 303
    with runtime.session() as session:
        found = data.find_dataset(session, world.a_member.actor, "hangzhou-signals")
    assert created.headers["location"] == f"/datasets/{found.id}/import"
    assert (
        found.modality,
        found.visibility,
        found.licence,
        found.description,
        found.tags,
        found.org_id,
        found.latest_version,
    ) == (
        "traffic",
        "public",
        "CC-BY-4.0",
        "Road networks of four junctions.",
        ["hangzhou", "signals"],  # the Chinese comma splits too; a repeat counts once
        world.org_a,
        0,
    )
    import_page = client.get(created.headers["location"]).text
    assert "向 hangzhou-signals 导入数据" in import_page
    assert "交通数据集请选择 sumo 格式" in import_page
    assert '<option value="sumo"' in import_page


def test_the_licence_description_and_tags_may_stay_empty(console, runtime, world):
    client = console("member@a.test")
    token = csrf_of(client.get("/datasets/new").text)
    typed = {"name": "  notes  ", "modality": "text", "visibility": "private"}
    created = client.post(
        "/datasets/new",
        data={
            "csrf_token": token,
            "licence": "",
            "description": "",
            "tags": " , ",
            **typed,
        },
        follow_redirects=False,
    )
    assert created.status_code == 303
    with runtime.session() as session:
        found = data.find_dataset(session, world.a_member.actor, "notes")
    assert (found.name, found.modality, found.visibility, found.tags) == (
        "notes",
        "text",
        "private",
        [],
    )


# (what is changed in GOOD, the field refused, its message)
REFUSALS = [
    ({"name": "  "}, "name", "名称须为 1 到 100 个字符"),
    ({"name": "n" * 101}, "name", "名称须为 1 到 100 个字符"),
    ({"name": "Reviews"}, "name", "本机构已有同名数据集"),  # taken, in any case
    ({"modality": "video"}, "modality", "请从列出的模态中选择"),
    ({"visibility": "secret"}, "visibility", "请选择私有、共享或公开"),
    ({"licence": "L" * 101}, "licence", "许可证最多 100 个字符"),
    (
        {"tags": "，".join(f"t{i}" for i in range(31))},
        "tags",
        "最多 30 个标签，用逗号分隔，每个最多 50 个字符",
    ),
    ({"tags": "ok, " + "t" * 51}, "tags", "最多 30 个标签"),
]


def test_the_new_dataset_form_refuses_bad_input_keeping_what_was_typed(
    console, runtime, kit
):
    kit.dataset("reviews")
    client = console("member@a.test")
    token = csrf_of(client.get("/datasets/new").text)
    before = db_state(runtime)
    assert "datasets" in before
    for changes, field, message in REFUSALS:
        typed = {**GOOD, "description": "kept <text>", **changes}
        refused = client.post("/datasets/new", data={"csrf_token": token, **typed})
        page = refused.text
        assert refused.status_code == 422, changes
        assert f'<p id="{field}-error" class="field-error" role="alert">' in page
        assert message in page and page.count('class="field-error"') == 1, changes
        described = (  # the modality and the tags are described by their hint too
            f'aria-describedby="{field}-hint {field}-error" aria-invalid="true"'
            if field in ("modality", "tags")
            else f'aria-invalid="true" aria-describedby="{field}-error"'
        )
        assert described in page, changes
        assert ">kept &lt;text&gt;</textarea>" in page
        assert f'value="{typed["name"]}"' in page and f'value="{typed["tags"]}"' in page
        if field != "modality":  # an unknown modality is not offered back
            assert '<option value="traffic" selected>' in page
    assert_db_unchanged(before, db_state(runtime))
    # Every refused field is named at once.
    refused = client.post(
        "/datasets/new",
        data={"csrf_token": token, "name": "", "modality": "video", "tags": "x" * 51},
    )
    assert refused.status_code == 422
    for field in ("name", "modality", "tags"):
        assert f'<p id="{field}-error"' in refused.text
    # A form without its token is refused too.
    assert client.post("/datasets/new", data=GOOD).status_code == 403
    assert_db_unchanged(before, db_state(runtime))


def test_signing_in_comes_before_the_new_dataset_form(anonymous):
    response = anonymous.get("/datasets/new", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in")
