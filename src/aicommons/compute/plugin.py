"""The compute service's registrations: the ledger's tables and the charging-run job type."""

from aicommons.compute import tables, usage  # noqa: F401
