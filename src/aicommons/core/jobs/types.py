"""The job-type and executor registries.

A service registers a function for a job type; any executor runs it through the same contract:
`function(ctx: JobContext, params: dict) -> dict | None`, whose return value is the job's result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError

from aicommons.core.errors import Invalid
from aicommons.core.registry import Registry

if TYPE_CHECKING:
    from aicommons.core.jobs.context import JobContext
    from aicommons.core.runtime import Runtime

JobFunction = Callable[["JobContext", Any], "dict[str, Any] | None"]


@dataclass(frozen=True)
class JobType:
    name: str
    function: JobFunction
    params: type[BaseModel] | None = None

    def validate(self, params: dict[str, Any]) -> dict[str, Any]:
        """Check parameters at submission, so bad input fails before anything is queued."""
        return self.parse(params).model_dump(mode="json") if self.params else dict(params)

    def parse(self, params: dict[str, Any]) -> Any:
        if self.params is None:
            return params
        try:
            return self.params.model_validate(params)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'params'}: {e['msg']}" for e in exc.errors())
            raise Invalid(f"The params of job type {self.name!r} are invalid: {problems}.") from None


job_types: Registry[JobType] = Registry("job type")


def job_type(name: str, *, params: type[BaseModel] | None = None) -> Callable[[JobFunction], JobFunction]:
    """Decorator registering a job type: `@job_type("data.import", params=ImportParams)`.

    The function gets the validated params model (or the raw dict when no model is given)."""

    def register(function: JobFunction) -> JobFunction:
        job_types.add(name, JobType(name, function, params))
        return function

    return register


class Executor(Protocol):
    """Runs queued jobs. The local executor uses worker processes; a Ray executor runs the same
    worker loop in Ray actors. Neither changes job code."""

    def start(self) -> None: ...

    def stop(self, timeout: float = 10.0) -> None: ...

    def wake(self) -> None: ...


ExecutorFactory = Callable[["Runtime"], Executor]
executors: Registry[ExecutorFactory] = Registry("executor")


def start_executor(runtime: Runtime) -> Executor | None:
    """The configured executor (`settings.executor`), started; None when the settings ask for no
    job workers. The caller stops it."""
    if runtime.settings.workers <= 0:
        return None
    executor = executors.get(runtime.settings.executor)(runtime)
    executor.start()
    return executor


class JobCancelled(Exception):
    """Raised inside a job when its cancellation was requested."""


class LeaseLost(Exception):
    """Raised inside a job whose claim was taken away (it was presumed lost and re-queued)."""
