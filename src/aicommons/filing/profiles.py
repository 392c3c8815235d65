"""What a filing runs and grades by, per model task.

A classifier is filed on the standard "filing" suite, graded by the default policy. A task tested
another way (a signal controller on road networks) registers its own profile: the suite its
filings run and the grading policy that reads that suite's metrics. A filing keeps the policy's
sha256 with its grade, so either kind of grade can be traced to the exact rules behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aicommons.core.registry import Registry
from aicommons.filing.grading import GradingPolicy

DEFAULT_SUITE = "filing"


@dataclass(frozen=True)
class FilingProfile:
    suite: str  # the evaluation suite a submission runs
    policy: Callable[[], GradingPolicy]  # the grading policy that turns its results into 低 / 中 / 高


DEFAULT_PROFILE = FilingProfile(DEFAULT_SUITE, GradingPolicy.default)

# Model task → its profile; tasks not registered here use DEFAULT_PROFILE.
filing_profiles: Registry[FilingProfile] = Registry("filing profile")


def profile_for(task: str) -> FilingProfile:
    return filing_profiles.get(task) if task in filing_profiles else DEFAULT_PROFILE
