"""The model hub's registrations: its tables, training recipes and the training job."""

from aicommons.models import recipes, tables, training  # noqa: F401
