"""The tests and suites on offer. Built-in tests register here exactly as an extension would.

A test is a function `run(subject, params) -> TestOutcome` with a name, titles in both languages,
default parameters and default thresholds. `applies(subject)` says why a test cannot run on a
subject (a text perturbation on an image model), and the run records it as skipped with that reason.
A suite is a named list of tests with parameters and thresholds that override the defaults.

Most tests examine a classifier on records (`Subject`). A task whose models are tested another way
(a signal controller on a road network) registers a *subject builder* for its task and tests whose
`subject_type` is what that builder makes; a test asked to run on a subject of another type is
recorded as skipped, naming the kind of model it examines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aicommons.core.registry import Registry
from aicommons.evaluation.outcomes import TestOutcome
from aicommons.evaluation.subject import Subject


def _always(subject: Subject) -> str | None:
    return None


@dataclass(frozen=True)
class TestSpec:
    name: str
    title: str
    title_zh: str
    category: str  # accuracy | robustness | fairness | privacy | safety | efficiency
    run: Callable[[Subject, dict[str, Any]], TestOutcome]
    description: str = ""
    params: dict[str, Any] = field(default_factory=dict)  # defaults; a caller's params are merged over them
    thresholds: dict[str, tuple[str, float]] = field(default_factory=dict)  # metric path → (">=" | "<=", value)
    applies: Callable[[Subject], str | None] = _always  # None, or why the test cannot run on this subject
    subject_type: type[Any] = Subject  # what the test examines; other subjects skip it


@dataclass(frozen=True)
class SuiteEntry:
    test: str
    params: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, tuple[str, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    title_zh: str
    entries: tuple[SuiteEntry, ...]
    description: str = ""


evaluation_tests: Registry[TestSpec] = Registry("evaluation test")
suites: Registry[Suite] = Registry("evaluation suite")
# Model task → how a run builds what its tests examine, for tasks not tested on classified records:
# builder(blobs, version, task, table, *, dataset_version_id, seed, progress) -> a subject.
subject_builders: Registry[Callable[..., Any]] = Registry("evaluation subject builder")


def register_test(spec: TestSpec) -> TestSpec:
    evaluation_tests.add(spec.name, spec)
    return spec


def register_suite(suite: Suite) -> Suite:
    suites.add(suite.name, suite)
    return suite
