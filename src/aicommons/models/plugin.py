"""The model hub's registrations: its tables."""

from aicommons.models import tables  # noqa: F401
