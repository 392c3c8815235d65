
from aicommons.data import builtin_datasets, operations, tables  # noqa: F401
from aicommons.data import clean  # noqa: F401,E402
