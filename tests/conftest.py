"""Shared fixtures: a fresh database per test (SQLite, or PostgreSQL via AICOMMONS_TEST_DB_URL),
a runtime over it, and a small world of orgs, users and tokens.

Each test gets a database that holds only what migrations made, so no test sees another's rows:
on SQLite a copy of a migrated template file; on PostgreSQL a used database emptied again, or a
new copy of a migrated template when none is free.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from aicommons.core import db
from aicommons.core.config import Settings
from aicommons.core.identity import actor_for_user_id, bootstrap_operator, create_org, create_token, create_user
from aicommons.core.permissions import Actor
from aicommons.core.registry import load_plugins
from aicommons.core.runtime import Runtime
from aicommons.core.schemas import OrgCreate, OrgRole, TokenCreate, UserCreate

TEST_DB_URL = os.environ.get("AICOMMONS_TEST_DB_URL", "")


def pytest_configure(config: pytest.Config) -> None:
    # Keep the developer's own ~/.aicommons and AICOMMONS_* settings out of the tests.
    for key in [k for k in os.environ if k.startswith("AICOMMONS_") and k != "AICOMMONS_TEST_DB_URL"]:
        del os.environ[key]
    os.environ["AICOMMONS_HOME"] = tempfile.mkdtemp(prefix="aicommons-unused-home-")
    load_plugins()


def pytest_report_header(config: pytest.Config) -> str:
    return f"aicommons test database: {_backend_name()}"


def _backend_name() -> str:
    return make_url(TEST_DB_URL).get_backend_name() if TEST_DB_URL else "sqlite"


class DatabaseFactory:
    """Hands out migrated databases that hold no test's rows.

    PostgreSQL's CREATE DATABASE and DROP DATABASE each cost tenths of a second (they write and
    sync the whole template), which was most of the PostgreSQL suite's time. So a database a test
    has finished with is emptied (its sessions ended, every table's rows deleted, sequences
    restarted: milliseconds) and handed to the next test; one whose schema a test changed is
    dropped instead. SQLite copies a template file, which is cheaper still.
    """

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self._free: list[str] = []
        self._made: list[str] = []
        if TEST_DB_URL:
            self.admin_url = make_url(TEST_DB_URL)
            self.template = f"aic_tpl_{uuid.uuid4().hex[:10]}"
            self._admin(f'CREATE DATABASE "{self.template}"')
            db.upgrade(self._url(self.template))
            self._schema = self._schema_of(self.template)
        else:
            self.template_file = workdir / "template.db"
            db.upgrade(f"sqlite:///{self.template_file}")

    def _url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def _admin(self, statement: str) -> None:
        engine = sa.create_engine(self._url(self.admin_url.database or "postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(statement)
        finally:
            engine.dispose()

    @staticmethod
    def _schema_query() -> str:
        return (
            "SELECT string_agg(table_name || '.' || column_name || ':' || data_type, ',' ORDER BY table_name, column_name)"
            " || '|' || (SELECT string_agg(version_num, ',') FROM alembic_version)"
            " FROM information_schema.columns WHERE table_schema = 'public'"
        )

    def _schema_of(self, name: str) -> str:
        engine = sa.create_engine(self._url(name))
        try:
            with engine.connect() as connection:
                return connection.exec_driver_sql(self._schema_query()).scalar_one()
        finally:
            engine.dispose()

    def new(self, directory: Path) -> str:
        if TEST_DB_URL:
            if self._free:
                return self._url(self._free.pop())
            name = f"aic_t_{uuid.uuid4().hex[:12]}"
            self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
            self._made.append(name)
            return self._url(name)
        target = directory / "aicommons.db"
        shutil.copyfile(self.template_file, target)
        return f"sqlite:///{target}"

    def release(self, url: str) -> None:
        """Empties a PostgreSQL database a test has finished with, for the next test."""
        if not TEST_DB_URL:
            return
        name = make_url(url).database
        engine = sa.create_engine(self._url(name))
        try:
            with engine.begin() as connection:
                # A thread or process the test left behind must not write into the next test's rows.
                connection.exec_driver_sql(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                if connection.exec_driver_sql(self._schema_query()).scalar_one() != self._schema:
                    reusable = False  # a migration test moved the schema: drop this one
                else:
                    self._empty(connection)
                    reusable = True
        finally:
            engine.dispose()
        if reusable:
            self._free.append(name)
        else:
            self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            self._made.remove(name)

    @staticmethod
    def _empty(connection: sa.Connection) -> None:
        tables = connection.exec_driver_sql(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
        ).scalars().all()
        sequences = connection.exec_driver_sql(
            "SELECT quote_ident(sequencename) FROM pg_sequences WHERE schemaname = 'public'"
        ).scalars().all()
        # Skipping foreign-key triggers lets the rows go in any order; the tables end empty, so
        # no reference is left dangling.
        connection.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for table in tables:
            connection.exec_driver_sql(f"DELETE FROM {table}")
        for sequence in sequences:
            connection.exec_driver_sql(f"ALTER SEQUENCE {sequence} RESTART")

    def close(self) -> None:
        if TEST_DB_URL:
            for name in [*self._made, self.template]:
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatabaseFactory]:
    factory = DatabaseFactory(tmp_path_factory.mktemp("db-template"))
    yield factory
    factory.close()


@pytest.fixture
def frozen_heap() -> Iterator[None]:
    """For tests that build thousands of rows: what earlier tests left alive in this process is
    moved out of the garbage collector's reach while the test runs, then handed back.

    Late in a run a worker process holds millions of objects, and each full collection the test's
    own allocations trigger walks them all: the 10,000-row page tests took up to 55 s there
    against 8 s in a fresh process (under 6 s with this)."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@pytest.fixture
def database_url(databases: DatabaseFactory, tmp_path: Path) -> Iterator[str]:
    url = databases.new(tmp_path)
    yield url
    databases.release(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        blob_url=str(tmp_path / "blobs"),
        heartbeat_s=0.2,
        lost_after_s=2.0,
        retry_backoff_s=0.1,
        workers=2,
        builtin_datasets=False,  # publishing them takes seconds; tests/data/test_builtin_datasets.py does it once
    )


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = Runtime.from_settings(settings)
    yield runtime
    runtime.close()


@dataclass
class Member:
    actor: Actor
    token: str


@dataclass
class World:
    operator: Member
    a_admin: Member
    a_member: Member
    b_admin: Member
    b_member: Member

    @property
    def org_a(self) -> str:
        return self.a_admin.actor.org_id

    @property
    def org_b(self) -> str:
        return self.b_admin.actor.org_id


def _member(session: sa.orm.Session, operator: Actor, email: str, org_id: str, role: OrgRole) -> Member:
    user = create_user(session, operator, UserCreate(email=email, org_id=org_id, org_role=role))
    token = create_token(session, operator, user.id, TokenCreate(name="test"))
    return Member(actor_for_user_id(session, user.id), token.token)


@pytest.fixture
def world(runtime: Runtime) -> World:
    """The operator, and two enterprises A and B each with an admin and a member."""
    with runtime.session() as session:
        admin, admin_token = bootstrap_operator(session, "root@operator.test")
        operator = Member(actor_for_user_id(session, admin.id), admin_token.token)
        org_a = create_org(session, operator.actor, OrgCreate(name="Org A", kind="enterprise"))
        org_b = create_org(session, operator.actor, OrgCreate(name="Org B", kind="enterprise"))
        return World(
            operator=operator,
            a_admin=_member(session, operator.actor, "admin@a.test", org_a.id, OrgRole.admin),
            a_member=_member(session, operator.actor, "member@a.test", org_a.id, OrgRole.member),
            b_admin=_member(session, operator.actor, "admin@b.test", org_b.id, OrgRole.admin),
            b_member=_member(session, operator.actor, "member@b.test", org_b.id, OrgRole.member),
        )


OFFICIAL_EMAIL = "official@gov.test"


@pytest.fixture
def official(runtime: Runtime, world: World) -> Member:
    """A member of a government org: an official (core/officials.py) who is not the operator, with an API token."""
    with runtime.session() as session:
        org = create_org(session, world.operator.actor, OrgCreate(name="Zhejiang Economy and IT Department", kind="government"))
        return _member(session, world.operator.actor, OFFICIAL_EMAIL, org.id, OrgRole.member)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    from aicommons.api.app import create_app

    with TestClient(create_app(runtime)) as test_client:
        yield test_client


@pytest.fixture
def member_cli(settings: Settings, world: World):
    """`aicommons --as member@a.test …` run in this process against the test's home."""
    from typer.testing import CliRunner

    from aicommons.cli.main import app
    from support import cli_env

    runner = CliRunner()
    return lambda *args: runner.invoke(app, ["--as", "member@a.test", *args], env=cli_env(settings), catch_exceptions=False)
