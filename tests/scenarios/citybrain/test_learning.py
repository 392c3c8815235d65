"""The learned controller: phase features from an observation, one scorer for every phase (torch and
its ONNX agree), the controller run through onnxruntime, and DQN training that is deterministic
under its seed, starts from a clone of its demonstrator, keeps its best validated weights and beats
the program's fixed-time plan on a synthetic grid."""

from __future__ import annotations

import random

import numpy as np
import pytest

from aicommons.core.errors import Invalid
from aicommons.scenarios.citybrain.controllers import (
    FixedTime,
    Timing,
    controllers,
    layout_of,
)
from aicommons.scenarios.citybrain.learning import (
    FEATURES,
    VEHICLE_SCALE,
    Hyperparameters,
    LearnedController,
    build_scorer,
    epsilon_for,
    export_onnx,
    max_pressure_scorer,
    phase_features,
    train_policy,
)
from aicommons.scenarios.citybrain.network import (
    Intersection,
    LaneState,
    Observation,
    Phase,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.no_database  # training and ONNX only: nothing here touches SQL, so it runs once

# Two phases: north-south (n → s, plus a right turn r → e that is green in both) and east-west (w → e).
CROSSING = Intersection(
    id="j",
    phases=(
        Phase(index=0, state="GrG", movements=(("n", "s"), ("r", "e")), duration=30.0),
        Phase(index=2, state="rGG", movements=(("w", "e"), ("r", "e")), duration=30.0),
    ),
    incoming_lanes=("n", "w", "r"),
    outgoing_lanes=("s", "e"),
)


def _lane(vehicles: int, halting: int) -> LaneState:
    return LaneState(vehicles=vehicles, halting=halting, mean_speed=1.0, length=100.0, occupancy=0.1)


def _observation(current: int = 0, elapsed: float = 12.0) -> Observation:
    lanes = {"n": _lane(6, 4), "w": _lane(3, 1), "r": _lane(9, 9), "s": _lane(2, 2), "e": _lane(5, 0)}
    return Observation(time=100.0, lanes=lanes, current_phase=current, phase_elapsed=elapsed)


def test_phase_features_describe_each_phase_from_the_observation():
    features = phase_features(layout_of(CROSSING), _observation(current=0, elapsed=12.0))
    assert features.shape == (2, len(FEATURES)) and features.dtype == np.float32
    row = dict(zip(FEATURES, features[0] * 1.0))
    # Phase 0 serves n (the always-green lane r counts for no phase): 4 halting, 2 moving; n feeds s.
    assert row["served_halting"] == pytest.approx(4 / VEHICLE_SCALE) and row["served_moving"] == pytest.approx(2 / VEHICLE_SCALE)
    assert row["exit_vehicles"] == pytest.approx(2 / VEHICLE_SCALE) and row["exit_halting"] == pytest.approx(2 / VEHICLE_SCALE)
    assert row["pressure"] == pytest.approx(((6 - 2) + (9 - 5)) / VEHICLE_SCALE)  # max pressure over all its movements
    assert row["is_current"] == 1.0 and row["current_elapsed"] == pytest.approx(12 / 60)
    assert row["intersection_halting"] == pytest.approx(5 / VEHICLE_SCALE)
    other = dict(zip(FEATURES, features[1] * 1.0))
    assert other["served_halting"] == pytest.approx(1 / VEHICLE_SCALE) and other["is_current"] == 0.0 and other["current_elapsed"] == 0.0
    # The same observation gives the same features; a missing lane reads as empty.
    assert np.array_equal(features, phase_features(layout_of(CROSSING), _observation(current=0, elapsed=12.0)))
    sparse = Observation(time=0.0, lanes={}, current_phase=1, phase_elapsed=500.0)
    empty = phase_features(layout_of(CROSSING), sparse)
    assert empty[1, FEATURES.index("current_elapsed")] == 1.0 and empty[:, :5].sum() == 0.0


def test_one_scorer_scores_any_number_of_phases_and_its_onnx_agrees():
    scorer = build_scorer(seed=3)
    same = build_scorer(seed=3)
    assert all(torch.equal(a, b) for a, b in zip(scorer.state_dict().values(), same.state_dict().values()))
    assert not torch.equal(scorer.state_dict()["layers.0.weight"], build_scorer(seed=4).state_dict()["layers.0.weight"])

    import onnxruntime

    session = onnxruntime.InferenceSession(export_onnx(scorer), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    for phases in (1, 4, 8):
        features = rng.normal(size=(phases, len(FEATURES))).astype(np.float32)
        with torch.no_grad():
            expected = scorer(torch.from_numpy(features)).numpy()
        (scores,) = session.run(["q"], {"phase_features": features})
        assert scores.shape == (phases,)
        np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)


def test_the_learned_controller_shows_the_best_scoring_phase(tmp_path):
    scorer = build_scorer(seed=0)
    with torch.no_grad():  # a hand-set scorer: the score is the served halting vehicles
        for layer in scorer.layers:
            if isinstance(layer, torch.nn.Linear):
                layer.weight.zero_()
                layer.bias.zero_()
        scorer.layers[0].weight[0, FEATURES.index("served_halting")] = 1.0
        scorer.layers[2].weight[0, 0] = 1.0
        scorer.layers[4].weight[0, 0] = 1.0
    path = tmp_path / "policy.onnx"
    path.write_bytes(export_onnx(scorer))
    controller = controllers.get("learned")(onnx_path=str(path))
    controller.reset([CROSSING], Timing())
    assert controller.decide(CROSSING, _observation(current=1)) == 0  # n has 4 halting, w has 1
    quiet = Observation(time=0.0, lanes={}, current_phase=1, phase_elapsed=10.0)
    assert controller.decide(CROSSING, quiet) == 1  # a tie keeps the current green

    for bad, message in (({}, "exactly one of onnx_path"), ({"onnx_path": str(tmp_path / "absent.onnx")}, "existing .onnx file"),
                         ({"onnx_bytes": b"not onnx"}, "not a readable ONNX")):
        with pytest.raises(Invalid, match=message):
            LearnedController(**bad)


def test_epsilon_starts_after_the_demonstrations_and_decays_to_its_end():
    hyper = Hyperparameters(demonstration_episodes=1, epsilon_start=1.0, epsilon_end=0.05)
    assert [round(epsilon_for(e, 4, hyper), 3) for e in range(4)] == [0.1, 1.0, 0.525, 0.05]
    assert epsilon_for(0, 1, Hyperparameters(demonstration_episodes=0, epsilon_end=0.05)) == 0.05
    with pytest.raises(Invalid, match="gamma"):
        Hyperparameters(gamma=1.0)
    with pytest.raises(Invalid, match="demonstrator among max-pressure, efficient-pressure"):
        Hyperparameters(demonstrator="fixed-time")
    with pytest.raises(Invalid, match="margin"):
        Hyperparameters(margin=-0.1)


@pytest.fixture(scope="module")
def busy_grid(tmp_path_factory):
    from aicommons.scenarios.citybrain.simulation import synthetic_grid

    return synthetic_grid(tmp_path_factory.mktemp("busy"), size=2, duration=600.0, vehicles_per_hour=1800, seed=0)


def test_training_is_deterministic_under_its_seed(busy_grid):
    net_file, route_file = busy_grid
    reports = []
    quick = Hyperparameters(pretraining_steps=100)
    first = train_policy(net_file, route_file, episodes=2, episode_duration=120.0, seed=5, hyperparameters=quick,
                         progress=lambda f, m: reports.append((f, m)))
    again = train_policy(net_file, route_file, episodes=2, episode_duration=120.0, seed=5, hyperparameters=quick)
    other = train_policy(net_file, route_file, episodes=2, episode_duration=120.0, seed=6, hyperparameters=quick)
    assert first.weights == again.weights and first.onnx == again.onnx and first.history == again.history
    assert first.weights != other.weights
    assert [f for f, _ in reports] == [0.5, 1.0] and "max-pressure demonstration" in reports[0][1]
    assert [h["episode"] for h in first.history] == [1, 2] and first.history[0]["demonstration"] == 1.0
    assert all(h["average_travel_time"] > 0 and h["reward"] < 0 for h in first.history)
    assert first.hyperparameters["features"] == list(FEATURES) and first.hyperparameters["validation_seed"] == 5 + 2 + 1
    with pytest.raises(Invalid, match="episodes must be a positive"):
        train_policy(net_file, route_file, episodes=0, episode_duration=120.0)


class _RandomPhases:
    """A poor baseline: a random green at every decision (seeded)."""

    name = "random"

    def reset(self, intersections, timing):
        self.rng = random.Random(0)

    def decide(self, intersection, observation):
        return self.rng.randrange(len(intersection.phases))


def test_a_trained_policy_beats_fixed_time_and_random_greens(busy_grid):
    from aicommons.scenarios.citybrain.simulation import run_episode

    net_file, route_file = busy_grid
    policy = train_policy(net_file, route_file, episodes=4, episode_duration=600.0, seed=0)
    assert policy.history[-1]["epsilon"] == Hyperparameters().epsilon_end

    def travel(controller) -> float:
        return float(np.mean([run_episode(net_file, route_file, controller, seed=s, duration=600.0).average_travel_time for s in (10, 11)]))

    learned, fixed, randomly = travel(LearnedController(onnx_bytes=policy.onnx)), travel(FixedTime()), travel(_RandomPhases())
    assert learned < 0.9 * fixed, (learned, fixed)
    assert learned < 0.95 * randomly, (learned, randomly)


class _Agreement:
    """Drives with one controller and counts how often another would have chosen the same phase."""

    name = "agreement"

    def __init__(self, driver, reference):
        self.driver, self.reference, self.same, self.total = driver, reference, 0, 0

    def reset(self, intersections, timing):
        self.driver.reset(intersections, timing)
        self.reference.reset(intersections, timing)

    def decide(self, intersection, observation):
        choice = self.driver.decide(intersection, observation)
        self.same += choice == self.reference.decide(intersection, observation)
        self.total += 1
        return choice


def test_pretraining_clones_the_demonstrator(busy_grid):
    from aicommons.scenarios.citybrain.simulation import run_episode

    net_file, route_file = busy_grid

    def agreement(demonstrator: str, **hyper) -> float:
        trained = Hyperparameters(demonstrator=demonstrator, validate=False, **hyper)
        policy = train_policy(net_file, route_file, episodes=1, episode_duration=600.0, seed=0, hyperparameters=trained)
        counting = _Agreement(LearnedController(onnx_bytes=policy.onnx), controllers.get(demonstrator)())
        run_episode(net_file, route_file, counting, seed=10, duration=600.0)
        assert counting.total > 100
        return counting.same / counting.total

    # The hand-set network is max pressure exactly.
    exact = _Agreement(LearnedController(onnx_bytes=export_onnx(max_pressure_scorer())), controllers.get("max-pressure")())
    run_episode(net_file, route_file, exact, seed=10, duration=600.0)
    assert exact.total > 100 and exact.same == exact.total

    cloned = {demonstrator: agreement(demonstrator) for demonstrator in ("max-pressure", "efficient-pressure")}
    # Learning from the demonstration's rewards alone (no pretraining, no margin loss) agrees far less often.
    rewards_only = agreement("max-pressure", pretraining_steps=0, demonstration_weight=0.0)
    assert min(cloned.values()) > 0.85 and cloned["max-pressure"] > rewards_only + 0.1, (cloned, rewards_only)


def test_training_keeps_the_weights_with_the_best_validation_episode(busy_grid):
    from aicommons.scenarios.citybrain.simulation import run_episode

    net_file, route_file = busy_grid
    policy = train_policy(net_file, route_file, episodes=3, episode_duration=300.0, seed=1, validation_seed=40,
                          hyperparameters=Hyperparameters(epsilon_start=0.5))
    validated = [h["validation_travel_time"] for h in policy.history]  # the clone after the demonstration, then each episode's net
    assert len(validated) == 3 and policy.hyperparameters["validation_seed"] == 40
    # Max pressure (as a network) is a candidate too, so the weights kept are never worse than it on validation.
    candidates = [policy.validation["max_pressure"], *validated]
    assert policy.validation["kept"] == min(candidates)
    kept = run_episode(net_file, route_file, LearnedController(onnx_bytes=policy.onnx), seed=40, duration=300.0)
    assert kept.average_travel_time == pytest.approx(min(candidates))
