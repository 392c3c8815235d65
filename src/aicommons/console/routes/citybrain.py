"""City Brain: runs, the form that starts one, the network drawn as SVG with a replay of queue
lengths, controller comparisons."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from aicommons import data
from aicommons.console import charts, road_map
from aicommons.console.deps import Member, MemberDep, PostingMemberDep, RuntimeDep, SessionDep
from aicommons.console.locales import Translator
from aicommons.console.pages import ConsoleRoute, redirect, render
from aicommons.core.errors import Invalid, NotFound
from aicommons.core.runtime import Runtime
from aicommons.scenarios.citybrain import runs
from aicommons.scenarios.citybrain.controllers import controllers
from aicommons.scenarios.citybrain.network_datasets import dataset_scenario, traffic_scenarios
from aicommons.scenarios.citybrain.schemas import RunCreate, TimingSpec

router = APIRouter(route_class=ConsoleRoute)
FormText = Annotated[str, Form(max_length=100_000)]  # the schema bounds each field
PAGE_SIZE = 50
FINISHED = ("succeeded", "failed", "cancelled")


@router.get("/citybrain")
def run_list(
    request: Request,
    session: SessionDep,
    member: MemberDep,
    kind: Annotated[str, Query(max_length=30)] = "",
    controller: Annotated[str, Query(max_length=60)] = "",
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    page = runs.list_runs(
        session,
        member.actor,
        kind=kind or None,
        controller=controller or None,
        limit=PAGE_SIZE,
        cursor=cursor,
    )
    return render(
        request,
        member,
        "citybrain/list.html",
        page=page,
        headlines={run.id: runs.headline(run) for run in page.items},
        kind=kind,
        controller=controller,
        kinds=runs.run_kinds.names(),
        controllers=controllers.names(),
    )


def _describe(member: Member):
    def describe(intersection: str, queue: int | None) -> str:
        if queue is None:
            return member.translator.gettext("{id}: no queue recorded", id=intersection)
        return member.translator.gettext(
            "{id}: {count} halting vehicles", id=intersection, count=queue
        )

    return describe


@router.get("/citybrain/runs/{run_id}")
def run_page(
    request: Request,
    run_id: str,
    session: SessionDep,
    member: MemberDep,
    runtime: RuntimeDep,
    seed: Annotated[int | None, Query(ge=0)] = None,
    t: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    run = runs.get_run(session, member.actor, run_id)
    shown_seed = seed if seed is not None else run.seeds[0]
    timeline = runs.get_queue_timeline(session, member.actor, run_id, shown_seed)
    moment = min(t, len(timeline.times) - 1) if timeline and timeline.times else 0
    network = runs.get_network_map(session, runtime.blobs, member.actor, run_id)
    gettext = member.translator.gettext
    drawn = None
    if network is not None:
        drawn = road_map.road_map(
            network,
            road_map.queues_at(timeline, moment),
            describe=_describe(member),
            title=gettext("The road network: intersections coloured by queue length"),
        )
    replay = road_map.replay_data(
        timeline, title_template=gettext("{id}: {count} halting vehicles"), no_data=gettext("{id}: no queue recorded"),
    ) if timeline else None  # fmt: skip
    episode = next((e for e in run.episodes if e.get("seed") == shown_seed), None)
    return render(
        request, member, "citybrain/run.html", run=run, headline=runs.headline(run), columns=runs.episode_columns(run.kind),
        shown_seed=shown_seed, timeline=timeline, moment=moment, clock=road_map.clock, drawn=drawn, replay=replay,
        bands=road_map.band_labels(), episode=episode, finished=run.status in FINISHED,
    )  # fmt: skip


@router.get("/citybrain/runs/{run_id}/compare")
def comparison(
    request: Request, run_id: str, session: SessionDep, member: MemberDep
) -> Response:
    run = runs.get_run(session, member.actor, run_id)
    results = runs.compare_controllers(session, member.actor, run_id)
    names = [r.controller for r in results]
    this_one = [index for index, name in enumerate(names) if name == run.controller]
    gettext, number = member.translator.gettext, member.translator.number
    travel = charts.bar_chart(names, [r.average_travel_time for r in results], title=gettext("Average travel time (s)"),
                              unit=" s", fmt=number, highlight=this_one) if results else None  # fmt: skip
    throughput = charts.bar_chart(names, [r.throughput for r in results], title=gettext("Throughput (vehicles)"),
                                  fmt=number, highlight=this_one) if results else None  # fmt: skip
    return render(
        request,
        member,
        "citybrain/compare.html",
        run=run,
        results=results,
        travel=travel,
        throughput=throughput,
        clock=road_map.clock,
    )


# --- starting a run -------------------------------------------------------------------------------
# The API's `start_run` takes a network and a routes file by digest. The form offers them three ways:
# a scenario of a traffic dataset version the visitor may read, the network an earlier run of the
# organisation simulated (to compare another controller on it), or two files uploaded now (the
# API's `store_upload`, then the run).

TRAFFIC_DATASETS_OFFERED = 20
TRAFFIC_VERSIONS_OFFERED = 3  # per dataset, newest first
RUNS_OFFERED = 50  # the organisation's newest runs whose networks may be simulated again
UPLOAD = "upload"
QUICK_DURATION = 600  # simulated seconds: a first run that finishes in moments on a small network
_TIMING = TimingSpec()
NEW_RUN_DEFAULTS = {
    "name": "", "kind": "signal-control", "network": "", "controller": "max-pressure", "params": "", "scenario": "", "seeds": "0",
    "duration": str(QUICK_DURATION), "action_interval": f"{_TIMING.action_interval:g}", "yellow": f"{_TIMING.yellow:g}",
    "min_green": f"{_TIMING.min_green:g}",
}
PLACEHOLDER_SHA256 = "0" * 64  # stands for the network's files while the rest of the form is checked


@dataclass(frozen=True)
class NetworkGroup:
    """Road networks to choose from: (value, label) options under one heading."""

    label: str
    options: list[tuple[str, str]]


def _network_choices(session: Session, member: Member, runtime: Runtime) -> list[NetworkGroup]:
    """The scenarios of the traffic dataset versions the visitor may read (its organisation's first),
    then the networks of the organisation's earlier runs (each pair of files once)."""
    actor, gettext = member.actor, member.translator.gettext
    cache = data.manifest_cache(runtime)
    groups = []
    traffic = data.list_datasets(session, actor, modality=data.Modality.traffic, limit=TRAFFIC_DATASETS_OFFERED).items
    for dataset in sorted(traffic, key=lambda d: d.org_id != actor.org_id):  # the organisation's own first, newest first
        options = []
        for number in range(dataset.latest_version, max(0, dataset.latest_version - TRAFFIC_VERSIONS_OFFERED), -1):
            version = data.resolve_version(session, actor, dataset.id, number)
            try:
                scenarios = traffic_scenarios(data.read_version_table(session, cache, actor, version.id))
            except Invalid:  # a version without a network and its routes
                continue
            options += [(f"dataset:{version.id}:{s.name}", f"v{number} · {s.name}") for s in scenarios]
        if options:
            groups.append(NetworkGroup(gettext("Traffic dataset {name}", name=dataset.name), options))
    seen, earlier = set(), []
    for run in runs.list_runs(session, actor, limit=RUNS_OFFERED).items:
        if (run.net_sha256, run.routes_sha256) not in seen:
            seen.add((run.net_sha256, run.routes_sha256))
            earlier.append((f"run:{run.id}", gettext("The network of {run}", run=run.name or run.id)))
    if earlier:
        groups.append(NetworkGroup(gettext("Networks of earlier runs"), earlier))
    return groups


def _new_run_form(
    request: Request, session: Session, member: Member, runtime: Runtime, *, status_code: int = 200,
    form: dict[str, str] | None = None, errors: dict[str, str] | None = None,
) -> Response:
    groups = _network_choices(session, member, runtime)
    typed = {**NEW_RUN_DEFAULTS, **(form or {})}
    if not typed["network"]:
        typed["network"] = groups[0].options[0][0] if groups else UPLOAD
    kinds = [(name, runs.run_kinds.get(name)) for name in runs.run_kinds.names()]
    return render(
        request, member, "citybrain/new.html", status_code=status_code, form=typed, errors=errors or {}, networks=groups, upload=UPLOAD,
        kinds=[(name, kind.description, _scenario_defaults(kind)) for name, kind in kinds],
        controllers=runs.describe_controllers(),
    )


def _scenario_defaults(kind: runs.RunKind) -> str:
    """A kind's scenario parameters with their defaults (its own check fills them in), as JSON;
    empty for a kind that takes none or needs some named."""
    try:
        return json.dumps(kind.check({}), ensure_ascii=False)
    except Invalid:
        return ""


@router.get("/citybrain/new")
def new_run_page(
    request: Request, session: SessionDep, member: MemberDep, runtime: RuntimeDep,
    network: Annotated[str, Query(max_length=400)] = "", controller: Annotated[str, Query(max_length=60)] = "",
    kind: Annotated[str, Query(max_length=30)] = "",
) -> Response:
    """The form, optionally filled in from a link ("another controller on this run's network")."""
    chosen = {name: value for name, value in (("network", network), ("controller", controller), ("kind", kind)) if value}
    return _new_run_form(request, session, member, runtime, form=chosen)


def _new_run_messages(translator: Translator) -> dict[str, str]:
    _ = translator.gettext
    return {
        "name": _("A run's name is at most 120 characters."),
        "kind": _("Choose one of the run kinds listed."),
        "controller": _("Choose one of the controllers listed."),
        "params": _("Write the controller's parameters as a JSON object, or leave them empty."),
        "scenario": _("Write the scenario's parameters as a JSON object, or leave them empty."),
        "seeds": _("Give 1 to 10 different whole numbers from 0, separated by commas."),
        "duration": _("The simulated time is a number of seconds from 60 to 86,400."),
        "action_interval": _("The decision interval is a number of seconds from 1 to 600."),
        "yellow": _("The yellow time is a number of seconds from 0 to 60."),
        "min_green": _("The minimum green is a number of seconds from 0 to 600."),
        "network": _("Choose one of the road networks listed."),
    }


def _run_refusals(error: ValidationError) -> list[str]:
    """The form's fields a RunCreate refusal concerns (a timing's own field for the timing)."""
    locations = [[str(part) for part in e["loc"]] for e in error.errors() if e["loc"]]
    return list(dict.fromkeys(loc[1] if loc[0] == "timing" and len(loc) > 1 else loc[0] for loc in locations))


# What `start_run` refuses once the schema holds, by the spec field each refusal names
# (`AicommonsError.field`): the form's field that shows it, and whether the field's own message
# says it better than the service's reason. Other refusals show at the top.
_SERVICE_REFUSALS = {
    "duration": ("duration", True),
    "seeds": ("seeds", True),
    "kind": ("kind", True),
    "controller": ("controller", True),
    "params": ("params", False),  # bad parameters, or a learned controller's model
    "net_sha256": ("network", False),
    "routes_sha256": ("network", False),
    "scenario": ("scenario", False),  # the scenario's parameters, or a network they do not fit
}


def _json_object(text: str) -> dict[str, Any] | None:
    """A JSON object typed into a field; {} when empty, None when it is not an object."""
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _seeds(text: str) -> list[int] | None:
    parts = [part.strip() for part in text.replace("，", ",").split(",") if part.strip()]
    return [int(part) for part in parts] if parts and all(part.isdigit() and len(part) <= 10 for part in parts) else None


def _network_files(session: Session, member: Member, runtime: Runtime, choice: str, net_file: UploadFile | None,
                   routes_file: UploadFile | None, errors: dict[str, str]) -> tuple[str, str] | None:
    """The digests of the network and routes files the choice names, uploading them if need be;
    None, with the reason in `errors`, when it names none the visitor may use."""
    _ = member.translator.gettext
    source, _sep, rest = choice.partition(":")
    try:
        if choice == UPLOAD:
            missing = {name: _("Choose a SUMO .net.xml network file.") if name == "net_file" else _("Choose a SUMO .rou.xml routes file.")
                       for name, upload in (("net_file", net_file), ("routes_file", routes_file)) if upload is None or not upload.filename}
            if missing:
                errors.update(missing)
                return None
            assert net_file is not None and routes_file is not None
            stored = []
            for name, upload in (("net_file", net_file), ("routes_file", routes_file)):
                try:
                    stored.append(runs.store_upload(runtime.blobs, upload.file, upload.filename or name).sha256)
                except Invalid as refused:  # an empty file
                    errors[name] = _("This file cannot be used: {reason}", reason=refused.message)
            return (stored[0], stored[1]) if len(stored) == 2 else None
        if source == "run":
            run = runs.get_run(session, member.actor, rest)
            return run.net_sha256, run.routes_sha256
        if source == "dataset":
            version_id, _sep, scenario = rest.partition(":")
            found = dataset_scenario(session, data.manifest_cache(runtime), member.actor, version_id, scenario)
            return found.net_sha256, found.routes_sha256
    except (NotFound, Invalid):  # another organisation's run or private dataset, or no traffic dataset: as unknown
        pass
    errors["network"] = _new_run_messages(member.translator)["network"]
    return None


@router.post("/citybrain/new")
def start_run(
    request: Request, session: SessionDep, member: PostingMemberDep, runtime: RuntimeDep,
    name: FormText = "", kind: FormText = "", network: FormText = "", controller: FormText = "", params: FormText = "",
    scenario: FormText = "", seeds: FormText = "", duration: FormText = "", action_interval: FormText = "", yellow: FormText = "",
    min_green: FormText = "",
    net_file: Annotated[UploadFile | None, File()] = None, routes_file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """The API's `start_run`: the run is queued as a job, and its page follows it as it simulates."""
    form = {
        "name": name, "kind": kind, "network": network, "controller": controller, "params": params, "scenario": scenario,
        "seeds": seeds, "duration": duration, "action_interval": action_interval, "yellow": yellow, "min_green": min_green,
    }
    _ = member.translator.gettext
    messages = _new_run_messages(member.translator)
    errors: dict[str, str] = {}
    if kind not in runs.run_kinds:
        errors["kind"] = messages["kind"]
    if controller not in controllers:
        errors["controller"] = messages["controller"]
    controller_params, scenario_params, seed_list = _json_object(params), _json_object(scenario), _seeds(seeds)
    for field, value in (("params", controller_params), ("scenario", scenario_params), ("seeds", seed_list)):
        if value is None:
            errors[field] = messages[field]
    values = {
        "name": name, "kind": kind, "scenario": scenario_params or {}, "net_sha256": PLACEHOLDER_SHA256, "routes_sha256": PLACEHOLDER_SHA256,
        "controller": controller, "params": controller_params or {}, "seeds": seed_list or [0], "duration": duration,
        "timing": {"action_interval": action_interval, "yellow": yellow, "min_green": min_green},
    }
    spec, refused = _run_spec(values, messages)
    errors.update({field: message for field, message in refused.items() if field not in errors})
    if spec is not None and not errors:
        files = _network_files(session, member, runtime, network, net_file, routes_file, errors)
        if files is not None:
            spec = spec.model_copy(update={"net_sha256": files[0], "routes_sha256": files[1]})
            try:
                with session.begin_nested():  # a refusal part-way leaves nothing behind
                    run = runs.start_run(session, runtime.blobs, member.actor, spec)
                return redirect(f"/citybrain/runs/{run.id}")
            except (Invalid, NotFound) as refusal:
                field, own = _SERVICE_REFUSALS.get(refusal.field or "", ("params" if isinstance(refusal, NotFound) else "form", False))
                errors[field] = messages[field] if own else _("This run cannot start: {reason}", reason=refusal.message)
    return _new_run_form(request, session, member, runtime, status_code=422, form=form, errors=errors)


def _run_spec(values: dict[str, Any], messages: dict[str, str]) -> tuple[RunCreate | None, dict[str, str]]:
    """The form's values as the service's RunCreate, or None and a message per refused field."""
    try:
        return RunCreate(**values), {}
    except ValidationError as error:
        return None, {field: messages[field] for field in _run_refusals(error) if field in messages}
