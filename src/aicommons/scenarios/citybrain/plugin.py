"""City Brain's registrations: its table, the signal controllers, the run kinds and the jobs."""

from aicommons.scenarios.citybrain import (  # noqa: F401
    controller_evaluation,
    controllers,
    greenwave,
    incidents,
    learning,
    network_datasets,
    runs,
    tables,
    training,
)
