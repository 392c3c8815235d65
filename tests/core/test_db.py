"""One migration tree that matches the tables, runs on every backend, and guards the server."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from aicommons.core import db
from aicommons.core.db import Base, SchemaOutOfDate
from aicommons.core.runtime import Runtime


def test_the_migration_tree_has_a_single_head():
    script = ScriptDirectory.from_config(db.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_migrations_create_exactly_the_declared_tables(runtime):
    with runtime.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"tables and migrations disagree; write a migration: {diff}"


def test_downgrade_and_upgrade_round_trip(settings):
    url = settings.resolved_database_url
    db.upgrade(url, "head")
    from alembic import command

    command.downgrade(db.alembic_config(url), "base")
    engine = db.create_db_engine(url)
    try:
        assert db.current_revisions(engine) == ()
        db.upgrade(url)
        assert db.current_revisions(engine) == db.head_revisions()
    finally:
        engine.dispose()


def test_a_runtime_refuses_an_out_of_date_schema_and_says_what_to_run(settings):
    from alembic import command

    command.downgrade(db.alembic_config(settings.resolved_database_url), "base")
    with pytest.raises(SchemaOutOfDate, match="aicommons db upgrade"):
        Runtime.from_settings(settings)


def test_timestamps_come_back_timezone_aware(runtime, world):
    from aicommons.core.identity import get_org

    with runtime.session() as session:
        org = get_org(session, world.operator.actor, world.org_a)
    assert org.created_at.tzinfo is not None and org.created_at.utcoffset().total_seconds() == 0


def test_sqlite_runs_in_wal_mode(tmp_path):
    engine = db.create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
