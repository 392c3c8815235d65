"""The data-service tests' fixture: a DataKit acting as a member of org A."""

from __future__ import annotations

import pytest
from datakit import DataKit


@pytest.fixture
def kit(runtime, world):
    return DataKit(runtime, world.a_member.actor)
