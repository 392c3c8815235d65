"""The observatory's registrations: the tables and job types of its three areas."""

from aicommons.observatory.enterprises import tables as enterprise_tables  # noqa: F401
from aicommons.observatory.statistics import tables as statistics_tables  # noqa: F401
from aicommons.observatory.subsidies import tables as subsidy_tables  # noqa: F401
