"""Alembic environment: one migration tree for every service, on SQLite and PostgreSQL alike."""

from alembic import context

import aicommons.core.tables  # noqa: F401  the kernel's tables
from aicommons.core.config import Settings
from aicommons.core.db import Base, create_db_engine
from aicommons.core.registry import load_plugins

# Services' tables register with Base.metadata when their plugin module loads.
load_plugins(Settings().plugins)

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_db_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        _run(connection)
    engine.dispose()


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("aicommons migrations run online only: use `aicommons db upgrade`.")
run_migrations_online()
