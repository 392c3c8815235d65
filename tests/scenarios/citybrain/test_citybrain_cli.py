"""`aicommons citybrain …` in this process against a real home: run a controller on synthetic SUMO
files (queued, then run by a worker; and followed to its end with a progress bar), list and show
runs, convert CityFlow files and run on them, and the refusals."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from pathlib import Path

import pytest

from aicommons.core.jobs.worker import WorkerLoop

pytest.importorskip("libsumo", reason="the citybrain extra (libsumo) is not installed")
pytest.importorskip("sumolib", reason="the citybrain extra (sumolib) is not installed")

DURATION = "120"


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    return synthetic_grid(tmp_path_factory.mktemp("grid"), size=2, duration=float(DURATION), vehicles_per_hour=1200, seed=0)


def _run_id(output: str) -> str:
    found = re.search(r"City Brain run (cbr\S+):", output)
    assert found, output
    return found.group(1)


def test_run_queues_a_job_and_show_reads_its_metrics(runtime, member_cli, grid):
    net_file, route_file = grid
    queued = member_cli("citybrain", "run", "--network", str(net_file), "--routes", str(route_file), "--controller", "sotl",
                        "--seeds", "0,1", "--duration", DURATION, "--name", "grid-sotl", "--no-wait")
    assert queued.exit_code == 0 and "citybrain.run" in queued.output, queued.output
    run_id = _run_id(queued.output)
    assert WorkerLoop(runtime, "cli-citybrain").run_one()

    shown = json.loads(member_cli("citybrain", "show", run_id, "--json").stdout)
    assert shown["status"] == "succeeded" and shown["controller"] == "sotl" and shown["name"] == "grid-sotl"
    assert [e["seed"] for e in shown["episodes"]] == [0, 1] and shown["summary"]["throughput"]["mean"] > 0
    table = member_cli("citybrain", "show", run_id)
    assert table.exit_code == 0 and "Summary over 2 seed(s)" in table.output and "average_travel_time" in table.output, table.output
    listed = member_cli("citybrain", "runs")
    assert listed.exit_code == 0 and "grid-sotl" in listed.output and "succeeded" in listed.output, listed.output
    assert member_cli("citybrain", "runs", "--controller", "webster").output.count("grid-sotl") == 0


def test_run_with_wait_follows_the_job_and_prints_the_summary(runtime, member_cli, grid):
    net_file, route_file = grid
    loop, stop = WorkerLoop(runtime, "cli-citybrain-live"), threading.Event()
    loop.announce()  # counted as a live executor from now on
    thread = threading.Thread(target=loop.run, args=(stop,), daemon=True)
    thread.start()
    try:
        followed = member_cli("citybrain", "run", "--network", str(net_file), "--routes", str(route_file),
                              "--controller", "max-pressure", "-p", "queue=halting", "--duration", DURATION)
    finally:
        stop.set()
        thread.join(10)
    assert followed.exit_code == 0, followed.output
    assert "100.0%" in followed.output and "succeeded" in followed.output and "Summary over 1 seed(s)" in followed.output


def test_refusals_name_the_problem(member_cli, grid, tmp_path):
    net_file, route_file = grid
    unknown = member_cli("citybrain", "run", "--network", str(net_file), "--routes", str(route_file), "--controller", "nope", "--duration", DURATION)
    assert unknown.exit_code == 2 and "max-pressure" in unknown.output, unknown.output
    missing = member_cli("citybrain", "run", "--network", str(net_file), "--routes", str(tmp_path / "absent.rou.xml"))
    assert missing.exit_code == 2 and "does not exist" in missing.output, missing.output
    mixed = member_cli("citybrain", "run", "--network", str(net_file), "--cityflow-flow", str(route_file))
    assert mixed.exit_code == 2 and "not a mix" in mixed.output, mixed.output
    seeds = member_cli("citybrain", "run", "--network", str(net_file), "--routes", str(route_file), "--seeds", "a,b")
    assert seeds.exit_code == 2 and "--seeds" in seeds.output, seeds.output
    controllers = member_cli("citybrain", "controllers")
    assert controllers.exit_code == 0 and "fixed-time" in controllers.output and "webster" in controllers.output


def _cityflow_helpers():
    """The CityFlow converter's tests build a tiny signalised roadnet; reuse them rather than copy them."""
    path = Path(__file__).with_name("test_cityflow.py")
    spec = importlib.util.spec_from_file_location("citybrain_cityflow_helpers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_convert_and_run_on_cityflow_files(runtime, member_cli, tmp_path):
    helpers = _cityflow_helpers()
    flows = [helpers._flow(["v_c0_1__c0", "c0__v_c0_2"], 0, 100, 4), helpers._flow(["v_c0_3__c0", "c0__v_c0_1"], 0, 100, 6)]
    roadnet, flow = helpers._write(tmp_path, helpers._roadnet(), flows)

    converted = member_cli("citybrain", "convert", str(roadnet), str(flow), str(tmp_path / "sumo"))
    assert converted.exit_code == 0 and "1 intersections" in converted.output, converted.output
    assert (tmp_path / "sumo" / "flow.net.xml").is_file() and (tmp_path / "sumo" / "flow.rou.xml").is_file()

    queued = member_cli("citybrain", "run", "--cityflow-roadnet", str(roadnet), "--cityflow-flow", str(flow),
                        "--controller", "fixed-time", "--duration", DURATION, "--no-wait")
    assert queued.exit_code == 0 and "Converted roadnet.json + flow.json: 1 intersections" in queued.output, queued.output
    assert WorkerLoop(runtime, "cli-citybrain-cityflow").run_one()
    shown = json.loads(member_cli("citybrain", "show", _run_id(queued.output), "--json").stdout)
    assert shown["status"] == "succeeded" and shown["episodes"][0]["throughput"] > 0, shown
