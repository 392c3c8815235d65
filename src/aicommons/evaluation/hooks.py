"""Listeners told when an evaluation run ends, in the run's final transaction.

Filing registers one to grade the run and move a waiting filing on to review; the evaluation
service itself knows nothing of filing.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from aicommons.core.registry import Registry
from aicommons.evaluation.schemas import EvaluationRead

EvaluationListener = Callable[[Session, EvaluationRead], None]
evaluation_finished: Registry[EvaluationListener] = Registry("evaluation-finished listener")
