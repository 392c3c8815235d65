"""Jobs: durable, resumable, metered units of long work, run by a pluggable executor."""

from aicommons.core.jobs.context import JobContext
from aicommons.core.jobs.service import (
    cancel_job,
    get_job,
    list_jobs,
    live_workers,
    read_logs,
    retry_job,
    submit_job,
)
from aicommons.core.jobs.types import Executor, JobCancelled, LeaseLost, executors, job_type, job_types, start_executor

__all__ = [
    "Executor",
    "JobCancelled",
    "JobContext",
    "LeaseLost",
    "cancel_job",
    "executors",
    "get_job",
    "job_type",
    "job_types",
    "list_jobs",
    "live_workers",
    "read_logs",
    "retry_job",
    "start_executor",
    "submit_job",
]
