"""City Brain's registrations: its table, the signal controllers and the simulation job."""

from aicommons.scenarios.citybrain import controllers, runs, tables  # noqa: F401
