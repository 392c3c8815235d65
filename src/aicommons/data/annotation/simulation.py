"""Simulated crowds for the benchmark and the tests.

Each simulated worker has a Dawid-Skene confusion matrix (row: the true label, columns: the
probability of each answer) and a typical answer time. `Crowd.draw` builds a seeded crowd from a
mix of kinds:

- "reliable": accuracy drawn in [0.90, 0.97] for every true label, the errors spread at random;
- "noisy": accuracy drawn in [0.60, 0.75], errors spread at random;
- "biased": prefers one label: accuracy drawn in [0.50, 0.70] on the other labels, with 80% of
  their errors going to the preferred label, and 0.95 on the preferred label itself;
- "spammer": either answers uniformly at random or always gives the same label (a coin flip per
  spammer), and fast: about 1 s per answer where the others take 5-15 s.

Everything is drawn from `numpy.random.default_rng(seed)`: the same seed gives the same crowd, and
the same `rng` stream the same answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from aicommons.core.errors import Invalid

from .aggregation import Answer

KINDS = ("reliable", "noisy", "biased", "spammer")
DEFAULT_MIX: dict[str, float] = {"reliable": 0.4, "noisy": 0.3, "biased": 0.15, "spammer": 0.15}


@dataclass(frozen=True, eq=False)
class SimulatedWorker:
    """A worker who answers from `confusion[true label]` and takes about `seconds` per answer."""

    id: str
    kind: str
    labels: tuple[str, ...]
    confusion: np.ndarray = field(repr=False)
    seconds: float

    @property
    def accuracy(self) -> float:
        """The expected accuracy on uniformly distributed true labels (the mean of the diagonal)."""
        return float(np.mean(np.diag(self.confusion)))

    def answer(self, true_label: str, rng: np.random.Generator) -> tuple[str, float]:
        """A label drawn from the confusion row of `true_label`, and the seconds it took
        (log-normal around the worker's typical time)."""
        try:
            row = self.labels.index(true_label)
        except ValueError:
            raise Invalid(f"answer: true_label must be one of {list(self.labels)}; got {true_label!r}.") from None
        label = self.labels[int(rng.choice(len(self.labels), p=self.confusion[row]))]
        seconds = float(self.seconds * rng.lognormal(0.0, 0.3))
        return label, round(seconds, 3)


def _spread(rng: np.random.Generator, k: int, diagonal: np.ndarray) -> np.ndarray:
    """A confusion matrix with the given diagonal, the rest of each row spread at random."""
    matrix = np.zeros((k, k))
    for t in range(k):
        matrix[t, t] = diagonal[t]
        if k > 1:
            others = rng.dirichlet(np.ones(k - 1) * 2.0) * (1.0 - diagonal[t])
            matrix[t, [j for j in range(k) if j != t]] = others
    return matrix


def _confusion(kind: str, k: int, rng: np.random.Generator) -> np.ndarray:
    if k == 1:
        return np.ones((1, 1))
    if kind == "reliable":
        return _spread(rng, k, rng.uniform(0.90, 0.97, size=k))
    if kind == "noisy":
        return _spread(rng, k, rng.uniform(0.60, 0.75, size=k))
    if kind == "biased":
        preferred = int(rng.integers(k))
        matrix = np.zeros((k, k))
        for t in range(k):
            if t == preferred:
                matrix[t] = _spread(rng, k, np.full(k, 0.95))[t]
                continue
            accuracy = rng.uniform(0.50, 0.70)
            matrix[t, t] = accuracy
            rest = [j for j in range(k) if j not in (t, preferred)]
            if rest:
                matrix[t, preferred] = 0.8 * (1.0 - accuracy)
                matrix[t, rest] = 0.2 * (1.0 - accuracy) / len(rest)
            else:
                matrix[t, preferred] = 1.0 - accuracy
        return matrix
    if kind == "spammer":
        if rng.random() < 0.5:
            return np.full((k, k), 1.0 / k)
        constant = int(rng.integers(k))
        matrix = np.zeros((k, k))
        matrix[:, constant] = 1.0
        return matrix
    raise Invalid(f"worker kind must be one of {list(KINDS)}; got {kind!r}.")


def _counts(n: int, mix: Mapping[str, float]) -> dict[str, int]:
    """`n` split by `mix` with the largest-remainder method (so the counts sum to n)."""
    total = sum(mix.values())
    exact = {kind: n * share / total for kind, share in mix.items()}
    counts = {kind: int(np.floor(x)) for kind, x in exact.items()}
    left = n - sum(counts.values())
    for kind in sorted(exact, key=lambda kind: (-(exact[kind] - counts[kind]), KINDS.index(kind)))[:left]:
        counts[kind] += 1
    return counts


@dataclass(frozen=True)
class Crowd:
    """A simulated crowd of workers (ids "w000", "w001", … in a seeded random order of kinds)."""

    workers: tuple[SimulatedWorker, ...]
    labels: tuple[str, ...]

    @classmethod
    def draw(
        cls,
        n_workers: int,
        labels: Sequence[str],
        mix: Mapping[str, float] | None = None,
        seed: int = 0,
    ) -> Crowd:
        mix = dict(DEFAULT_MIX if mix is None else mix)
        unknown = sorted(set(mix) - set(KINDS))
        if unknown:
            raise Invalid(f"mix: worker kinds must be among {list(KINDS)}; got {unknown}.")
        if any(share < 0 for share in mix.values()) or sum(mix.values()) <= 0:
            raise Invalid(f"mix: shares must be >= 0 and not all 0; got {mix}.")
        if n_workers < 1:
            raise Invalid(f"n_workers must be at least 1; got {n_workers!r}.")
        labels = tuple(labels)
        if not labels or len(set(labels)) != len(labels):
            raise Invalid(f"labels must be a non-empty list of unique labels; got {list(labels)!r}.")
        rng = np.random.default_rng(seed)
        kinds = [kind for kind, count in _counts(n_workers, mix).items() for _ in range(count)]
        rng.shuffle(kinds)
        workers = []
        for i, kind in enumerate(kinds):
            confusion = _confusion(kind, len(labels), rng)
            seconds = rng.uniform(0.5, 1.5) if kind == "spammer" else rng.uniform(5.0, 15.0)
            workers.append(SimulatedWorker(f"w{i:03d}", kind, labels, confusion, round(float(seconds), 3)))
        return cls(tuple(workers), labels)

    def by_kind(self, kind: str) -> list[SimulatedWorker]:
        return [w for w in self.workers if w.kind == kind]

    def worker(self, worker_id: str) -> SimulatedWorker:
        for w in self.workers:
            if w.id == worker_id:
                return w
        raise Invalid(f"no simulated worker {worker_id!r}.")

    def answers(self, truth: Mapping[str, str], overlap: int, seed: int = 0) -> list[Answer]:
        """Each item (in sorted order) labelled by `overlap` distinct workers drawn at random."""
        if not 1 <= overlap <= len(self.workers):
            raise Invalid(f"overlap must be between 1 and the {len(self.workers)} workers; got {overlap!r}.")
        rng = np.random.default_rng(seed)
        out = []
        for item in sorted(truth):
            for index in rng.choice(len(self.workers), size=overlap, replace=False):
                worker = self.workers[int(index)]
                label, _ = worker.answer(truth[item], rng)
                out.append(Answer(item, worker.id, label))
        return out
