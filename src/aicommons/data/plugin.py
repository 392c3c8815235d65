"""The data service's registrations: its tables, job types, import formats and setup steps."""

from aicommons.data import builtin_datasets, clean, deidentify, formats, operations, tables  # noqa: F401
