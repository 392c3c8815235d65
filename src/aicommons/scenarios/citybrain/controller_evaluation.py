"""Evaluating and filing a learned signal controller like any other algorithm.

A signal-control model is not tested on labelled records but on road networks: its subject is the
model's ONNX phase scorer and the scenarios (a network and its routes) of a traffic dataset
version. Four tests examine it, each simulating the scenarios with SUMO:

- `signal-performance` (accuracy's counterpart): average travel time, throughput and delay against
  fixed time and max pressure on the same seeds: how much better than the city's fixed plans it
  is, and how far behind or ahead of the best-known hand-written rule;
- `signal-robustness`: the same hour when the loop detectors the controller reads fail
  (`detector-dropout`: a lane reads empty) or miscount (`count-noise`), at three severities: the
  relative rise in travel time over its clean run;
- `signal-safety`: starvation and collisions. The longest and the 95th-percentile delay any vehicle
  suffers, against max pressure's on the same seeds (a controller can win on average by making a
  few drivers wait forever), and SUMO's collision teleports;
- `signal-efficiency`: the time one decision takes, and simulated seconds per wall second: a
  controller must decide well within its action interval to run on real signals.

Episodes are kept for the run (per scenario, controller, seed, duration and perturbation), so the
safety test reads the performance test's episodes instead of simulating them again.

Filings of signal-control models run the `signal-control-filing` suite and are graded by
`signal_control_policy.yaml` (this package), registered as the task's filing profile.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from aicommons.core.blobs import BlobStore
from aicommons.core.errors import Invalid
from aicommons.evaluation.builtin import charts
from aicommons.evaluation.catalogue import Suite, SuiteEntry, TestSpec, register_suite, register_test, subject_builders
from aicommons.evaluation.outcomes import Chart, TestOutcome
from aicommons.filing.grading import GradingPolicy
from aicommons.filing.profiles import FilingProfile, filing_profiles
from aicommons.models.schemas import ModelVersionRead, Task
from aicommons.scenarios.citybrain.controllers import Controller, FixedTime, MaxPressure, Timing
from aicommons.scenarios.citybrain.learning import LearnedController
from aicommons.scenarios.citybrain.network import Intersection, LaneState, Observation
from aicommons.scenarios.citybrain.network_datasets import TrafficScenario, traffic_scenarios
from aicommons.scenarios.citybrain.simulation import Trip, run_episode

MODEL, FIXED_TIME, MAX_PRESSURE = "model", "fixed-time", "max-pressure"
MAX_SCENARIOS = 10  # scenarios a test simulates at most: bounds a run's hours of simulation
PERTURBATIONS = ("detector-dropout", "count-noise")


# --- what is tested ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Episode:
    """One simulated episode's figures, with the per-vehicle delays the safety test needs."""

    average_travel_time: float
    throughput: int
    average_delay: float
    vehicles: int
    teleports: int
    delays: tuple[float, ...]  # per inserted vehicle (s), from its scheduled departure


class _TripRecorder:
    """An intervention that only keeps the episode's trips (the runner hands them over at the end)."""

    def __init__(self) -> None:
        self.trips: Sequence[Trip] = ()

    def start(self, simulation: Any, intersections: Sequence[Intersection]) -> None:
        pass

    def after_step(self, simulation: Any, now: float) -> None:
        pass

    def preempt(self, intersection: Intersection, now: float) -> int | None:
        return None

    def finish(self, trips: Sequence[Trip]) -> None:
        self.trips = trips


class TrafficSubject:
    """A signal-control model and the traffic scenarios it is tested on."""

    description = "signal controllers on road networks"

    def __init__(
        self, *, onnx_bytes: bytes, scenarios: Sequence[TrafficScenario], blobs: BlobStore, task: str = Task.signal_control.value,
        seed: int = 0, timing: Timing | None = None, progress: Callable[[float, str], None] | None = None,
    ):
        if not scenarios:
            raise Invalid("A signal controller needs at least one traffic scenario to be tested on.")
        self.onnx_bytes = onnx_bytes
        self.model_sha256 = hashlib.sha256(onnx_bytes).hexdigest()
        self.scenarios = list(scenarios)[:MAX_SCENARIOS]
        self.blobs = blobs
        self.task = task
        self.seed = seed
        self.timing = timing or Timing()
        self._progress = progress or (lambda fraction, message: None)
        self._episodes: dict[tuple[Any, ...], Episode] = {}
        self._scratch = tempfile.TemporaryDirectory(prefix="citybrain-evaluation-")
        weakref.finalize(self, self._scratch.cleanup)
        LearnedController(onnx_bytes=onnx_bytes)  # its ONNX must fit the controller: refused before any simulation

    def progress(self, fraction: float, message: str = "") -> None:
        self._progress(fraction, message)

    def inputs_summary(self) -> dict[str, Any]:
        listed = [[s.name, s.net_sha256, s.routes_sha256] for s in self.scenarios]
        return {"scenarios": [s.name for s in self.scenarios],
                "scenarios_sha256": hashlib.sha256(json.dumps(listed).encode()).hexdigest()}

    def seeds(self, count: int) -> list[int]:
        return [self.seed + offset for offset in range(count)]

    def controller(self, name: str) -> Controller:
        if name == MODEL:
            return LearnedController(onnx_bytes=self.onnx_bytes)
        if name == FIXED_TIME:
            return FixedTime()
        if name == MAX_PRESSURE:
            return MaxPressure()
        raise Invalid(f"Unknown reference controller {name!r}.")

    def episode(
        self, scenario: TrafficScenario, controller: str, seed: int, duration: float,
        perturbation: tuple[str, float] | None = None, wrap: Callable[[Controller], Controller] | None = None,
    ) -> Episode:
        """One episode, simulated once per run for each (scenario, controller, seed, duration, perturbation)."""
        key = (scenario.name, controller, seed, duration, perturbation)
        if wrap is None and key in self._episodes:
            return self._episodes[key]
        chosen = self.controller(controller)
        if perturbation is not None:
            chosen = PerturbedDetectors(chosen, *perturbation, seed=seed)
        if wrap is not None:
            chosen = wrap(chosen)
        net_file, route_file = self._files(scenario)
        recorder = _TripRecorder()
        result = run_episode(net_file, route_file, chosen, timing=self.timing, seed=seed, duration=duration, interventions=[recorder])
        episode = Episode(
            average_travel_time=result.average_travel_time, throughput=result.throughput, average_delay=result.average_delay,
            vehicles=result.vehicles, teleports=result.teleports, delays=tuple(trip.delay for trip in recorder.trips),
        )
        if wrap is None:
            self._episodes[key] = episode
        return episode

    def _files(self, scenario: TrafficScenario) -> tuple[Path, Path]:
        folder = Path(self._scratch.name)
        net_file, route_file = folder / f"{scenario.net_sha256}.net.xml", folder / f"{scenario.routes_sha256}.rou.xml"
        for sha256, path in ((scenario.net_sha256, net_file), (scenario.routes_sha256, route_file)):
            if not path.exists():
                self.blobs.copy_to(sha256, path)
        return net_file, route_file


def build_traffic_subject(
    blobs: BlobStore, version: ModelVersionRead, task: str, table: pa.Table | None, *,
    dataset_version_id: str | None = None, seed: int = 0, progress: Callable[[float, str], None] | None = None,
) -> TrafficSubject:
    if table is None or table.num_rows == 0:
        raise Invalid("The evaluation has no traffic scenarios to test on.")
    timing = Timing(**version.parameters["timing"]) if isinstance(version.parameters.get("timing"), dict) else Timing()
    return TrafficSubject(onnx_bytes=blobs.read_bytes(version.onnx_sha256), scenarios=traffic_scenarios(table), blobs=blobs,
                          task=task, seed=seed, timing=timing, progress=progress)


# --- failing detectors ------------------------------------------------------------------------


class PerturbedDetectors:
    """A controller that reads its loop detectors through a fault: `detector-dropout` (each incoming
    lane reads empty with probability `severity` at every decision, as a failed loop does) or
    `count-noise` (vehicle and halting counts off by Gaussian noise of `severity` × count + severity
    vehicles). The faults are drawn from `seed`, so a perturbed episode is reproducible."""

    def __init__(self, inner: Controller, perturbation: str, severity: float, *, seed: int):
        if perturbation not in PERTURBATIONS:
            raise Invalid(f"Unknown detector perturbation {perturbation!r}; known: {', '.join(PERTURBATIONS)}.")
        if not 0 <= severity <= 1:
            raise Invalid(f"A perturbation's severity must be within 0 to 1; got {severity!r}.")
        self.inner, self.perturbation, self.severity = inner, perturbation, severity
        self.name = inner.name
        self._rng = np.random.default_rng(seed)

    def reset(self, intersections: Sequence[Intersection], timing: Timing) -> None:
        self.inner.reset(intersections, timing)

    def decide(self, intersection: Intersection, observation: Observation) -> int:
        incoming = set(intersection.incoming_lanes)
        lanes = {lane: (self._fault(state) if lane in incoming else state) for lane, state in observation.lanes.items()}
        return self.inner.decide(intersection, replace(observation, lanes=lanes))

    def _fault(self, state: LaneState) -> LaneState:
        if self.perturbation == "detector-dropout":
            if self._rng.random() >= self.severity:
                return state
            return replace(state, vehicles=0, halting=0, occupancy=0.0)
        spread = self.severity * np.array([state.vehicles, state.halting]) + self.severity
        vehicles, halting = np.maximum(0, np.rint(np.array([state.vehicles, state.halting]) + self._rng.normal(0, spread))).astype(int)
        return replace(state, vehicles=int(vehicles), halting=int(min(halting, vehicles)))


class _TimedDecisions:
    """A controller whose decisions are timed (wall seconds per call)."""

    def __init__(self, inner: Controller):
        self.inner, self.name = inner, inner.name
        self.seconds: list[float] = []

    def reset(self, intersections: Sequence[Intersection], timing: Timing) -> None:
        self.inner.reset(intersections, timing)

    def decide(self, intersection: Intersection, observation: Observation) -> int:
        started = time.perf_counter()
        phase = self.inner.decide(intersection, observation)
        self.seconds.append(time.perf_counter() - started)
        return phase


# --- the tests --------------------------------------------------------------------------------


def _episodes(subject: TrafficSubject, params: dict[str, Any], controllers: Sequence[str], share: tuple[float, float] = (0.0, 1.0)) -> dict[tuple[str, str], list[Episode]]:
    """{(scenario, controller): [episode per seed]} over the run's scenarios and the test's seeds."""
    seeds, duration = subject.seeds(_count(params, "seeds")), _duration(params)
    jobs = [(scenario, controller, seed) for scenario in subject.scenarios for controller in controllers for seed in seeds]
    found: dict[tuple[str, str], list[Episode]] = {}
    for index, (scenario, controller, seed) in enumerate(jobs):
        subject.progress(share[0] + (share[1] - share[0]) * index / len(jobs), f"{scenario.name}: {controller}, seed {seed}")
        found.setdefault((scenario.name, controller), []).append(subject.episode(scenario, controller, seed, duration))
    return found


def _count(params: dict[str, Any], name: str) -> int:
    value = params.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 10:
        raise Invalid(f"The {name!r} parameter must be a whole number from 1 to 10; got {value!r}.")
    return value


def _duration(params: dict[str, Any]) -> float:
    value = params.get("duration")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 60 <= value <= 14_400:
        raise Invalid(f"The 'duration' parameter must be 60 to 14400 simulated seconds; got {value!r}.")
    return float(value)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def run_performance(subject: TrafficSubject, params: dict[str, Any]) -> TestOutcome:
    found = _episodes(subject, params, (MODEL, FIXED_TIME, MAX_PRESSURE))
    per_scenario: dict[str, dict[str, float]] = {}
    for scenario in subject.scenarios:
        travel = {c: _mean([e.average_travel_time for e in found[(scenario.name, c)]]) for c in (MODEL, FIXED_TIME, MAX_PRESSURE)}
        per_scenario[scenario.name] = {
            "average_travel_time": travel[MODEL], "fixed_time_travel_time": travel[FIXED_TIME], "max_pressure_travel_time": travel[MAX_PRESSURE],
            "throughput": _mean([e.throughput for e in found[(scenario.name, MODEL)]]),
            "average_delay": _mean([e.average_delay for e in found[(scenario.name, MODEL)]]),
            "improvement_over_fixed_time": 1 - travel[MODEL] / travel[FIXED_TIME],
            "relative_to_max_pressure": travel[MODEL] / travel[MAX_PRESSURE] - 1,
        }
    names = [s.name for s in subject.scenarios]

    def average(metric: str) -> float:
        return _mean([per_scenario[name][metric] for name in names])

    metrics = {metric: average(metric) for metric in next(iter(per_scenario.values()))}
    metrics["per_scenario"] = per_scenario
    chart = charts.bar_chart(
        names, {label: [per_scenario[n][key] for n in names] for label, key in
                (("model", "average_travel_time"), ("fixed time", "fixed_time_travel_time"), ("max pressure", "max_pressure_travel_time"))},
        title="Average travel time", ylabel="seconds",
    )
    seeds = subject.seeds(_count(params, "seeds"))
    notes = [f"{len(names)} scenario(s) × seeds {seeds[0]}–{seeds[-1]}, {_duration(params):g} s each; relative_to_max_pressure > 0 is slower than max pressure."]
    return TestOutcome(metrics, [Chart("travel-time", "Average travel time by controller", chart)], notes)


def run_robustness(subject: TrafficSubject, params: dict[str, Any]) -> TestOutcome:
    severities = params.get("severities")
    if not isinstance(severities, list) or not severities or not all(isinstance(s, (int, float)) and 0 < s <= 1 for s in severities):
        raise Invalid(f"The 'severities' parameter must be a list of numbers in (0, 1]; got {severities!r}.")
    seeds, duration = subject.seeds(_count(params, "seeds")), _duration(params)
    plan = [(scenario, seed, perturbation, float(severity)) for scenario in subject.scenarios for seed in seeds
            for perturbation in PERTURBATIONS for severity in severities]
    labels = [f"{float(s):g}" for s in severities]  # 1 and 1.0 are one severity
    increases: dict[str, dict[str, list[float]]] = {p: {label: [] for label in labels} for p in PERTURBATIONS}
    for index, (scenario, seed, perturbation, severity) in enumerate(plan):
        subject.progress(index / len(plan), f"{scenario.name}: {perturbation} {severity:g}, seed {seed}")
        clean = subject.episode(scenario, MODEL, seed, duration).average_travel_time
        perturbed = subject.episode(scenario, MODEL, seed, duration, perturbation=(perturbation, severity)).average_travel_time
        increases[perturbation][f"{severity:g}"].append(perturbed / clean - 1)
    relative = {p: {s: _mean(v) for s, v in by_severity.items()} for p, by_severity in increases.items()}
    every = [value for by_severity in relative.values() for value in by_severity.values()]
    metrics = {"mean_relative_increase": _mean(every), "worst_relative_increase": float(max(every)), "relative_increase": relative}
    chart = charts.bar_chart([f"severity {label}" for label in labels], {p: [relative[p][label] for label in labels] for p in PERTURBATIONS},
                             title="Travel time rise under detector faults", ylabel="relative increase")
    return TestOutcome(metrics, [Chart("detector-faults", "Travel time rise under detector faults", chart)],
                       ["Faults act on what the controller reads, not on the traffic: the same vehicles drive every episode."])


def run_safety(subject: TrafficSubject, params: dict[str, Any]) -> TestOutcome:
    found = _episodes(subject, params, (MODEL, MAX_PRESSURE))
    delays = {c: np.concatenate([np.asarray(e.delays) for (_, name), runs in found.items() if name == c for e in runs] or [np.zeros(1)])
              for c in (MODEL, MAX_PRESSURE)}
    model_runs = [e for (_, name), runs in found.items() if name == MODEL for e in runs]
    metrics = {
        "max_delay_s": float(delays[MODEL].max()), "p95_delay_s": float(np.percentile(delays[MODEL], 95)),
        "max_pressure_max_delay_s": float(delays[MAX_PRESSURE].max()), "max_pressure_p95_delay_s": float(np.percentile(delays[MAX_PRESSURE], 95)),
        "teleports": int(sum(e.teleports for e in model_runs)),
    }
    metrics["max_delay_ratio"] = metrics["max_delay_s"] / max(metrics["max_pressure_max_delay_s"], 1.0)
    metrics["p95_delay_ratio"] = metrics["p95_delay_s"] / max(metrics["max_pressure_p95_delay_s"], 1.0)
    notes = ["Delay counts from a vehicle's scheduled departure, so a vehicle kept from entering the network counts its wait.",
             "Teleports with jam teleporting switched off are collisions SUMO resolved."]
    return TestOutcome(metrics, [], notes)


def run_efficiency(subject: TrafficSubject, params: dict[str, Any]) -> TestOutcome:
    timed: list[_TimedDecisions] = []

    def wrap(controller: Controller) -> Controller:
        timed.append(_TimedDecisions(controller))
        return timed[-1]

    scenario, duration = subject.scenarios[0], _duration(params)
    subject.progress(0.0, f"{scenario.name}: timing decisions")
    started = time.perf_counter()
    subject.episode(scenario, MODEL, subject.seed, duration, wrap=wrap)
    wall = time.perf_counter() - started
    milliseconds = np.asarray(timed[0].seconds) * 1000
    metrics = {
        "decision_ms_p50": float(np.percentile(milliseconds, 50)), "decision_ms_p95": float(np.percentile(milliseconds, 95)),
        "decisions": int(milliseconds.size), "simulated_per_wall_second": duration / wall,
        "action_interval_s": subject.timing.action_interval,
    }
    return TestOutcome(metrics, [], [f"{duration:g} simulated seconds of {scenario.name}; one decision scores every phase of one intersection."])


register_test(TestSpec(
    name="signal-performance", title="Signal control: travel time", title_zh="信号控制：行程时间", category="accuracy",
    run=run_performance, subject_type=TrafficSubject, params={"seeds": 3, "duration": 3600},
    description="Average travel time, throughput and delay under the model, fixed time and max pressure on the same seeds.",
))
register_test(TestSpec(
    name="signal-robustness", title="Signal control: detector faults", title_zh="信号控制：检测器故障", category="robustness",
    run=run_robustness, subject_type=TrafficSubject, params={"seeds": 1, "duration": 3600, "severities": [0.1, 0.25, 0.5]},
    description="Travel time when loop detectors fail (a lane reads empty) or miscount, against the model's clean run.",
))
register_test(TestSpec(
    name="signal-safety", title="Signal control: starvation and collisions", title_zh="信号控制：饥饿与碰撞", category="safety",
    run=run_safety, subject_type=TrafficSubject, params={"seeds": 3, "duration": 3600},
    description="The longest and 95th-percentile delay of any vehicle against max pressure's, and collisions.",
))
register_test(TestSpec(
    name="signal-efficiency", title="Signal control: decision time", title_zh="信号控制：决策耗时", category="efficiency",
    run=run_efficiency, subject_type=TrafficSubject, params={"duration": 600},
    description="Wall time per decision and simulated seconds per wall second.",
))

_SIGNAL_TESTS = ("signal-performance", "signal-robustness", "signal-safety", "signal-efficiency")
register_suite(Suite(
    name="signal-control", title="Signal control suite", title_zh="信号控制测试套件",
    description="Travel time against fixed time and max pressure, detector faults, starvation and collisions, decision time.",
    entries=tuple(SuiteEntry(name) for name in _SIGNAL_TESTS),
))
register_suite(Suite(
    name="signal-control-filing", title="Signal control filing suite", title_zh="信号控制备案测试套件",
    description="What filing a signal-control model runs: the signal-control tests held to the signal-control grading policy's acceptable levels.",
    entries=(
        SuiteEntry("signal-performance", thresholds={"improvement_over_fixed_time": (">=", 0.0), "relative_to_max_pressure": ("<=", 0.1)}),
        SuiteEntry("signal-robustness", thresholds={"worst_relative_increase": ("<=", 0.5)}),
        SuiteEntry("signal-safety", thresholds={"max_delay_ratio": ("<=", 1.5), "teleports": ("<=", 0)}),
        SuiteEntry("signal-efficiency", thresholds={"decision_ms_p95": ("<=", 100.0)}),
    ),
))


@functools.cache
def signal_control_policy() -> GradingPolicy:
    text = resources.files("aicommons.scenarios.citybrain").joinpath("signal_control_policy.yaml").read_text(encoding="utf-8")
    return GradingPolicy.from_yaml(text)


subject_builders.add(Task.signal_control.value, build_traffic_subject)
filing_profiles.add(Task.signal_control.value, FilingProfile("signal-control-filing", signal_control_policy))
