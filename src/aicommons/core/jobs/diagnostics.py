"""Built-in diagnostic job types: the platform's self-test, its benchmark load and a demo.

`diagnostics.sleep` sleeps in checkpointed steps and can be told to fail its first attempts, so
crash recovery, retries and progress can be watched on a live installation.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from aicommons.core.jobs.context import JobContext
from aicommons.core.jobs.types import job_type


class NoopParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@job_type("diagnostics.noop", params=NoopParams)
def noop(ctx: JobContext, params: NoopParams) -> dict[str, Any]:
    return {}


class SleepParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(5, ge=1, le=10_000, description="Checkpointed steps.")
    seconds: float = Field(1.0, ge=0, le=600, description="Sleep per step.")
    fail_attempts: int = Field(0, ge=0, le=20, description="Fail attempts 1..N on purpose, in their first step.")


@job_type("diagnostics.sleep", params=SleepParams)
def sleep(ctx: JobContext, params: SleepParams) -> dict[str, Any]:
    start = int(ctx.state.get("done", 0))
    if start:
        ctx.log(f"resuming after step {start} of {params.steps}")
    for step in range(start, params.steps):
        time.sleep(params.seconds)
        if ctx.attempt <= params.fail_attempts:
            raise RuntimeError(f"failing attempt {ctx.attempt} on purpose (fail_attempts={params.fail_attempts})")
        with ctx.step({"done": step + 1}):
            pass
        ctx.log(f"step {step + 1}/{params.steps} done")
        ctx.progress((step + 1) / params.steps, f"step {step + 1}/{params.steps}")
    return {"steps": params.steps, "resumed_from": start, "attempt": ctx.attempt}
