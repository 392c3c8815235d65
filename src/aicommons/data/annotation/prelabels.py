"""Pre-labellers: functions that suggest an answer for an item (model-assisted labelling).

A pre-labeller takes the item as a dict — `record_id`, `text` (text records), `file_sha256`
(images), `fields` (the record's other fields) and `label` (the record's current label, if any) —
and returns a suggested value in the project's answer format, or None. Suggestions are shown to
workers in `TaskRead.suggestions` and are never counted as anyone's vote. A suggestion that does
not fit the project's schema is dropped, and so is one whose pre-labeller raises.

Register one like any other extension, from a plugin module:

    from aicommons.data.annotation.prelabels import prelabellers

    @prelabellers.register("my-model")
    def suggest(item: dict) -> str | None: ...

Later a model in the hub can be wrapped the same way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aicommons.core.registry import Registry

Prelabeller = Callable[[dict[str, Any]], Any]

prelabellers: Registry[Prelabeller] = Registry("pre-labeller")


@prelabellers.register("existing_label")
def existing_label(item: dict[str, Any]) -> Any:
    """The record's current label: for checking or correcting labels a dataset already has."""
    return item.get("label")
