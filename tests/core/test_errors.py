"""Refusals name the request field at fault: set where raised, or by the step that checks it."""

from __future__ import annotations

import pytest

from aicommons.core.errors import Invalid, NotFound, invalid_parameter, refusals_name
from aicommons.core.registry import Registry


def test_a_step_names_its_field_on_refusals_that_name_none():
    registry: Registry[int] = Registry("widget")
    with pytest.raises(Invalid) as unknown, refusals_name("widget"):
        registry.get("b")
    assert unknown.value.field == "widget"
    with pytest.raises(NotFound) as missing, refusals_name("params"):
        raise NotFound("No model 'm'.")
    assert missing.value.field == "params"


def test_the_innermost_name_wins_and_unrelated_errors_pass_untouched():
    with pytest.raises(Invalid) as refused, refusals_name("params"), refusals_name("controller"):
        raise Invalid("Unknown controller 'x'.")
    assert refused.value.field == "controller"
    with pytest.raises(Invalid) as named, refusals_name("params"):
        raise invalid_parameter("deadline", "create_project", "in the future", "2001-01-01")
    assert named.value.field == "deadline"
    with pytest.raises(KeyError), refusals_name("params"):
        raise KeyError("not a refusal")
