"""The running platform's shared parts, built once from settings and passed down explicitly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from aicommons.core.blobs import BlobStore
from aicommons.core.config import Settings
from aicommons.core.db import check_schema, create_db_engine, make_sessionmaker, session_scope


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    blobs: BlobStore
    # Called after a commit that queued jobs, so an in-process executor can wake its workers.
    on_jobs_queued: list[Callable[[], None]] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings, *, check: bool = True) -> Runtime:
        settings.home.mkdir(parents=True, exist_ok=True)
        engine = create_db_engine(settings.resolved_database_url)
        if check:
            check_schema(engine)
        runtime = cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            blobs=BlobStore(settings.resolved_blob_url, endpoint_url=settings.s3_endpoint_url),
        )
        sa.event.listen(runtime.sessions, "after_commit", runtime._after_commit)
        return runtime

    def _after_commit(self, session: Session) -> None:
        if session.info.pop("jobs_queued", False):
            for callback in self.on_jobs_queued:
                callback()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.sessions) as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
