"""Likely label errors in labelled data, flagged for review (never dropped silently).

Confident learning (cleanlab's `find_label_issues`) over out-of-sample predicted probabilities:
a simple model (standardised features, logistic regression, or any scikit-learn classifier with
`predict_proba`) is cross-validated on the given features, so that each record's probabilities
come from a model that never saw it. A record is flagged when the model confidently puts it in
another class than its label, at a rate consistent with the estimated noise between classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from aicommons.core.errors import Invalid

if TYPE_CHECKING:  # scikit-learn and cleanlab take a second to import: only when called
    from sklearn.base import BaseEstimator


@dataclass(frozen=True)
class LabelIssue:
    """A record whose label looks wrong: `quality` is the model's out-of-sample probability of the
    given label (cleanlab's self-confidence; lower is more suspicious)."""

    index: int
    given_label: str
    suggested_label: str
    quality: float

    def as_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "given_label": self.given_label,
            "suggested_label": self.suggested_label,
            "quality": round(self.quality, 4),
        }


def default_model(seed: int = 0) -> BaseEstimator:
    """Standardised features into a logistic regression (newton-cg: scikit-learn 1.5 passes
    L-BFGS-B options that SciPy 1.17 deprecates)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(solver="newton-cg", max_iter=1000, random_state=seed))


def out_of_sample_probabilities(
    features: np.ndarray, codes: np.ndarray, *, folds: int = 5, seed: int = 0, model: BaseEstimator | None = None
) -> np.ndarray:
    """Each record's class probabilities from a model trained on the other folds."""
    from sklearn.base import clone
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    smallest = int(np.bincount(codes).min())
    splitter = StratifiedKFold(n_splits=max(2, min(folds, smallest)), shuffle=True, random_state=seed)
    estimator = clone(model) if model is not None else default_model(seed)
    return cross_val_predict(estimator, features, codes, cv=splitter, method="predict_proba")


def find_label_issues(
    features: np.ndarray,
    labels: Sequence[str],
    *,
    seed: int = 0,
    folds: int = 5,
    model: BaseEstimator | None = None,
) -> list[LabelIssue]:
    """Records whose label is likely wrong, most suspicious first (ties: by index).

    `features` is an `(n, d)` numeric array, `labels` the n given labels (at least two classes,
    each with at least two records). `model` defaults to `default_model(seed)`.
    """
    import cleanlab.filter
    import cleanlab.rank

    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise Invalid(f"The 'features' parameter of find_label_issues must be a 2-D array; got {features.ndim} dimensions instead.")
    if len(labels) != len(features):
        raise Invalid(
            f"The 'labels' parameter of find_label_issues must have one label per row of 'features' ({len(features)}); "
            f"got {len(labels)} instead."
        )
    classes, codes = np.unique(np.asarray([str(label) for label in labels]), return_inverse=True)
    counts = np.bincount(codes)
    if len(classes) < 2 or counts.min() < 2:
        raise Invalid(
            "The 'labels' parameter of find_label_issues must hold at least two classes with at least two records each; "
            f"got {dict(zip(classes.tolist(), counts.tolist()))} instead."
        )
    probabilities = out_of_sample_probabilities(features, codes, folds=folds, seed=seed, model=model)
    flagged = cleanlab.filter.find_label_issues(labels=codes, pred_probs=probabilities, n_jobs=1)
    quality = cleanlab.rank.get_label_quality_scores(codes, probabilities)
    suggested = probabilities.argmax(axis=1)
    order = sorted(np.flatnonzero(flagged).tolist(), key=lambda i: (quality[i], i))
    return [
        LabelIssue(index=i, given_label=str(classes[codes[i]]), suggested_label=str(classes[suggested[i]]), quality=float(quality[i]))
        for i in order
    ]
