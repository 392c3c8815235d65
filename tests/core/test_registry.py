from __future__ import annotations

import pytest

from aicommons.core.errors import Invalid
from aicommons.core.ids import new_id
from aicommons.core.jobs import executors, job_types
from aicommons.core.registry import Registry


def test_builtins_register_through_the_plugin_hook():
    assert {"diagnostics.noop", "diagnostics.sleep"} <= set(job_types.names())
    assert "local" in executors


def test_unknown_names_list_what_is_known():
    registry: Registry[int] = Registry("widget")
    registry.add("a", 1)
    with pytest.raises(Invalid, match="Unknown widget 'b'; known: a"):
        registry.get("b")


def test_a_name_cannot_be_taken_twice():
    registry: Registry[int] = Registry("widget")
    registry.add("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.add("a", 2)


def test_ids_are_prefixed_unique_and_sort_by_creation_time():
    import time

    first = new_id("job")
    time.sleep(0.002)
    later = [new_id("job") for _ in range(1000)]
    assert first.startswith("job_") and len(first) == 30
    assert len(set(later)) == 1000
    assert all(first < other for other in later)
