"""Evaluation's registrations: its tables, the built-in tests and suites, and the run job."""

from aicommons.evaluation import builtin, runs, tables  # noqa: F401
