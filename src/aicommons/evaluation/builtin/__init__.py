"""The built-in tests and suites, registered the way an extension registers its own."""

from aicommons.evaluation.builtin import accuracy, efficiency, fairness, privacy, robustness, suites  # noqa: F401
