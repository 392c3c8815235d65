"""The data service's registrations: its tables, job types, import formats and setup steps."""

from aicommons.data import builtin_datasets, clean, deidentify, formats, operations, tables  # noqa: F401
from aicommons.data.annotation import results, tables as annotation_tables  # noqa: F401
