"""`aicommons demo`: the whole lifecycle on built-in data, with a progress bar per stage."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from aicommons.cli import rendering
from aicommons.core.config import Settings
from aicommons.core.home import init_home
from aicommons.core.runtime import Runtime


def demo(
    stop_after: Annotated[str | None, typer.Option(help="Stop after this stage (datasets, clean, train, compress, evaluate, file, approve, deploy, predict).")] = None,
    if_new: Annotated[bool, typer.Option("--if-new", help="Do nothing when this home already holds the demo's filed model (`make run` seeds once).")] = False,
) -> None:
    """Walk the lifecycle: datasets → clean and de-identify → train → compress → evaluate → file → approve → deploy → predict."""
    from aicommons.demo import STAGES, Walkthrough

    settings = Settings()
    init_home(settings)
    runtime = Runtime.from_settings(settings)
    if if_new and Walkthrough.walked_before(runtime):
        runtime.close()
        rendering.out.print("The demo has run in this home already; `aicommons demo` walks it again.")
        return
    columns = (TextColumn("{task.description:<52}"), BarColumn(), TextColumn("{task.percentage:>5.1f}%"), TimeElapsedColumn(), TextColumn("{task.fields[message]}"))
    started = time.perf_counter()
    try:
        with Progress(*columns, console=rendering.out) as bar:
            tasks: dict[str, TaskID] = {key: bar.add_task(title, total=1.0, message="", start=False) for key, title in STAGES}

            def report(key: str, fraction: float, message: str) -> None:
                if not bar.tasks[tasks[key]].started:
                    bar.start_task(tasks[key])
                bar.update(tasks[key], completed=fraction, message=message[:60])

            results = Walkthrough(runtime, report).run(stop_after=stop_after)
    finally:
        runtime.close()
    rendering.table(
        f"aicommons demo: {time.perf_counter() - started:.0f} s in all", ["stage", "seconds", "result"],
        ((r.title, f"{r.seconds:.1f}", _summary(r.key, r.detail)) for r in results),
    )


def _summary(key: str, detail: dict[str, Any]) -> str:
    """One line per stage: the figures a visitor wants to see."""
    if key == "train":
        return ", ".join(f"{name} accuracy {accuracy}" for name, accuracy in detail["accuracy"].items())
    if key == "compress":
        return "; ".join(
            f"{name} {d['method']}: {d['size_ratio']:.2f}× smaller, {d['speedup_b32']:.2f}× faster (b32), {d['accuracy_points']:+.2f} points"
            for name, d in detail.items()
        )
    if key == "evaluate":
        return "; ".join(f"{name}: " + ", ".join(f"{t} {s}" for t, s in statuses.items()) for name, statuses in detail.items())
    if key == "file":
        return f"{detail['status']}, risk {detail['risk_level']}: {', '.join(detail['reasons'])}"
    if key == "approve":
        return f"filing number {detail['filing_number']}, certificate {detail['certificate_sha256'][:16]}…"
    if key == "predict":
        return f"{detail['correct']}/{detail['of']} digits right, called by {detail['caller']}"
    if key == "citybrain" and "average_travel_time_s" in detail:
        return "average travel time " + ", ".join(f"{name} {seconds} s" for name, seconds in detail["average_travel_time_s"].items())
    return ", ".join(f"{k} {v}" for k, v in detail.items())
