"""Filing's registrations: its tables, and the "filing.grade" listener that grades a finished
evaluation run and moves the filings waiting on it to review."""

from aicommons.evaluation.hooks import evaluation_finished
from aicommons.filing import tables  # noqa: F401
from aicommons.filing.filings import on_evaluation_finished

evaluation_finished.add("filing.grade", on_evaluation_finished)
