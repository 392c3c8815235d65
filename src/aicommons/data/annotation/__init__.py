"""Crowdsourced annotation: projects on dataset versions, workers, task assignment with gold,
qualification and adaptive overlap, spam and quality control, aggregation (crowd-kit), agreement,
review, and publishing the labels as a new dataset version.

Services take `(session, actor, …)` and return the schemas below; nothing here commits.
"""

from aicommons.data.annotation.assignment import TASK_TTL, next_task, skip_task, submit_answer, task_file
from aicommons.data.annotation.prelabels import prelabellers
from aicommons.data.annotation.projects import (
    create_project,
    get_project,
    get_worker,
    join_project,
    joined_project_ids,
    list_projects,
    list_taking_part,
    list_workers,
    may_manage,
    own_worker,
    update_project,
)
from aicommons.data.annotation.results import list_results, publish_results, review_result, start_aggregation
from aicommons.data.annotation.schemas import (
    AggregateParams,
    AnswerRead,
    AnswerSubmit,
    FlagRead,
    LabelSchema,
    ProjectCreate,
    ProjectRead,
    ProjectUpdate,
    ResultRead,
    ReviewDecision,
    TaskItem,
    TaskRead,
    WorkerRead,
)

__all__ = [
    "TASK_TTL", "AggregateParams", "AnswerRead", "AnswerSubmit", "FlagRead", "LabelSchema", "ProjectCreate",
    "ProjectRead", "ProjectUpdate", "ResultRead", "ReviewDecision", "TaskItem", "TaskRead", "WorkerRead",
    "create_project", "get_project", "get_worker", "join_project", "joined_project_ids", "list_projects", "list_results",
    "list_taking_part", "list_workers", "may_manage", "next_task", "own_worker", "prelabellers", "publish_results",
    "review_result", "skip_task", "start_aggregation", "submit_answer", "task_file", "update_project",
]
