"""Deterministic, stratified train/validation/test assignment."""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from aicommons.core.errors import Invalid


def assign_splits(
    record_ids: list[str], labels: list[str | None], *, train: float, validation: float, test: float, seed: int, stratify: bool
) -> list[str]:
    """The split of each record. The same ids, labels and seed always give the same answer, and
    with `stratify` each label is divided in the same proportions."""
    total = train + validation + test
    if abs(total - 1.0) > 1e-6:
        raise Invalid(f"The split fractions must add up to 1; got {train} + {validation} + {test} = {total:g}.")
    groups: dict[str | None, list[int]] = defaultdict(list)
    for index, label in enumerate(labels):
        groups[label if stratify else None].append(index)
    result = [""] * len(record_ids)
    rng = np.random.default_rng(seed)
    for key in sorted(groups, key=lambda k: (k is None, str(k))):
        members = sorted(groups[key], key=lambda i: record_ids[i])  # input order must not matter
        order = rng.permutation(len(members))
        n_train = round(train * len(members))
        n_validation = round(validation * len(members))
        for rank, position in enumerate(order):
            name = "train" if rank < n_train else "validation" if rank < n_train + n_validation else "test"
            result[members[position]] = name
    return result
