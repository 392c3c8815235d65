"""`aicommons citybrain …`: simulate signal controllers on SUMO (or converted CityFlow) networks as jobs,
and train learned controllers into the model hub."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from aicommons import data
from aicommons.cli import rendering
from aicommons.cli.jobs import finish_or_report, parse_params
from aicommons.cli.state import CliState, state
from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain import runs, training
from aicommons.scenarios.citybrain.schemas import (
    RunCreate,
    RunRead,
    TimingSpec,
)

app = typer.Typer(help="City Brain: adaptive traffic-signal control on SUMO networks, run as jobs.", no_args_is_help=True)


def parse_seeds(text: str) -> list[int]:
    """`0,1,2` into [0, 1, 2]."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise Invalid(f"The '--seeds' option must be comma-separated integers like 0,1,2; got {text!r}.") from None


def _stored_files(cli: CliState, network: Path | None, routes: Path | None, roadnet: Path | None, flow: Path | None) -> tuple[str, str]:
    """Upload the SUMO files, or convert the CityFlow ones into a scratch folder first and upload those."""
    blobs = cli.runtime().blobs
    if roadnet is not None or flow is not None:
        if roadnet is None or flow is None or network is not None or routes is not None:
            raise Invalid("Give either --network and --routes (SUMO) or --cityflow-roadnet and --cityflow-flow (CityFlow), not a mix.")
        from aicommons.scenarios.citybrain.cityflow import convert

        with tempfile.TemporaryDirectory(prefix="citybrain-convert-") as scratch:
            converted = convert(roadnet, flow, Path(scratch))
            rendering.out.print(f"Converted {roadnet.name} + {flow.name}: {converted.intersections} intersections, {converted.vehicles} vehicles")
            return runs.store_network(blobs, converted.net_file, converted.route_file)
    if network is None or routes is None:
        raise Invalid("Give --network NET.xml and --routes ROU.xml, or --cityflow-roadnet and --cityflow-flow.")
    return runs.store_network(blobs, network, routes)


@app.command("run")
def run(
    ctx: typer.Context,
    network: Annotated[Path | None, typer.Option("--network", help="SUMO .net.xml network.")] = None,
    routes: Annotated[Path | None, typer.Option("--routes", help="SUMO .rou.xml routes.")] = None,
    cityflow_roadnet: Annotated[Path | None, typer.Option("--cityflow-roadnet", help="CityFlow roadnet.json, converted to SUMO first.")] = None,
    cityflow_flow: Annotated[Path | None, typer.Option("--cityflow-flow", help="CityFlow flow.json, converted to SUMO first.")] = None,
    controller: Annotated[str, typer.Option(help="A registered controller; see `aicommons citybrain controllers`.")] = "max-pressure",
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="Controller KEY=VALUE (JSON values); repeat.")] = None,
    kind: Annotated[str, typer.Option(help="What to simulate beside the controller; see `aicommons citybrain kinds`.")] = "signal-control",
    scenario: Annotated[list[str] | None, typer.Option("--scenario", "-s", help="The kind's KEY=VALUE (JSON values); repeat.")] = None,
    seeds: Annotated[str, typer.Option(help="Comma-separated SUMO seeds, one episode each (1 to 10).")] = "0",
    duration: Annotated[float, typer.Option(help="Simulated seconds per episode (60 to 86400).")] = 3600.0,
    action_interval: Annotated[float, typer.Option(help="Seconds between decisions.")] = 5.0,
    yellow: Annotated[float, typer.Option(help="Seconds of yellow between two greens.")] = 3.0,
    min_green: Annotated[float, typer.Option(help="Minimum seconds of green.")] = 5.0,
    name: Annotated[str, typer.Option(help="A label for the run.")] = "",
    wait: Annotated[bool, typer.Option(help="Follow the run with a progress bar, then print its metrics.")] = True,
) -> None:
    """Simulate a network with one controller for each seed, as a job."""
    cli = state(ctx)
    net_sha256, routes_sha256 = _stored_files(cli, network, routes, cityflow_roadnet, cityflow_flow)
    spec = RunCreate(
        name=name, kind=kind, scenario=parse_params(scenario or []), net_sha256=net_sha256, routes_sha256=routes_sha256,
        controller=controller, params=parse_params(param or []),
        timing=TimingSpec(action_interval=action_interval, yellow=yellow, min_green=min_green), seeds=parse_seeds(seeds), duration=duration,
    )
    with cli.session() as (session, actor):
        started = runs.start_run(session, cli.runtime().blobs, actor, spec)
    rendering.out.print(f"City Brain run [bold]{started.id}[/]: {kind}, {controller}, {len(spec.seeds)} seed(s) × {duration:g} s")
    finish_or_report(cli, _job(cli, started.job_id), wait=wait)
    if wait and _job(cli, started.job_id).status == "succeeded":
        _show(cli, started.id)


def _job(cli: CliState, job_id: str) -> Any:
    from aicommons.core import jobs

    with cli.session() as (session, actor):
        return jobs.get_job(session, actor, job_id)


def _show(cli: CliState, run_id: str) -> RunRead:
    with cli.session() as (session, actor):
        found = runs.get_run(session, actor, run_id)
    rendering.out.print(
        f"Run {found.id} ({found.name or 'unnamed'}), {found.kind}{f' {found.scenario}' if found.scenario else ''}: "
        f"{found.controller}{f' {found.params}' if found.params else ''}, {found.status}; "
        f"network {found.net_sha256[:12]}, routes {found.routes_sha256[:12]}, {found.duration:g} s, timing {found.timing}"
    )
    if found.episodes and found.kind != "signal-control":
        _scenario_episodes(found.episodes, runs.run_kinds.get(found.kind).columns)
    elif found.episodes:
        rendering.table(
            "Episodes", ["seed", "travel time s", "throughput", "queue", "delay s", "sim s / wall s", "teleports"],
            ((e["seed"], f"{e['average_travel_time']:.1f}", e["throughput"], f"{e['average_queue']:.2f}", f"{e['average_delay']:.1f}",
              f"{e['simulated_per_wall_second']:.0f}", e.get("teleports", 0)) for e in found.episodes),
        )
    if found.summary:
        rendering.table(
            f"Summary over {len(found.episodes)} seed(s)", ["metric", "mean", "std"],
            ((metric, f"{found.summary[metric].mean:.2f}", f"{found.summary[metric].std:.2f}") for metric in found.summary),
        )
    return found


def _scenario_episodes(episodes: list[dict[str, Any]], columns: Sequence[str]) -> None:
    """A green-wave or incidents run's episodes: the seed and the fields its kind names (else every number)."""
    columns = list(columns) or [
        key for key, value in episodes[0].items() if key != "seed" and isinstance(value, int | float) and not isinstance(value, bool)
    ]
    rendering.table(
        "Episodes", ["seed", *columns],
        ((e["seed"], *(f"{e[c]:.4g}" if isinstance(e.get(c), float) else e.get(c, "") for c in columns)) for e in episodes),
    )


@app.command("show")
def show(ctx: typer.Context, run_id: str, json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Show a run's episodes and summary."""
    cli = state(ctx)
    if json_out:
        with cli.session() as (session, actor):
            rendering.as_json(runs.get_run(session, actor, run_id))
        return
    _show(cli, run_id)


@app.command("runs")
def list_runs(
    ctx: typer.Context,
    controller: Annotated[str | None, typer.Option(help="Only runs of this controller.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only runs of this kind (signal-control, green-wave, incidents).")] = None,
    limit: int = 50,
) -> None:
    """List your organisation's runs."""
    cli = state(ctx)
    with cli.session() as (session, actor):
        page = runs.list_runs(session, actor, controller=controller, kind=kind, limit=limit)

    def headline(r: RunRead) -> str:
        metric = runs.run_kinds.get(r.kind).headline
        summary = r.summary.get(metric)
        return f"{metric.replace('_', ' ')} {summary.mean:.4g} ± {summary.std:.2g}" if summary else ""

    rendering.table(
        "City Brain runs", ["id", "name", "kind", "controller", "seeds", "duration s", "status", "headline"],
        ((r.id, r.name, r.kind, r.controller, ",".join(map(str, r.seeds)), f"{r.duration:g}", r.status, headline(r)) for r in page.items),
    )


@app.command("convert")
def convert_files(
    roadnet: Annotated[Path, typer.Argument(help="CityFlow roadnet.json.")],
    flow: Annotated[Path, typer.Argument(help="CityFlow flow.json.")],
    out_dir: Annotated[Path, typer.Argument(help="Folder for the SUMO .net.xml and .rou.xml (and netconvert's plain files).")],
) -> None:
    """Convert a CityFlow roadnet and flow into SUMO files."""
    from aicommons.scenarios.citybrain.cityflow import convert

    converted = convert(roadnet, flow, out_dir)
    rendering.out.print(
        f"Wrote {converted.net_file} and {converted.route_file}: {converted.intersections} intersections, "
        f"{converted.roads} roads, {converted.lanes} lanes, {converted.vehicles} vehicles"
    )


@app.command("kinds")
def list_kinds() -> None:
    """List what a run can simulate beside the controller (`--kind`)."""
    rendering.table("Run kinds", ["name", "headline", "description"], ((k, runs.run_kinds.get(k).headline, runs.run_kinds.get(k).description) for k in runs.run_kinds.names()))


@app.command("controllers")
def list_controllers() -> None:
    """List the registered signal controllers."""
    rendering.table("Signal controllers", ["name", "description"], ((c.name, c.description) for c in runs.describe_controllers()))


@app.command("train")
def train(
    ctx: typer.Context,
    model: Annotated[str, typer.Option("--model", help="A model id you may write, or a name (your org's model, created if none).")],
    network: Annotated[Path | None, typer.Option("--network", help="SUMO .net.xml network.")] = None,
    routes: Annotated[Path | None, typer.Option("--routes", help="SUMO .rou.xml routes.")] = None,
    cityflow_roadnet: Annotated[Path | None, typer.Option("--cityflow-roadnet", help="CityFlow roadnet.json, converted to SUMO first.")] = None,
    cityflow_flow: Annotated[Path | None, typer.Option("--cityflow-flow", help="CityFlow flow.json, converted to SUMO first.")] = None,
    dataset: Annotated[str | None, typer.Option("--dataset", help="A traffic dataset to train on instead of files: DATASET or DATASET@N.")] = None,
    scenario: Annotated[str | None, typer.Option("--scenario", help="With --dataset: which scenario (routes file); the first by name if not given.")] = None,
    episodes: Annotated[int, typer.Option(help="Training episodes (1 to 200).")] = 10,
    episode_duration: Annotated[float, typer.Option(help="Simulated seconds per episode (60 to 14400).")] = 3600.0,
    seed: Annotated[int, typer.Option(help="Seeds torch, exploration and SUMO: the same seed gives the same weights.")] = 0,
    demonstrations: Annotated[int, typer.Option(help="Leading episodes driven by max pressure (a warm start).")] = 1,
    action_interval: Annotated[float, typer.Option(help="Seconds between decisions.")] = 5.0,
    yellow: Annotated[float, typer.Option(help="Seconds of yellow between two greens.")] = 3.0,
    min_green: Annotated[float, typer.Option(help="Minimum seconds of green.")] = 5.0,
    wait: Annotated[bool, typer.Option(help="Follow the training with a progress bar, then print its history.")] = True,
) -> None:
    """Train a learned signal controller (DQN, one scorer shared by every intersection) into a model version, as a job."""
    cli = state(ctx)
    files: dict[str, str | None] = {"scenario": scenario}
    if dataset is None:
        files["net_sha256"], files["routes_sha256"] = _stored_files(cli, network, routes, cityflow_roadnet, cityflow_flow)
    elif network or routes or cityflow_roadnet or cityflow_flow:
        raise Invalid("Give either --dataset or network files (--network/--routes or --cityflow-roadnet/--cityflow-flow), not both.")
    with cli.session() as (session, actor):
        if dataset is not None:
            name, _, number = dataset.partition("@")
            found = data.find_dataset(session, actor, name)
            files["dataset_version_id"] = data.resolve_version(session, actor, found.id, int(number) if number.isdigit() else None).id
        spec = training.TrainingCreate(
            model=model, episodes=episodes, episode_duration=episode_duration, seed=seed, demonstration_episodes=demonstrations,
            timing=TimingSpec(action_interval=action_interval, yellow=yellow, min_green=min_green), **files,
        )
        started = training.start_training(session, cli.runtime(), actor, spec)
    rendering.out.print(f"City Brain training [bold]{started.id}[/]: model {started.params['model_id']}, {episodes} episode(s) × {episode_duration:g} s")
    finish_or_report(cli, started, wait=wait)
    finished = _job(cli, started.id)
    if wait and finished.status == "succeeded":
        result = finished.result or {}
        rendering.table(
            "Training episodes", ["episode", "travel time s", "reward", "epsilon", "demonstration"],
            ((h["episode"], f"{h['average_travel_time']:.1f}", f"{h['reward']:.1f}", f"{h['epsilon']:.2f}", "yes" if h["demonstration"] else "")
             for h in result.get("history", [])),
        )
        metrics = result.get("metrics", {})
        rendering.out.print(
            f"Model {result.get('model_id')} version {result.get('number')} ({result.get('version_id')}): travel time "
            f"{metrics.get('average_travel_time', float('nan')):.1f} s, fixed time {metrics.get('fixed_time_average_travel_time', float('nan')):.1f} s"
        )
