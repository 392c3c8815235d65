"""City Brain: signal controllers on the real Hangzhou and Jinan networks, one hour each, in SUMO.

Datasets (read from ../shared/data/citybrain/, never copied): Hangzhou HZ-1 in the SUMO files the
literature ships; Hangzhou HZ-2 and Jinan JN-1 converted from CityFlow by our converter. For each,
FixedTime (the network's own program), SOTL, MaxPressure and our controllers run one hour per seed
with the same timing (5 s decisions, 3 s yellow, 5 s minimum green). We report average travel time
(CityFlow's convention: unfinished trips count their time so far) and throughput, mean ± std over
the seeds, each controller's change against FixedTime, and simulator speed.

The learned controller ("learned") is trained here on each dataset first (`--train-episodes`
episodes of one hour, the first driven by max pressure, SUMO seeds from 100 on so no training
episode shares a seed with the evaluation), then evaluated like the others; its training wall time
is reported beside it.

The published figures come from CityFlow, another simulator, so they are compared by direction
and relative change, not seconds: FixedTime → MaxPressure −21% on JN-1, −3% on HZ-2. Goals: our
MaxPressure improves on FixedTime where the literature's does; our best controller beats
MaxPressure's travel time on all three datasets; one controller's evaluation on one dataset (one
seed, one hour) takes under 2 minutes.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))
from reporting import Figure, arguments, report  # noqa: E402

from aicommons.scenarios.citybrain.cityflow import convert  # noqa: E402
from aicommons.scenarios.citybrain.controllers import Timing, controllers  # noqa: E402
from aicommons.scenarios.citybrain.learning import LearnedController, train_policy  # noqa: E402
from aicommons.scenarios.citybrain.simulation import run_episode  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "citybrain"
CONTROLLERS = ("fixed-time", "sotl", "max-pressure", "efficient-pressure", "learned")
TRAINING_SEED = 100  # training episodes use SUMO seeds 100, 101, …; evaluation uses 0, 1, …
PUBLISHED = {"JN-1": -21.0, "HZ-2": -3.0}  # FixedTime → MaxPressure, % change of travel time, CityFlow


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def datasets(folder: Path) -> dict[str, tuple[Path, Path]]:
    sumo = DATA / "hangzhou_4x4_sumo"
    found = {"HZ-1": (sumo / "hangzhou_4x4_gudang_18041610_1h.net.xml", sumo / "hangzhou_4x4_gudang_18041610_1h.rou.xml")}
    for name, roadnet, flow in (
        ("HZ-2", DATA / "hangzhou_4x4_cityflow" / "roadnet_4_4.json", DATA / "hangzhou_4x4_cityflow" / "anon_4_4_hangzhou_real_5816.json"),
        ("JN-1", DATA / "jinan_3x4_cityflow" / "roadnet_3_4.json", DATA / "jinan_3x4_cityflow" / "anon_3_4_jinan_real.json"),
    ):
        converted = convert(roadnet, flow, folder / name)
        found[name] = (converted.net_file, converted.route_file)
    return found


def main() -> None:
    parser = arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=3600.0)
    parser.add_argument("--train-episodes", type=int, default=5, help="Episodes to train the learned controller on each dataset.")
    args = parser.parse_args()
    if not DATA.exists():
        print(f"bench/citybrain.py: {DATA} is absent; nothing to measure.")
        return
    timing = Timing()
    results: dict[str, dict[str, list]] = {}
    training_seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="aicommons-bench-citybrain-") as folder:
        for dataset, (net, routes) in datasets(Path(folder)).items():
            policy = train_policy(net, routes, episodes=args.train_episodes, episode_duration=args.duration, seed=TRAINING_SEED, timing=timing)
            training_seconds[dataset] = policy.wall_seconds
            log(f"{dataset} learned: trained {args.train_episodes} episodes in {policy.wall_seconds:.0f} s")
            for name in CONTROLLERS:
                for seed in range(args.seeds):
                    controller = LearnedController(onnx_bytes=policy.onnx) if name == "learned" else controllers.get(name)()
                    episode = run_episode(net, routes, controller, timing=timing, seed=seed, duration=args.duration)
                    results.setdefault(dataset, {}).setdefault(name, []).append(episode)
                    log(f"{dataset} {name} seed {seed}: travel time {episode.average_travel_time:.1f} s, "
                        f"throughput {episode.throughput}, {episode.simulated_per_wall_second:.0f} sim-s/s")
    table = Table(title="Average travel time (s) and throughput, mean ± std over seeds", title_justify="left")
    for column in ("dataset", "controller", "travel time", "vs FixedTime", "throughput", "sim-s per wall-s", "published (CityFlow)"):
        table.add_column(column)
    figures: list[Figure] = []
    for dataset, by_controller in results.items():
        def mean(name: str, field: str) -> float:
            return statistics.fmean(getattr(e, field) for e in by_controller[name])

        fixed = mean("fixed-time", "average_travel_time")
        for name, episodes in by_controller.items():
            times = [e.average_travel_time for e in episodes]
            spread = statistics.pstdev(times) if len(times) > 1 else 0.0
            change = 100 * (statistics.fmean(times) / fixed - 1)
            published = f"{PUBLISHED[dataset]:+.0f}%" if name == "max-pressure" and dataset in PUBLISHED else ""
            table.add_row(dataset, name, f"{statistics.fmean(times):.1f} ± {spread:.1f}", f"{change:+.1f}%",
                          f"{mean(name, 'throughput'):.0f}", f"{mean(name, 'simulated_per_wall_second'):.0f}", published)
        pressure = mean("max-pressure", "average_travel_time")
        best = min((n for n in by_controller if n != "max-pressure"), key=lambda n: mean(n, "average_travel_time"))
        figures.append(Figure(f"{dataset}: max-pressure travel time vs fixed-time", "s", pressure, fixed, f"<= {fixed:.1f}", higher_is_better=False))
        figures.append(Figure(f"{dataset}: our best ({best}) vs max-pressure", "s", mean(best, "average_travel_time"), pressure, f"<= {pressure:.1f}", higher_is_better=False))
        figures.append(Figure(f"{dataset}: learned controller vs max-pressure", "s", mean("learned", "average_travel_time"), pressure, f"<= {pressure:.1f}", higher_is_better=False))
        wall = max(args.duration / e.simulated_per_wall_second for episodes in by_controller.values() for e in episodes)
        pressure_wall = statistics.fmean(args.duration / e.simulated_per_wall_second for e in by_controller["max-pressure"])
        figures.append(Figure(
            f"{dataset}: learned controller's training ({args.train_episodes} episodes) vs one max-pressure hour, wall time", "s",
            training_seconds[dataset], pressure_wall, "<= 600", higher_is_better=False,
        ))  # fmt: skip
        figures.append(Figure(f"{dataset}: slowest one-hour evaluation, wall time", "s", wall, 120.0, "<= 120", higher_is_better=False))
    report("City Brain: controllers in SUMO on real networks; peer: MaxPressure (and FixedTime)", "peer", figures, args.json)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
