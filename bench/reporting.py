"""How every benchmark reports: a table of our figure, the peer's, their ratio and the goal,
and with `--json FILE` the same as `{"figures": [...]}`."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table


@dataclass
class Figure:
    name: str
    unit: str
    ours: float
    peer: float
    goal: str  # ">= 100" or "<= 250", applied to `ours`; "= peer": ours equals the peer's figure within 1e-9
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        """ours / peer; None when the peer scores zero (no finite ratio; strict JSON has no Infinity)."""
        return self.ours / self.peer if self.peer else None

    @property
    def met(self) -> bool:
        op, _, bound = self.goal.partition(" ")
        if self.goal == "= peer":
            return abs(self.ours - self.peer) <= 1e-9 * max(1.0, abs(self.peer))
        return self.ours >= float(bound) if op == ">=" else self.ours <= float(bound)

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("higher_is_better")
        ratio = None if self.ratio is None else round(self.ratio, 4)
        return {**data, "ours": round(self.ours, 3), "peer": round(self.peer, 3), "ratio": ratio, "met": self.met}


def arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--json", type=Path, help="Also write the figures to this file as JSON.")
    return parser


def report(title: str, peer_name: str, figures: list[Figure], json_path: Path | None) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("figure", "unit", "ours", peer_name, "ratio (ours/peer)", "goal (ours)", "met"):
        table.add_column(column)
    for f in figures:
        table.add_row(f.name, f.unit, f"{f.ours:,.2f}", f"{f.peer:,.2f}", "n/a" if f.ratio is None else f"{f.ratio:.3f}", f.goal, "yes" if f.met else "NO")
    Console(width=140).print(table)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps({"figures": [f.as_json() for f in figures]}, indent=2))
