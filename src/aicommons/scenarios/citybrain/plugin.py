"""City Brain's registrations: its table, the signal controllers, the run kinds and the jobs."""

from aicommons.scenarios.citybrain import controllers, greenwave, incidents, learning, runs, tables, training  # noqa: F401
