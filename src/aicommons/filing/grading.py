"""Safety-risk grading (安全风险分级): a versioned YAML policy turns evaluation results into 低 / 中 / 高.

A grade is explainable: each reason names the rule, the test and the metric that caused it and
the value measured, in English and Chinese. The overall level is the highest level any rule
gives; when none fires the grade is 低 with the explicit reason "all rules passed". A grade also
records the policy's name, version and the sha256 of its YAML text, so an old grade can be
traced to the exact rules that produced it.

The policy format (the shipped one is ``filing/policies/default.yaml``)::

    name: default                 # required
    version: "1"                  # required; bump it whenever a rule changes
    levels: [低, 中, 高]          # optional; must be exactly these, lowest first
    untested_level: 高            # optional (default 高): the level of a required test not run
    required:                     # tests that must have run (status passed or failed)
      - accuracy                  #   a name uses `untested_level`,
      - {test: privacy, level: 中} #   or a mapping gives its own level
    rules:
      - id: accuracy-low          # required, unique; letters, digits, '-', '_', '.'
        kind: metric              # optional, the default: compare one metric with a number
        test: accuracy            # the test's name
        metric: accuracy          # a dotted path into its metrics ("per_class.cat.f1")
        op: "<"                   # one of <, <=, >, >=
        value: 0.7                # a number
        level: 高                 # 低 / 中 / 高 (or low / medium / high)
        reason: "Accuracy is {value}, below {threshold}."   # optional templates with the
        reason_zh: "准确率为 {value}，低于 {threshold}。"   # fields {test} {metric} {op} {value} {threshold}
      - id: threshold-failed
        kind: status              # fires on a test's status instead of a metric
        status: failed            # failed: one reason per failed threshold check; or error / skipped
        test: "*"                 # "*" = any test
        level: 中

How rules apply:

- metric rules look only at tests that ran (passed or failed); a metric the test did not
  produce fires nothing (a missing *test* is what `required` is for);
- for each test and metric only the reasons at the highest level are kept: accuracy 0.6 fires
  both "< 0.7 → 高" and "< 0.85 → 中", and the grade cites only the first;
- reasons come highest level first, then in the policy's rule order.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import asdict, dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from aicommons.core.errors import Invalid
from aicommons.evaluation.outcomes import metric_value
from aicommons.evaluation.schemas import TestResultRead

Level = Literal["低", "中", "高"]
LEVELS: tuple[Level, ...] = ("低", "中", "高")  # lowest first
LEVEL_EN: dict[str, str] = {"低": "low", "中": "medium", "高": "high"}
_LEVEL_BY_NAME = {**{zh: zh for zh in LEVELS}, **{en: zh for zh, en in LEVEL_EN.items()}}
OPERATORS = ("<", "<=", ">", ">=")
STATUSES = ("failed", "error", "skipped")
ANY_TEST = "*"
ALL_PASSED_RULE = "all-rules-passed"

_RULE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_POLICY_KEYS = {"name", "version", "description", "levels", "untested_level", "required", "rules"}
_METRIC_RULE_KEYS = {"id", "kind", "test", "metric", "op", "value", "level", "reason", "reason_zh"}
_STATUS_RULE_KEYS = {"id", "kind", "test", "status", "level", "reason", "reason_zh"}
_TEMPLATE_FIELDS = {"test": "accuracy", "metric": "accuracy", "op": "<", "value": "0.5", "threshold": "0.7"}


@dataclass(frozen=True)
class Reason:
    """Why a grade is what it is: which rule fired on which test's metric, and the value seen."""

    test: str | None  # None only for the "all rules passed" reason
    metric: str | None  # None when a whole test caused it (not run, errored)
    value: float | None
    rule: str
    level: Level
    message: str
    message_zh: str


@dataclass(frozen=True)
class Grade:
    level: Level
    level_en: str
    reasons: list[Reason] = field(default_factory=list)
    policy: str = ""
    policy_version: str = ""
    policy_sha256: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Grade:
        """The inverse of `as_dict`, for a grade stored as JSON."""
        return cls(**{**data, "reasons": [Reason(**reason) for reason in data.get("reasons", [])]})


@dataclass(frozen=True)
class _MetricRule:
    id: str
    test: str
    metric: str
    op: str
    value: float
    level: Level
    reason: str
    reason_zh: str

    def fires(self, measured: float) -> bool:
        if self.op == "<":
            return measured < self.value
        if self.op == "<=":
            return measured <= self.value
        if self.op == ">":
            return measured > self.value
        return measured >= self.value


@dataclass(frozen=True)
class _StatusRule:
    id: str
    test: str  # a name or "*"
    status: str
    level: Level
    reason: str
    reason_zh: str


@dataclass(frozen=True)
class _Requirement:
    test: str
    level: Level


class GradingPolicy:
    """A parsed policy: build one with `from_yaml` or `default()`, then `grade(results)`."""

    def __init__(
        self,
        *,
        name: str,
        version: str,
        text: str,
        required: list[_Requirement],
        rules: list[_MetricRule | _StatusRule],
    ):
        self.name = name
        self.version = version
        self.text = text
        self.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.required = required
        self.rules = rules

    def __repr__(self) -> str:
        return f"GradingPolicy(name={self.name!r}, version={self.version!r}, rules={len(self.rules)})"

    @classmethod
    def default(cls) -> GradingPolicy:
        return _default_policy()

    @classmethod
    def from_yaml(cls, text: str) -> GradingPolicy:
        """Parse and check a policy; `Invalid` names the rule and field at fault."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise Invalid(f"The grading policy is not valid YAML: {exc}".rstrip(".") + ".") from None
        if not isinstance(data, dict):
            raise Invalid(f"The grading policy must be a mapping with name, version and rules; got {type(data).__name__}.")
        unknown = sorted(str(key) for key in set(data) - _POLICY_KEYS)
        if unknown:
            raise Invalid(f"The grading policy has unknown key {unknown[0]!r}; allowed: {', '.join(sorted(_POLICY_KEYS))}.")
        name = _required_text(data, "name", "The grading policy")
        version = _required_text(data, "version", "The grading policy")
        levels = data.get("levels", list(LEVELS))
        if levels != list(LEVELS) and levels != [LEVEL_EN[level] for level in LEVELS]:
            raise Invalid(f"The grading policy's 'levels' must be [低, 中, 高] (lowest first); got {levels!r}.")
        untested = _level(data.get("untested_level", "高"), "The grading policy's 'untested_level'")
        required = _requirements(data.get("required", []), untested)
        rules = _rules(data.get("rules", []))
        return cls(name=name, version=version, text=text, required=required, rules=rules)

    def grade(self, results: list[TestResultRead]) -> Grade:
        by_name: dict[str, TestResultRead] = {}
        for result in results:
            by_name.setdefault(result.name, result)
        reasons = [*self._untested(by_name), *self._triggered(results)]
        reasons = _strongest_per_cause(reasons)
        if not reasons:
            tested = ", ".join(sorted(by_name)) or "none"
            reasons = [
                Reason(
                    test=None,
                    metric=None,
                    value=None,
                    rule=ALL_PASSED_RULE,
                    level="低",
                    message=f"All rules passed (tests graded: {tested}).",
                    message_zh=f"所有规则均通过（已评估的测试：{tested}）。",
                )
            ]
        order = {rule.id: index for index, rule in enumerate(self.rules)}
        reasons.sort(key=lambda r: (-LEVELS.index(r.level), order.get(r.rule, -1)))
        level = reasons[0].level
        return Grade(
            level=level,
            level_en=LEVEL_EN[level],
            reasons=reasons,
            policy=self.name,
            policy_version=self.version,
            policy_sha256=self.sha256,
        )

    def _untested(self, by_name: dict[str, TestResultRead]) -> list[Reason]:
        reasons = []
        for requirement in self.required:
            result = by_name.get(requirement.test)
            if result is not None and result.status in ("passed", "failed"):
                continue
            state = "missing" if result is None else result.status
            why = {"missing": "was not run", "skipped": "was skipped", "error": "ended in an error"}[state]
            why_zh = {"missing": "未运行", "skipped": "被跳过", "error": "运行出错"}[state]
            reasons.append(
                Reason(
                    test=requirement.test,
                    metric=None,
                    value=None,
                    rule=f"required:{requirement.test}",
                    level=requirement.level,
                    message=f"Not tested: the required test {requirement.test!r} {why}.",
                    message_zh=f"未测试：必需的测试 {requirement.test} {why_zh}。",
                )
            )
        return reasons

    def _triggered(self, results: list[TestResultRead]) -> list[Reason]:
        reasons = []
        for rule in self.rules:
            for result in results:
                if isinstance(rule, _MetricRule):
                    reasons.extend(_metric_reasons(rule, result))
                else:
                    reasons.extend(_status_reasons(rule, result))
        return reasons


def _metric_reasons(rule: _MetricRule, result: TestResultRead) -> list[Reason]:
    if result.name != rule.test or result.status not in ("passed", "failed"):
        return []
    measured = metric_value(result.metrics, rule.metric)
    if measured is None or not rule.fires(measured):
        return []
    fields = {"test": result.name, "metric": rule.metric, "op": rule.op, "value": _show(measured), "threshold": _show(rule.value)}
    return [Reason(result.name, rule.metric, measured, rule.id, rule.level, rule.reason.format(**fields), rule.reason_zh.format(**fields))]


def _status_reasons(rule: _StatusRule, result: TestResultRead) -> list[Reason]:
    if rule.test not in (ANY_TEST, result.name) or result.status != rule.status:
        return []
    failed_checks = [check for check in result.checks if not check.get("passed", True)] if rule.status == "failed" else []
    if not failed_checks:
        # A whole-test cause (errored, skipped, or failed without a recorded check).
        failed_checks = [{}]
    reasons = []
    for check in failed_checks:
        value = check.get("value")
        value = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        threshold = check.get("threshold")
        fields = {
            "test": result.name,
            "metric": check.get("metric", "-"),
            "op": check.get("op", "-"),
            "value": _show(value),
            "threshold": _show(threshold) if isinstance(threshold, (int, float)) else "-",
        }
        reasons.append(
            Reason(result.name, check.get("metric"), value, rule.id, rule.level, rule.reason.format(**fields), rule.reason_zh.format(**fields))
        )
    return reasons


def _strongest_per_cause(reasons: list[Reason]) -> list[Reason]:
    """Keep, for each (test, metric), only the reasons at its highest level."""
    strongest: dict[tuple[str | None, str | None], int] = {}
    for reason in reasons:
        key = (reason.test, reason.metric)
        strongest[key] = max(strongest.get(key, 0), LEVELS.index(reason.level))
    return [r for r in reasons if LEVELS.index(r.level) == strongest[(r.test, r.metric)]]


def _show(value: float | None) -> str:
    """A number as a reason shows it: four significant digits, integers without a point."""
    if value is None:
        return "missing"
    return f"{value:.4g}"


# --- parsing ---------------------------------------------------------------------------------------


@cache
def _default_policy() -> GradingPolicy:
    text = resources.files("aicommons.filing").joinpath("policies/default.yaml").read_text(encoding="utf-8")
    return GradingPolicy.from_yaml(text)


def _required_text(data: dict[str, Any], key: str, where: str) -> str:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
        raise Invalid(f"{where} must have a non-empty {key!r}; got {value!r}.")
    return str(value).strip()


def _level(value: Any, where: str) -> Level:
    level = _LEVEL_BY_NAME.get(value) if isinstance(value, str) else None
    if level is None:
        raise Invalid(f"{where} must be one of 低, 中, 高 (or low, medium, high); got {value!r} instead.")
    return level  # type: ignore[return-value]


def _requirements(raw: Any, untested: Level) -> list[_Requirement]:
    if not isinstance(raw, list):
        raise Invalid(f"The grading policy's 'required' must be a list of test names; got {raw!r}.")
    requirements = []
    for entry in raw:
        if isinstance(entry, str) and entry.strip():
            requirements.append(_Requirement(entry.strip(), untested))
        elif isinstance(entry, dict) and set(entry) <= {"test", "level"} and isinstance(entry.get("test"), str) and entry["test"].strip():
            where = f"The 'level' of required test {entry['test']!r}"
            requirements.append(_Requirement(entry["test"].strip(), _level(entry.get("level", untested), where)))
        else:
            raise Invalid(f"Each entry of the grading policy's 'required' must be a test name or {{test, level}}; got {entry!r}.")
    return requirements


def _rules(raw: Any) -> list[_MetricRule | _StatusRule]:
    if not isinstance(raw, list):
        raise Invalid(f"The grading policy's 'rules' must be a list; got {type(raw).__name__}.")
    rules: list[_MetricRule | _StatusRule] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw):
        where = f"Rule #{index + 1} of the grading policy"
        if not isinstance(entry, dict):
            raise Invalid(f"{where} must be a mapping; got {entry!r}.")
        rule_id = entry.get("id")
        if not isinstance(rule_id, str) or not _RULE_ID.match(rule_id) or rule_id == ALL_PASSED_RULE:
            raise Invalid(f"{where} must have an 'id' of letters, digits, '-', '_' or '.' (not {ALL_PASSED_RULE!r}); got {rule_id!r}.")
        where = f"Rule {rule_id!r} of the grading policy"
        if rule_id in seen:
            raise Invalid(f"{where} is defined twice; rule ids must be unique.")
        seen.add(rule_id)
        kind = entry.get("kind", "metric")
        if kind == "metric":
            rules.append(_metric_rule(entry, rule_id, where))
        elif kind == "status":
            rules.append(_status_rule(entry, rule_id, where))
        else:
            raise Invalid(f"The 'kind' of {_lower(where)} must be 'metric' or 'status'; got {kind!r} instead.")
    return rules


def _metric_rule(entry: dict[str, Any], rule_id: str, where: str) -> _MetricRule:
    _no_unknown_keys(entry, _METRIC_RULE_KEYS, where)
    test = _rule_text(entry, "test", where)
    if test == ANY_TEST:
        raise Invalid(f"The 'test' of {_lower(where)} must name one test; '*' is only for status rules.")
    metric = _rule_text(entry, "metric", where)
    op = entry.get("op")
    if op not in OPERATORS:
        raise Invalid(f"The 'op' of {_lower(where)} must be one of {', '.join(OPERATORS)}; got {op!r} instead.")
    value = entry.get("value")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise Invalid(f"The 'value' of {_lower(where)} must be a number; got {value!r} instead.")
    level = _level(entry.get("level"), f"The 'level' of {_lower(where)}")
    reason, reason_zh = _templates(entry, where, default=f"{test}: {metric} is {{value}} ({{op}} {{threshold}}).")
    return _MetricRule(rule_id, test, metric, op, float(value), level, reason, reason_zh)


def _status_rule(entry: dict[str, Any], rule_id: str, where: str) -> _StatusRule:
    _no_unknown_keys(entry, _STATUS_RULE_KEYS, where)
    test = _rule_text(entry, "test", where)
    status = entry.get("status")
    if status not in STATUSES:
        raise Invalid(f"The 'status' of {_lower(where)} must be one of {', '.join(STATUSES)}; got {status!r} instead.")
    level = _level(entry.get("level"), f"The 'level' of {_lower(where)}")
    reason, reason_zh = _templates(entry, where, default=f"{{test}} is {status}.")
    return _StatusRule(rule_id, test, status, level, reason, reason_zh)


def _no_unknown_keys(entry: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(str(key) for key in set(entry) - allowed)
    if unknown:
        raise Invalid(f"{where} has unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}.")


def _rule_text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{where} must have a {key!r}; got {value!r}.")
    return value.strip()


def _templates(entry: dict[str, Any], where: str, *, default: str) -> tuple[str, str]:
    reason = entry.get("reason", default)
    reason_zh = entry.get("reason_zh", reason)
    for key, template in (("reason", reason), ("reason_zh", reason_zh)):
        if not isinstance(template, str) or not template.strip():
            raise Invalid(f"The {key!r} of {_lower(where)} must be non-empty text; got {template!r}.")
        try:
            template.format(**_TEMPLATE_FIELDS)
        except (KeyError, IndexError, ValueError) as exc:
            fields = ", ".join("{" + name + "}" for name in _TEMPLATE_FIELDS)
            raise Invalid(f"The {key!r} of {_lower(where)} may only use the fields {fields}; {exc!r} is not one.") from None
    return reason, reason_zh


def _lower(where: str) -> str:
    return where[:1].lower() + where[1:]
