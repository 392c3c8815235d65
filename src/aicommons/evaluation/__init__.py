"""Evaluation: test suites run as jobs on model versions, with stored, reproducible results and reports."""

from aicommons.evaluation.catalogue import Suite, SuiteEntry, TestSpec, evaluation_tests, register_suite, register_test, suites
from aicommons.evaluation.hooks import evaluation_finished
from aicommons.evaluation.outcomes import Chart, TestOutcome
from aicommons.evaluation.reports import ReportInput, build_report_input, render_html, render_pdf, report_digest
from aicommons.evaluation.runs import compare_evaluations, describe_catalogue, ended_evaluations, get_evaluation, list_evaluations, start_evaluation
from aicommons.evaluation.schemas import EvaluationCreate, EvaluationRead, TestRequest, TestResultRead
from aicommons.evaluation.subject import Split, Subject

__all__ = [
    "Chart", "EvaluationCreate", "EvaluationRead", "ReportInput", "Split", "Subject", "Suite", "SuiteEntry", "TestOutcome",
    "TestRequest", "TestResultRead", "TestSpec", "build_report_input", "compare_evaluations", "describe_catalogue",
    "ended_evaluations", "evaluation_finished", "evaluation_tests", "get_evaluation", "list_evaluations", "register_suite",
    "register_test", "render_html", "render_pdf", "report_digest", "start_evaluation", "suites",
]
