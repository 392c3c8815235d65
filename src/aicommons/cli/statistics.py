"""`aicommons observatory stats …`: policy targets, quarterly observations, progress and the regional evaluation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from aicommons.cli import rendering
from aicommons.cli.state import state
from aicommons.core.errors import Invalid
from aicommons.observatory import statistics
from aicommons.observatory.statistics.trends import figure

app = typer.Typer(help="Policy targets, quarterly observations, progress and the regional evaluation.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


@app.command("targets")
def targets(
    document: Annotated[str | None, typer.Option(help="Only this document: 000 to 004.")] = None,
    region: Annotated[str | None, typer.Option(help="Only targets of this region (330000, 杭州市, 滨江区 …).")] = None,
    json_out: JsonOption = False,
) -> None:
    """List every numeric target of the five policies with its citation and the phrase it quotes."""
    found = statistics.list_targets(document=document, region=region)
    if json_out:
        rendering.as_json(found)
        return
    rendering.table(
        f"Policy targets ({len(found)})", ["id", "citation", "target", "by", "region", "kind", "quote"],
        ((t.id, t.citation, f"{figure(t.value)}{'–' + figure(t.value_max) if t.value_max else ''} {t.unit}{' a year' if t.every_year else ''}",
          t.deadline, t.region_name, t.kind.value, t.quote) for t in found),
    )


@app.command("indicators")
def indicators(json_out: JsonOption = False) -> None:
    """List the indicators observations may be recorded for (platform.* are computed with `compute`)."""
    found = statistics.list_indicators()
    if json_out:
        rendering.as_json(found)
        return
    rendering.table("Indicators", ["key", "name", "unit", "year from quarters", "platform"],
                    ((i.key, i.name_zh, i.unit, i.aggregation, "yes" if i.platform else "") for i in found))


@app.command("progress")
def progress(
    ctx: typer.Context,
    target: Annotated[str | None, typer.Argument(help="One target id; all targets when left out.")] = None,
    as_of: Annotated[str | None, typer.Option("--as-of", help="Read observations up to this quarter, like 2026Q3.")] = None,
    document: Annotated[str | None, typer.Option(help="Only this document: 000 to 004.")] = None,
    region: Annotated[str | None, typer.Option(help="Only targets of this region.")] = None,
    json_out: JsonOption = False,
) -> None:
    """Each target's latest value, projection at the deadline and verdict, with the arithmetic."""
    with state(ctx).session() as (session, actor):
        if target is not None:
            found = [statistics.get_progress(session, actor, target, as_of=as_of)]
        else:
            found = statistics.list_progress(session, actor, as_of=as_of, document=document, region=region)
    if json_out:
        rendering.as_json(found)
        return
    rendering.table(
        "Progress of the policy targets", ["target", "citation", "region", "latest", "target", "share", "verdict", "arithmetic"],
        ((p.target_id, p.citation, p.region_name, f"{figure(p.latest)} ({p.latest_quarter})" if p.latest is not None else "—",
          f"{figure(p.target)} {p.unit} by {p.deadline}", _percent(p.share_of_target), p.verdict.value.replace("_", " ") + (" (sample)" if p.sample else ""),
          p.arithmetic) for p in found),
    )  # fmt: skip
    if target is not None:  # one target: its arithmetic on one line, unwrapped, for copying into a note
        rendering.out.print(f"{found[0].target_id}: {found[0].arithmetic}", soft_wrap=True, highlight=False)


@app.command("record")
def record(
    ctx: typer.Context,
    indicator: Annotated[str, typer.Argument(help="An indicator key, e.g. ai_enterprises.")],
    region: Annotated[str, typer.Argument(help="330100, 杭州市, Hangzhou, 滨江区 …")],
    quarter: Annotated[str, typer.Argument(help="Like 2026Q3.")],
    value: Annotated[str, typer.Argument(help="A number in the indicator's unit.")],
    note: Annotated[str, typer.Option(help="Where the figure comes from.")] = "",
) -> None:
    """Record a quarter's value (officials); an earlier value of the same quarter is superseded."""
    with state(ctx).session() as (session, actor):
        saved = statistics.record_observation(session, actor, statistics.ObservationCreate(indicator=indicator, region=region, quarter=quarter, value=value, note=note))
    replaced = f", superseding {saved.supersedes}" if saved.supersedes else ""
    rendering.out.print(f"Recorded {saved.id}: {saved.indicator} {saved.region_name} {saved.quarter} = {figure(saved.value)} {saved.unit}{replaced}", highlight=False)


@app.command("import")
def import_csv(ctx: typer.Context, path: Annotated[Path, typer.Argument(help="CSV with columns indicator, region, quarter, value[, note].")]) -> None:
    """Import observations from CSV (officials): good rows are recorded, bad ones listed with the reason."""
    if not path.is_file():
        raise Invalid(f"The CSV file {str(path)!r} does not exist.")
    with state(ctx).session() as (session, actor):
        report = statistics.import_observations(session, actor, path.read_bytes(), path.name)
    rendering.out.print(f"{report.source}: {len(report.recorded)} of {report.rows} rows recorded, {len(report.problems)} refused", highlight=False)
    if report.problems:
        rendering.table("Refused rows", ["line", "problem"], ((p.row, p.message) for p in report.problems))


@app.command("compute")
def compute(
    ctx: typer.Context,
    indicator: Annotated[str, typer.Argument(help="A platform indicator, e.g. platform.datasets.")],
    quarter: Annotated[str, typer.Argument(help="Like 2026Q3.")],
    region: Annotated[list[str] | None, typer.Option("--region", help="Repeat; default: the province and its 11 cities.")] = None,
) -> None:
    """Compute a platform indicator from the platform's records and record it per region (officials)."""
    with state(ctx).session() as (session, actor):
        saved = statistics.compute_observations(session, actor, statistics.ComputeRequest(indicator=indicator, quarter=quarter, regions=region))
    rendering.table(f"{indicator} {quarter}", ["region", "value", "source", "id"],
                    ((o.region_name, figure(o.value), o.source + (" (sample)" if o.sample else ""), o.id) for o in saved))


@app.command("observations")
def observations(
    ctx: typer.Context,
    indicator: Annotated[str | None, typer.Option(help="Only this indicator.")] = None,
    region: Annotated[str | None, typer.Option(help="Only this region.")] = None,
    quarter: Annotated[str | None, typer.Option(help="Only this quarter.")] = None,
    history: Annotated[bool, typer.Option(help="Include superseded values.")] = False,
    limit: int = 50,
) -> None:
    """List recorded observations, newest first."""
    with state(ctx).session() as (session, actor):
        page = statistics.list_observations(session, actor, indicator=indicator, region=region, quarter=quarter, history=history, limit=limit)
    rendering.table("Observations", ["id", "indicator", "region", "quarter", "value", "source", "superseded by"],
                    ((o.id, o.indicator, o.region_name, o.quarter, f"{figure(o.value)} {o.unit}", o.source, o.superseded_by or "") for o in page.items))


def _show_evaluation(found: statistics.EvaluationRead) -> None:
    mark = " — 示例数据 (sample data)" if found.sample else ""
    rendering.out.print(f"Evaluation {found.id}: {found.year}, {found.normalisation}, {found.weighting} weights{mark}", highlight=False)
    rendering.table("Weights", ["indicator", "weight"], ((k, f"{w:.4f}") for k, w in found.weights.items()))
    rendering.table(
        f"Regional ranking {found.year}", ["rank", "region", "score", f"{found.year - 1} rank", "change", "strongest", "weakest"],
        ((r.rank, f"{r.region_name} ({r.region})", f"{r.score:.2f}", r.previous_rank or "—",
          "—" if r.change is None else f"{r.change:+.2f}", r.strongest, r.weakest) for r in found.rows),
    )  # fmt: skip
    for line in [*found.arithmetic, *(f"left out: {reason}" for reason in found.left_out)]:
        rendering.out.print(line, highlight=False)


@app.command("evaluate")
def evaluate(
    ctx: typer.Context,
    year: Annotated[int, typer.Argument(help="The year to rank, like 2025.")],
    indicator: Annotated[list[str], typer.Option("--indicator", "-i", help="KEY, KEY:lower (lower is better) or KEY=WEIGHT; repeat, at least two.")],
    region: Annotated[list[str] | None, typer.Option("--region", help="Repeat; default: Zhejiang's 11 cities.")] = None,
    normalisation: Annotated[str, typer.Option(help="min-max or z-score.")] = "min-max",
    name: Annotated[str, typer.Option(help="A label for the evaluation.")] = "",
    json_out: JsonOption = False,
) -> None:
    """Rank regions on a composite index (officials): entropy weights unless every indicator has =WEIGHT."""
    if normalisation not in ("min-max", "z-score"):
        raise Invalid(f"The '--normalisation' option must be min-max or z-score; got {normalisation!r} instead.")
    spec = statistics.EvaluationCreate(year=year, indicators=[_parse_indicator(text) for text in indicator], regions=region,
                                       normalisation=normalisation, name=name)  # type: ignore[arg-type]
    with state(ctx).session() as (session, actor):
        found = statistics.run_evaluation(session, actor, spec)
    if json_out:
        rendering.as_json(found)
        return
    _show_evaluation(found)


def _parse_indicator(text: str) -> statistics.EvaluationIndicator:
    key, _, weight = text.partition("=")
    key, _, direction = key.partition(":")
    if direction not in ("", "higher", "lower"):
        raise Invalid(f"The '--indicator' option must be KEY, KEY:lower or KEY=WEIGHT; got {text!r} instead.")
    try:
        given = float(weight) if weight else None
    except ValueError:
        raise Invalid(f"The weight of '--indicator' must be a number; got {text!r} instead.") from None
    return statistics.EvaluationIndicator(indicator=key.strip(), direction=statistics.Direction(direction or "higher"), weight=given)


@app.command("ranking")
def ranking(ctx: typer.Context, year: Annotated[int, typer.Argument(help="Like 2025.")], json_out: JsonOption = False) -> None:
    """Show the published ranking of a year (its latest evaluation)."""
    with state(ctx).session() as (session, actor):
        found = statistics.get_ranking(session, actor, year)
    if json_out:
        rendering.as_json(found)
        return
    _show_evaluation(found)


@app.command("sample")
def sample(
    ctx: typer.Context,
    seed: Annotated[int, typer.Option(help="The generator's seed: the same seed gives the same figures.")] = 7,
    evaluate: Annotated[bool, typer.Option(help="Also run the sample's 2025 evaluation of the 11 cities.")] = True,
) -> None:
    """Seed the demo's sample statistics (marked 示例数据): 11 cities, the province and Binjiang, 2024Q1 to 2026Q3."""
    with state(ctx).session() as (session, actor):
        rows = statistics.add_sample_observations(session, actor, seed=seed)
        found = statistics.run_evaluation(session, actor, statistics.SAMPLE_EVALUATION) if evaluate else None
    rendering.out.print(f"Recorded {rows} sample observations (source 'sample').", highlight=False)
    if found is not None:
        _show_evaluation(found)
