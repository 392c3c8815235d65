"""The end-to-end demo: the platform's whole lifecycle on built-in data, stage by stage."""

from aicommons.demo.walkthrough import STAGES, StageResult, Walkthrough

__all__ = ["STAGES", "StageResult", "Walkthrough"]
