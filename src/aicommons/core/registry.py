"""Named registries that built-ins and extensions fill the same way.

Built-in job types, executors and blob backends register here exactly as a plugin would
(Datasette's hooks): a module listed under the `aicommons.plugins` entry-point group, or named in
the `plugins` setting, is imported once by `load_plugins()` and registers what it brings.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from aicommons.core.errors import Invalid

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: `@job_types.register("diagnostics.noop")`."""

        def add(item: T) -> T:
            self.add(name, item)
            return item

        return add

    def add(self, name: str, item: T) -> None:
        existing = self._items.get(name)
        if existing is not None and existing is not item:
            raise ValueError(f"A {self.kind} named {name!r} is already registered.")
        self._items[name] = item

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise Invalid(f"Unknown {self.kind} {name!r}; known: {known}.") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


PLUGIN_GROUP = "aicommons.plugins"
_loaded: set[str] = set()


def load_plugins(extra_modules: Iterable[str] = ()) -> list[str]:
    """Import every plugin module once (entry points first, then `extra_modules`)."""
    names = [ep.module for ep in entry_points(group=PLUGIN_GROUP)] + list(extra_modules)
    for module in names:
        if module not in _loaded:
            importlib.import_module(module)
            _loaded.add(module)
    return sorted(_loaded)
