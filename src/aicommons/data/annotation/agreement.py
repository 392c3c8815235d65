"""Inter-annotator agreement: Krippendorff's alpha (nominal) and Fleiss' kappa.

Both take the same `Answer(item, worker, value)` records as aggregation. Both return None when
the statistic is undefined: no item with at least two answers, or no variation at all (every
answer the same value, so that expected disagreement is zero).

- `krippendorff_alpha(answers, kind)`: nominal alpha from the coincidence matrix, which handles
  missing values (items answered by any subset of workers; items with a single answer are not
  pairable and are left out), as in K. Krippendorff, "Computing Krippendorff's Alpha-Reliability"
  (2011). "single": the labels are the values. "multi": each label is a present/absent value
  per answer, alpha is computed per label and averaged over the labels that vary. Not defined
  here for "spans" and "boxes" (None).
- `fleiss_kappa(answers)`: single labels. Items with fewer than two answers are left out; items
  may have different numbers of answers, with the usual generalisation: each item's agreement
  P_i = sum_j n_ij (n_ij - 1) / (n_i (n_i - 1)), P-bar their mean, p_j the share of all answers
  in category j and P_e = sum_j p_j^2. With equal numbers of raters this is Fleiss (1971).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable

from aicommons.core.errors import Invalid

from .aggregation import Answer


def _units(answers: Iterable[Answer]) -> dict[str, list[Hashable]]:
    units: dict[str, list[Hashable]] = defaultdict(list)
    for a in answers:
        units[str(a.item)].append(a.value)
    return units


def nominal_alpha(units: Iterable[list[Hashable]]) -> float | None:
    """Krippendorff's nominal alpha for units given as lists of values (any number per unit)."""
    coincidences: Counter[tuple[Hashable, Hashable]] = Counter()
    for values in units:
        m = len(values)
        if m < 2:
            continue
        counts = Counter(values)
        for c, n_c in counts.items():
            for k, n_k in counts.items():
                pairs = n_c * (n_k - 1) if c == k else n_c * n_k
                if pairs:
                    coincidences[(c, k)] += pairs / (m - 1)
    totals: Counter[Hashable] = Counter()
    for (c, _), o in coincidences.items():
        totals[c] += o
    n = sum(totals.values())
    if n <= 1:
        return None
    observed = sum(o for (c, k), o in coincidences.items() if c != k)
    expected = (n * n - sum(t * t for t in totals.values())) / (n - 1)
    if expected <= 0:
        return None
    return 1.0 - observed / expected


def krippendorff_alpha(answers: Iterable[Answer], kind: str = "single") -> float | None:
    """Nominal Krippendorff's alpha of the answers (module docstring); None when undefined."""
    units = _units(answers)
    if kind == "single":
        for values in units.values():
            for v in values:
                if not isinstance(v, str):
                    raise Invalid(f"krippendorff_alpha: single-label answers must be label strings; got {v!r}.")
        return nominal_alpha(units.values())
    if kind == "multi":
        labels = sorted({label for values in units.values() for v in values for label in _label_set(v)})
        alphas = []
        for label in labels:
            alpha = nominal_alpha([[label in _label_set(v) for v in values] for values in units.values()])
            if alpha is not None:
                alphas.append(alpha)
        return sum(alphas) / len(alphas) if alphas else None
    if kind in ("spans", "boxes"):
        return None
    raise Invalid(f"krippendorff_alpha: kind must be one of ['single', 'multi', 'spans', 'boxes']; got {kind!r}.")


def _label_set(value: object) -> frozenset[str]:
    if not isinstance(value, list | tuple | set | frozenset):
        raise Invalid(f"krippendorff_alpha: multi-label answers must be lists of labels; got {value!r}.")
    return frozenset(str(v) for v in value)


def fleiss_kappa(answers: Iterable[Answer]) -> float | None:
    """Fleiss' kappa of single-label answers (module docstring); None when undefined."""
    units = _units(answers)
    rows: list[Counter[str]] = []
    for values in units.values():
        for v in values:
            if not isinstance(v, str):
                raise Invalid(f"fleiss_kappa: answers must be single label strings; got {v!r}.")
        if len(values) >= 2:
            rows.append(Counter(values))
    return fleiss_kappa_table(rows)


def fleiss_kappa_table(rows: Iterable[Counter[str] | dict[str, int]]) -> float | None:
    """Fleiss' kappa from per-item category counts (items with fewer than two ratings are skipped)."""
    agreements = []
    category_totals: Counter[str] = Counter()
    for counts in rows:
        n_i = sum(counts.values())
        if n_i < 2:
            continue
        agreements.append(sum(n * (n - 1) for n in counts.values()) / (n_i * (n_i - 1)))
        category_totals.update(counts)
    if not agreements:
        return None
    total = sum(category_totals.values())
    p_bar = sum(agreements) / len(agreements)
    p_e = sum((t / total) ** 2 for t in category_totals.values())
    if p_e >= 1.0:
        return None
    return (p_bar - p_e) / (1.0 - p_e)
