"""Serving's registrations: its tables."""

from aicommons.serving import tables  # noqa: F401
