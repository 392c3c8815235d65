"""The model hub's registrations: its tables, training recipes, and the train, compress and import jobs."""

from aicommons.models import compression, importing, recipes, tables, text, training, vision  # noqa: F401
