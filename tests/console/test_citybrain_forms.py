"""Starting a City Brain run in the console: the runs list's "New run" button, the form (the API's
own `runs.start_run`, and `runs.store_upload` for uploaded files), then the run's page, which follows
the queued job. The road network comes from a traffic dataset version's scenario, an earlier run's
network, or two uploaded files; another organisation's private dataset is not offered and is
refused when posted by hand. Bad input is refused next to its field, what was typed kept, nothing
stored or queued. The runs are real SUMO runs on a 2×2 netgenerate grid, queued but not simulated
(one test's run is simulated to the end: 60 simulated seconds). The last test uses a real browser."""

from __future__ import annotations

import hashlib
import html

import pytest
import sqlalchemy as sa
from consolekit import browser_test, csrf_of, playwright_expect, sign_in_page
from datakit import DataKit, zip_bytes
from support import assert_db_unchanged, db_state

from aicommons.core.tables import Job
from aicommons.scenarios.citybrain import runs
from aicommons.scenarios.citybrain.schemas import RunCreate
from aicommons.scenarios.citybrain.tables import CityBrainRun

pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")
pytest.importorskip("sumolib", reason="the citybrain extra (sumolib) is not installed")

DURATION = 120.0  # the grid's demand; the form's runs simulate 60 s of it


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    return synthetic_grid(tmp_path_factory.mktemp("grid"), size=2, duration=DURATION, vehicles_per_hour=1200, seed=0)


def traffic_version(runtime, actor, grid, name: str, **extra):
    """A traffic dataset of `actor`'s org holding the grid as the scenario "grid/rush"."""
    net_file, route_file = grid
    kit = DataKit(runtime, actor)
    dataset = kit.dataset(name, "traffic", **extra)
    upload = zip_bytes({"grid/grid.net.xml": net_file.read_bytes(), "grid/rush.rou.xml": route_file.read_bytes()})
    return kit.imported(dataset.id, "grid.zip", upload, format="sumo")


@pytest.fixture
def signals(runtime, world, grid):
    """Org A's private traffic dataset with the grid, one version."""
    return traffic_version(runtime, world.a_member.actor, grid, "hangzhou-signals")


def dataset_choice(version) -> str:
    return f"dataset:{version.id}:grid/rush"


def good(version, **changes) -> dict[str, str]:
    return {
        "name": "grid, max pressure", "kind": "signal-control", "network": dataset_choice(version) if version else "upload", "controller": "max-pressure",
        "params": "", "scenario": "", "seeds": "0, 1", "duration": "60", "action_interval": "5", "yellow": "3", "min_green": "5", **changes,
    }


def runs_and_jobs(runtime) -> tuple[list[CityBrainRun], int]:
    with runtime.session() as session:
        rows = session.scalars(sa.select(CityBrainRun)).all()
        session.expunge_all()
        return list(rows), session.scalar(sa.select(sa.func.count()).select_from(Job))


def sha256_of(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_runs_list_offers_a_new_run(console):
    listing = console("member@a.test").get("/citybrain").text
    assert '<a class="button" href="/citybrain/new">新建仿真</a>' in listing


def test_the_form_offers_the_choices_in_chinese_and_in_english(console, runtime, world, grid, signals):
    hidden = traffic_version(runtime, world.b_member.actor, grid, "b-private-signals")
    shown = traffic_version(runtime, world.b_member.actor, grid, "b-public-signals", visibility="public")
    client = console("member@a.test")
    page = client.get("/citybrain/new")
    assert page.status_code == 200 and "<h1>新建仿真运行</h1>" in page.text
    form = page.text
    assert 'enctype="multipart/form-data"' in form
    assert '<optgroup label="交通数据集 hangzhou-signals">' in form
    assert f'<option value="{dataset_choice(signals)}" selected>v1 · grid/rush</option>' in form  # the first network is chosen
    assert f'<option value="{dataset_choice(shown)}">' in form  # a public traffic dataset of another org may be simulated
    assert hidden.id not in form and "b-private-signals" not in form
    assert '<option value="upload">上传路网及其车流文件</option>' in form
    for kind, name in (("signal-control", "信号控制"), ("green-wave", "绿波"), ("incidents", "交通事件检测")):
        assert f'name="kind" value="{kind}"' in form and name in form
    assert 'name="kind" value="signal-control" checked' in form
    for controller in ("fixed-time", "webster", "max-pressure", "efficient-pressure", "sotl", "learned"):
        assert f'name="controller" value="{controller}"' in form
    assert 'name="controller" value="max-pressure" checked' in form
    assert 'value="600"' in form and 'name="seeds" value="0"' in form  # a quick run by default
    assert "十分钟（600）可快速初看" in form and "&#34;lookahead&#34;: 300.0" in form  # hints; a kind's scenario defaults

    client.cookies.set("aic_lang", "en")
    english = client.get("/citybrain/new").text
    assert "<h1>New simulation run</h1>" in english and "Upload a network and its routes file" in english
    assert '<optgroup label="Traffic dataset hangzhou-signals">' in english
    assert "The controller alone: travel time, throughput, queue and delay." in english


def test_a_run_on_a_dataset_scenario_is_queued_and_its_page_follows_it(console, runtime, world, grid, signals):
    client = console("member@a.test")
    token = csrf_of(client.get("/citybrain/new").text)
    before, jobs_before = runs_and_jobs(runtime)
    started = client.post("/citybrain/new", data={"csrf_token": token, **good(signals)}, follow_redirects=False)
    assert started.status_code == 303, started.text[-2000:]
    after, jobs_after = runs_and_jobs(runtime)
    assert (len(before), len(after), jobs_after - jobs_before) == (0, 1, 1)  # one run, one job
    run = after[0]
    assert started.headers["location"] == f"/citybrain/runs/{run.id}"
    assert (run.org_id, run.name, run.kind, run.controller, run.seeds, run.duration, run.params) == (
        world.org_a, "grid, max pressure", "signal-control", "max-pressure", [0, 1], 60.0, {})
    assert (run.net_sha256, run.routes_sha256) == (sha256_of(grid[0]), sha256_of(grid[1]))  # the dataset's files
    assert run.timing == {"action_interval": 5.0, "yellow": 3.0, "min_green": 5.0}
    page = client.get(started.headers["location"]).text
    assert "<h1>grid, max pressure</h1>" in page and "排队等待中" in page
    assert f'hx-get="/citybrain/runs/{run.id}?seed=0" hx-trigger="every 2s"' in page  # the page polls while it runs
    assert f'<a href="/jobs/{run.job_id}">' in page
    # Simulated to the end (sixty seconds of two seeds), the page shows its results.
    job = DataKit(runtime, world.a_member.actor).run(type("Job", (), {"id": run.job_id}))
    assert job.status == "succeeded", job.error
    finished = client.get(started.headers["location"]).text
    assert "已完成仿真" in finished and "hx-trigger" not in finished


def test_another_controller_runs_on_an_earlier_runs_network(console, runtime, world, grid, signals):
    client = console("member@a.test")
    token = csrf_of(client.get("/citybrain/new").text)
    first = client.post("/citybrain/new", data={"csrf_token": token, **good(signals)}, follow_redirects=False)
    first_id = first.headers["location"].rsplit("/", 1)[1]
    link = f"/citybrain/new?network=run:{first_id}&amp;kind=signal-control"
    assert f'<a href="{link}">在此路网上仿真另一个控制器</a>' in client.get(first.headers["location"]).text
    form = client.get(html.unescape(link)).text
    assert f'<option value="run:{first_id}" selected>grid, max pressure 的路网</option>' in form
    second = client.post("/citybrain/new", data={"csrf_token": token, **good(signals, network=f"run:{first_id}", controller="fixed-time",
                                                                                name="")}, follow_redirects=False)
    assert second.status_code == 303
    stored, _jobs = runs_and_jobs(runtime)
    assert sorted(r.controller for r in stored) == ["fixed-time", "max-pressure"]
    assert len({(r.net_sha256, r.routes_sha256) for r in stored}) == 1  # the same network: they compare
    with runtime.session() as session:
        assert len(runs.compare_controllers(session, world.a_member.actor, first_id)) == 0  # none has finished yet


def test_uploaded_files_are_simulated(console, runtime, world, grid):
    client = console("member@a.test")
    form = client.get("/citybrain/new").text
    assert '<option value="upload" selected>' in form  # nothing else to choose from
    net_file, route_file = grid
    started = client.post(
        "/citybrain/new", data={"csrf_token": csrf_of(form), **good(None, network="upload", controller="webster", seeds="7")},
        files={"net_file": ("grid.net.xml", net_file.read_bytes()), "routes_file": ("rush.rou.xml", route_file.read_bytes())},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text[-2000:]
    (run,), _jobs = runs_and_jobs(runtime)
    assert (run.net_sha256, run.routes_sha256, run.controller, run.seeds) == (sha256_of(net_file), sha256_of(route_file), "webster", [7])


# (what is changed in the good form, the fields refused, a message shown)
REFUSALS = [
    ({"name": "n" * 121}, ["name"], "运行名称最多 120 个字符"),
    ({"kind": "rush-hour"}, ["kind"], "请从列出的运行类型中选择"),
    ({"controller": "magic"}, ["controller"], "请从列出的控制器中选择"),
    ({"params": "[1]"}, ["params"], "请以 JSON 对象写出控制器参数"),
    ({"params": '{"bogus": 1}'}, ["params"], "无法开始此次运行：Bad parameters for controller 'max-pressure'"),
    ({"controller": "learned", "params": '{"model": "no-such-policy@1"}'}, ["params"], "no-such-policy"),
    ({"scenario": "{"}, ["scenario"], "请以 JSON 对象写出场景参数"),
    ({"scenario": '{"count": 2}'}, ["scenario"], "A signal-control run takes no scenario parameters"),
    ({"kind": "incidents", "scenario": '{"count": 99}'}, ["scenario"], "The incidents scenario's 'count' must be a whole number"),
    ({"kind": "green-wave", "scenario": '{"from_edge": "nowhere", "to_edge": "A0B0"}'}, ["scenario"], "is not an edge of the network"),
    ({"seeds": "one"}, ["seeds"], "请给出 1 到 10 个互不相同"),
    ({"seeds": ""}, ["seeds"], "请给出 1 到 10 个互不相同"),
    ({"seeds": "1, 1"}, ["seeds"], "请给出 1 到 10 个互不相同"),
    ({"seeds": ", ".join(str(s) for s in range(11))}, ["seeds"], "请给出 1 到 10 个互不相同"),
    ({"seeds": "99999999999"}, ["seeds"], "请给出 1 到 10 个互不相同"),
    ({"duration": "30"}, ["duration"], "仿真时长须为 60 到 86,400 秒"),
    ({"duration": "an hour"}, ["duration"], "仿真时长须为 60 到 86,400 秒"),
    ({"yellow": "99"}, ["yellow"], "黄灯时长须为 0 到 60 秒"),
    ({"action_interval": "0"}, ["action_interval"], "决策间隔须为 1 到 600 秒"),
    ({"min_green": "-5"}, ["min_green"], "最短绿灯须为 0 到 600 秒"),
    ({"network": "run:cbr_nope"}, ["network"], "请从列出的路网中选择"),
    ({"network": "dataset:dsv_nope:grid/rush"}, ["network"], "请从列出的路网中选择"),
    ({"network": "SIGNALS:nowhere"}, ["network"], "请从列出的路网中选择"),  # a scenario the version does not hold
    ({"network": "satellite"}, ["network"], "请从列出的路网中选择"),
    ({"network": "upload"}, ["net_file", "routes_file"], "请选择一个 SUMO .net.xml 路网文件"),
]


def test_bad_input_is_refused_next_to_its_field_and_nothing_is_stored_or_queued(console, runtime, signals):
    client = console("member@a.test")
    token = csrf_of(client.get("/citybrain/new").text)
    before = db_state(runtime)
    assert "citybrain_runs" in before
    for changes, fields, message in REFUSALS:
        changes = {k: v.replace("SIGNALS", f"dataset:{signals.id}") for k, v in changes.items()}
        typed = good(signals, name="kept <name>", **changes) if "name" not in changes else good(signals, **changes)
        refused = client.post("/citybrain/new", data={"csrf_token": token, **typed})
        page = refused.text
        assert refused.status_code == 422, changes
        for field in fields:
            assert f'<p id="{field}-error" class="field-error" role="alert">' in page, (changes, page[-3000:])
        assert message in html.unescape(page) and page.count('class="field-error"') == len(fields), (changes, message)
        if "name" not in changes:
            assert 'value="kept &lt;name&gt;"' in page  # what was typed is kept
        if "seeds" not in changes:
            assert f'name="seeds" value="{typed["seeds"]}"' in page
    assert_db_unchanged(before, db_state(runtime))
    # An empty uploaded file is refused next to its field; a form without its token changes nothing.
    refused = client.post("/citybrain/new", data={"csrf_token": token, **good(signals, network="upload")},
                          files={"net_file": ("empty.net.xml", b""), "routes_file": ("rush.rou.xml", b"<routes/>")})
    assert refused.status_code == 422 and '<p id="net_file-error"' in refused.text and "is empty" in refused.text
    assert client.post("/citybrain/new", data=good(signals)).status_code == 403
    assert_db_unchanged(before, db_state(runtime))


def test_another_orgs_private_traffic_dataset_is_refused_and_its_runs_too(console, runtime, world, grid, signals):
    hidden = traffic_version(runtime, world.b_member.actor, grid, "b-private-signals")
    net_sha256, routes_sha256 = runs.store_network(runtime.blobs, *grid)
    with runtime.session() as session:
        b_run = runs.start_run(session, runtime.blobs, world.b_member.actor, RunCreate(name="b's run", net_sha256=net_sha256,
                                                                                         routes_sha256=routes_sha256, duration=60))
    client = console("member@a.test")
    form = client.get("/citybrain/new").text
    assert hidden.id not in form and b_run.id not in form and "b&#39;s run" not in form
    before = db_state(runtime)
    for network in (dataset_choice(hidden), f"run:{b_run.id}"):
        refused = client.post("/citybrain/new", data={"csrf_token": csrf_of(form), **good(signals, network=network)})
        assert refused.status_code == 422 and '<p id="network-error"' in refused.text and "请从列出的路网中选择" in refused.text
        assert "b-private-signals" not in refused.text
    assert_db_unchanged(before, db_state(runtime))


@browser_test
def test_a_run_is_started_in_the_browser(page, runtime, world, signals, screenshots):
    expect = playwright_expect()
    sign_in_page(page, runtime)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="城市大脑").click()
    page.get_by_role("link", name="新建仿真").click()
    page.wait_for_url("**/citybrain/new")
    page.get_by_label("运行名称（可选）").click()
    page.keyboard.type("grid, fixed time")
    expect(page.get_by_label("路网", exact=True)).to_have_value(dataset_choice(signals))
    page.get_by_role("radio", name="fixed-time").check()
    duration = page.get_by_label("仿真时长（秒）")
    duration.click()
    duration.press("Control+a")
    page.keyboard.type("60")
    page.screenshot(path=screenshots / "citybrain-new-run.png", full_page=True)
    page.get_by_role("button", name="开始仿真").press("Enter")  # Enter: Chromium may drop a click that follows a full-page screenshot
    page.wait_for_url("**/citybrain/runs/cbr_*")
    expect(page.get_by_role("heading", level=1)).to_have_text("grid, fixed time")
    expect(page.get_by_role("status")).to_contain_text("排队等待中")
    (run,), _jobs = runs_and_jobs(runtime)
    assert (run.name, run.controller, run.duration) == ("grid, fixed time", "fixed-time", 60.0)
    assert page.url.endswith(f"/citybrain/runs/{run.id}")
