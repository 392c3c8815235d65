"""Label issues: flipped labels in scikit-learn's breast-cancer set are found, few others flagged."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_iris
from sklearn.neighbors import KNeighborsClassifier

from aicommons.core.errors import Invalid
from aicommons.data.cleaning import LabelIssue, find_label_issues


def flipped(labels: np.ndarray, share: float, seed: int) -> tuple[np.ndarray, set[int]]:
    """Labels with `share` of them moved to another class (chosen at random), and which."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(labels), int(share * len(labels)), replace=False)
    classes = np.unique(labels)
    noisy = labels.copy()
    for i in chosen:
        noisy[i] = rng.choice(classes[classes != labels[i]])
    return noisy, set(chosen.tolist())


@pytest.fixture(scope="module")
def breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    data = load_breast_cancer()
    return data.data, data.target_names[data.target]


def test_flipped_labels_are_found_with_few_false_flags(breast_cancer):
    features, labels = breast_cancer
    noisy, wrong = flipped(labels, 0.05, seed=11)
    issues = find_label_issues(features, noisy.tolist(), seed=0)
    flagged = {issue.index for issue in issues}
    recall = len(flagged & wrong) / len(wrong)
    false_flags = len(flagged - wrong)
    assert recall >= 0.6
    assert false_flags <= 0.02 * len(labels)  # 11 of 569
    for issue in issues:
        assert issue.given_label == noisy[issue.index]
        assert issue.given_label != issue.suggested_label
        assert 0.0 <= issue.quality < 0.5


def test_issues_come_most_suspicious_first_and_are_deterministic(breast_cancer):
    features, labels = breast_cancer
    noisy, _ = flipped(labels, 0.05, seed=12)
    issues = find_label_issues(features, noisy.tolist(), seed=3)
    assert [i.quality for i in issues] == sorted(i.quality for i in issues)
    assert find_label_issues(features, noisy.tolist(), seed=3) == issues
    assert isinstance(issues[0], LabelIssue) and set(issues[0].as_dict()) == {"index", "given_label", "suggested_label", "quality"}


def test_clean_labels_give_few_flags(breast_cancer):
    features, labels = breast_cancer
    assert len(find_label_issues(features, labels.tolist())) <= 0.02 * len(labels)


def test_multiclass_and_a_custom_model():
    data = load_iris()
    labels = data.target_names[data.target]
    noisy, wrong = flipped(labels, 0.06, seed=1)
    issues = find_label_issues(data.data, noisy.tolist(), model=KNeighborsClassifier(n_neighbors=10))
    flagged = {i.index for i in issues}
    assert len(flagged & wrong) / len(wrong) >= 0.6
    assert len(flagged - wrong) <= 5


def test_bad_input_is_refused():
    features = np.zeros((4, 2))
    with pytest.raises(Invalid, match="one label per row"):
        find_label_issues(features, ["a", "b", "a"])
    with pytest.raises(Invalid, match="at least two classes"):
        find_label_issues(features, ["a", "a", "a", "a"])
    with pytest.raises(Invalid, match="at least two classes"):
        find_label_issues(features, ["a", "a", "a", "b"])
    with pytest.raises(Invalid, match="2-D"):
        find_label_issues(np.zeros(4), ["a", "b", "a", "b"])
