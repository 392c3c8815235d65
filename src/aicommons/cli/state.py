"""What every CLI command shares: the runtime (built on first use) and the acting user.

The CLI runs on the platform's own machine with direct access to its database, like a server's
admin console: it acts as the platform operator unless `--as EMAIL` names someone else.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import typer
from sqlalchemy.orm import Session

from aicommons.core.config import Settings
from aicommons.core.identity import actor_for_email, local_operator
from aicommons.core.permissions import Actor
from aicommons.core.registry import load_plugins
from aicommons.core.runtime import Runtime


@dataclass
class CliState:
    as_email: str | None = None
    _runtime: Runtime | None = field(default=None, repr=False)

    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = Runtime.from_settings(Settings())
            load_plugins(self._runtime.settings.plugins)
        return self._runtime

    @contextmanager
    def session(self) -> Iterator[tuple[Session, Actor]]:
        """A transaction and the acting user, committed when the block ends."""
        with self.runtime().session() as session:
            actor = actor_for_email(session, self.as_email) if self.as_email else local_operator(session)
            yield session, actor

    def close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
