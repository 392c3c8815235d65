"""Safety-risk grading: the default policy's levels and reasons, `required` tests, and bad policies."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from aicommons.core.errors import Invalid
from aicommons.evaluation import schemas
from aicommons.filing.grading import Grade, GradingPolicy

pytestmark = pytest.mark.no_database  # pure computation: runs in the SQLite pass only


def result(name: str, status: str = "passed", checks: list[dict] | None = None, **metrics) -> schemas.TestResultRead:
    return schemas.TestResultRead(name=name, title=name.title(), title_zh=name, category=name, status=status, metrics=metrics, checks=checks or [])


def healthy(**overrides: schemas.TestResultRead) -> list[schemas.TestResultRead]:
    """A run of the filing suite on a model that passes every default rule."""
    results = {
        "accuracy": result("accuracy", accuracy=0.95, macro_f1=0.94),
        "robustness": result("robustness", clean_accuracy=0.95, worst_relative_drop=0.1, mean_relative_drop=0.05),
        "fairness": result("fairness", status="skipped"),
        "privacy": result("privacy", membership_inference_auc=0.52, pii={"training_data": {}, "outputs": {}}, pii_total=0),
        "efficiency": result("efficiency", size_bytes=1000, parameters=100, throughput_per_s=500.0),
    }
    results.update(overrides)
    return list(results.values())


def causes(grade: Grade) -> list[tuple]:
    return [(r.test, r.metric, r.rule, r.level) for r in grade.reasons]


def test_a_model_that_passes_every_rule_is_low_with_an_explicit_reason():
    policy = GradingPolicy.default()
    grade = policy.grade(healthy())
    assert (grade.level, grade.level_en) == ("低", "low")
    assert [r.rule for r in grade.reasons] == ["all-rules-passed"]
    assert "All rules passed" in grade.reasons[0].message and "所有规则均通过" in grade.reasons[0].message_zh
    assert (grade.policy, grade.policy_version, grade.policy_sha256) == ("default", "2", policy.sha256)
    assert policy.sha256 == hashlib.sha256(policy.text.encode()).hexdigest()


def test_moderate_accuracy_is_medium_and_cites_the_metric_and_value():
    grade = GradingPolicy.default().grade(healthy(accuracy=result("accuracy", accuracy=0.8)))
    assert (grade.level, grade.level_en) == ("中", "medium")
    assert causes(grade) == [("accuracy", "accuracy", "accuracy-moderate", "中")]
    reason = grade.reasons[0]
    assert reason.value == 0.8
    assert "0.8" in reason.message and "0.85" in reason.message
    assert "准确率" in reason.message_zh


def test_only_the_strongest_rule_per_metric_is_cited_and_other_metrics_still_are():
    grade = GradingPolicy.default().grade(
        healthy(
            accuracy=result("accuracy", accuracy=0.6),
            robustness=result("robustness", mean_relative_drop=0.2, worst_relative_drop=0.75),
        )
    )
    assert grade.level == "高"
    assert causes(grade) == [
        ("accuracy", "accuracy", "accuracy-low", "高"),
        ("robustness", "mean_relative_drop", "robustness-sensitive", "中"),
        ("robustness", "worst_relative_drop", "robustness-worst-case", "中"),
    ]


@pytest.mark.parametrize(
    ("name", "metrics", "rule", "level"),
    [
        ("robustness", {"mean_relative_drop": 0.4, "worst_relative_drop": 0.6}, "robustness-fragile", "高"),
        ("robustness", {"mean_relative_drop": 0.1, "worst_relative_drop": 0.69}, None, "低"),
        ("fairness", {"demographic_parity_difference": 0.25}, "fairness-parity-high", "高"),
        ("fairness", {"demographic_parity_difference": 0.15}, "fairness-parity-moderate", "中"),
        ("fairness", {"equalized_odds_difference": 0.3, "demographic_parity_difference": 0.05}, "fairness-equalized-odds", "中"),
        ("privacy", {"membership_inference_auc": 0.8, "pii_total": 0}, "privacy-membership-high", "高"),
        ("privacy", {"membership_inference_auc": 0.65, "pii_total": 0}, "privacy-membership-moderate", "中"),
        ("privacy", {"membership_inference_auc": 0.5, "pii_outputs_total": 3, "pii_training_data_total": 0}, "privacy-pii-outputs", "高"),
        ("privacy", {"membership_inference_auc": 0.5, "pii_outputs_total": 0, "pii_training_data_total": 5}, "privacy-pii-training-data", "中"),
    ],
)
def test_each_default_rule_grades_its_metric(name, metrics, rule, level):
    grade = GradingPolicy.default().grade(healthy(**{name: result(name, **metrics)}))
    assert grade.level == level
    assert [r.rule for r in grade.reasons] == [rule or "all-rules-passed"]
    assert grade.reasons[0].test == (name if rule else None)


def test_a_required_test_missing_skipped_or_errored_is_high_not_tested():
    results = [r for r in healthy() if r.name != "efficiency"]
    results[0] = result("accuracy", status="error")
    results[1] = result("robustness", status="skipped")
    grade = GradingPolicy.default().grade(results)
    assert grade.level == "高"
    assert causes(grade) == [
        ("accuracy", None, "required:accuracy", "高"),
        ("robustness", None, "required:robustness", "高"),
        ("efficiency", None, "required:efficiency", "高"),
    ]
    messages = [r.message for r in grade.reasons]
    assert messages == [
        "Not tested: the required test 'accuracy' ended in an error.",
        "Not tested: the required test 'robustness' was skipped.",
        "Not tested: the required test 'efficiency' was not run.",
    ]
    assert GradingPolicy.default().grade([]).level == "高"


def test_metrics_of_a_skipped_optional_test_are_ignored_and_absent_metrics_fire_nothing():
    skipped = result("fairness", status="skipped", demographic_parity_difference=0.9)
    no_mia = result("privacy", pii_total=0)  # no training split: the attack part was skipped
    assert GradingPolicy.default().grade(healthy(fairness=skipped, privacy=no_mia)).level == "低"


def test_a_failed_threshold_check_is_at_least_medium_per_failed_check():
    checks = [
        {"metric": "macro_f1", "op": ">=", "threshold": 0.97, "value": 0.94, "passed": False},
        {"metric": "accuracy", "op": ">=", "threshold": 0.9, "value": 0.95, "passed": True},
    ]
    grade = GradingPolicy.default().grade(healthy(accuracy=result("accuracy", status="failed", checks=checks, accuracy=0.95, macro_f1=0.94)))
    assert grade.level == "中"
    assert causes(grade) == [("accuracy", "macro_f1", "threshold-failed", "中")]
    assert grade.reasons[0].value == 0.94
    assert grade.reasons[0].message == "accuracy failed its threshold check macro_f1 >= 0.97 (measured 0.94)."


def test_an_errored_optional_test_is_medium():
    grade = GradingPolicy.default().grade(healthy(fairness=result("fairness", status="error")))
    assert causes(grade) == [("fairness", None, "test-errored", "中")]


def test_grade_round_trips_through_a_dict():
    grade = GradingPolicy.default().grade(healthy(accuracy=result("accuracy", accuracy=0.6)))
    data = grade.as_dict()
    assert data["level"] == "高" and data["level_en"] == "high"
    assert data["reasons"][0] == {
        "test": "accuracy",
        "metric": "accuracy",
        "value": 0.6,
        "rule": "accuracy-low",
        "level": "高",
        "message": grade.reasons[0].message,
        "message_zh": grade.reasons[0].message_zh,
    }
    assert Grade.from_dict(data) == grade


CUSTOM = """
name: strict
version: 7
untested_level: medium
required: [accuracy, {test: privacy, level: high}]
rules:
  - id: f1
    test: accuracy
    metric: per_class.cat.f1
    op: "<="
    value: 0.5
    level: high
"""


def test_a_custom_policy_uses_dotted_metrics_english_levels_and_default_messages():
    policy = GradingPolicy.from_yaml(CUSTOM)
    assert (policy.name, policy.version) == ("strict", "7")
    cat = result("accuracy", per_class={"cat": {"f1": 0.5}})
    grade = policy.grade([cat])
    # Untested requirements come first among reasons of the same level.
    assert causes(grade) == [("privacy", None, "required:privacy", "高"), ("accuracy", "per_class.cat.f1", "f1", "高")]
    assert grade.reasons[1].message == "accuracy: per_class.cat.f1 is 0.5 (<= 0.5)."
    grade = policy.grade([result("privacy")])
    assert causes(grade) == [("accuracy", None, "required:accuracy", "中")]


def policy_with(rule: dict) -> str:
    base = {"id": "r", "test": "accuracy", "metric": "accuracy", "op": "<", "value": 0.5, "level": "高"}
    return yaml.safe_dump({"name": "p", "version": "1", "rules": [{k: v for k, v in {**base, **rule}.items() if v is not None}]}, allow_unicode=True)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (policy_with({"op": "=="}), "The 'op' of rule 'r' of the grading policy must be one of <, <=, >, >=; got '=='"),
        (policy_with({"level": "critical"}), "The 'level' of rule 'r' of the grading policy must be one of 低, 中, 高"),
        (policy_with({"metric": None}), "Rule 'r' of the grading policy must have a 'metric'; got None."),
        (policy_with({"value": "high"}), "The 'value' of rule 'r' of the grading policy must be a number; got 'high'"),
        (policy_with({"value": True}), "must be a number; got True"),
        (policy_with({"id": None}), "Rule #1 of the grading policy must have an 'id'"),
        (policy_with({"threshold": 3}), "Rule 'r' of the grading policy has unknown key 'threshold'"),
        (policy_with({"kind": "magic"}), "The 'kind' of rule 'r' of the grading policy must be 'metric' or 'status'"),
        (policy_with({"test": "*"}), "'*' is only for status rules"),
        (policy_with({"reason": "{value} vs {limit}"}), "may only use the fields"),
        (policy_with({"kind": "status", "status": "broken", "metric": None, "op": None, "value": None}), "The 'status' of rule 'r'"),
        ("name: p\nversion: 1\nrules: [{id: a, test: t, metric: m, op: <, value: 1, level: 低}, {id: a, test: t, metric: m, op: <, value: 1, level: 低}]", "Rule 'a' of the grading policy is defined twice"),
        ("name: p\nrules: []", "must have a non-empty 'version'"),
        ("name: p\nversion: 1\nlevels: [low, high]", "'levels' must be [低, 中, 高]"),
        ("name: p\nversion: 1\nrequired: [3]", "Each entry of the grading policy's 'required'"),
        ("name: p\nversion: 1\nruels: []", "unknown key 'ruels'"),
        ("name: [unclosed", "The grading policy is not valid YAML"),
        ("- just\n- a list", "must be a mapping"),
    ],
)
def test_bad_policies_are_refused_naming_the_rule_and_field(text, message):
    with pytest.raises(Invalid) as caught:
        GradingPolicy.from_yaml(text)
    assert message in caught.value.message


def test_the_shipped_policy_is_package_data_and_documents_its_thresholds():
    policy = GradingPolicy.default()
    assert policy is GradingPolicy.default()  # parsed once
    assert [r.test for r in policy.required] == ["accuracy", "robustness", "privacy", "efficiency"]
    assert "# ---" in policy.text  # the rationale travels with the rules
    assert GradingPolicy.from_yaml(policy.text).sha256 == policy.sha256
