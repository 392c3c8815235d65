"""The model hub's registrations: its tables, training recipes, and the train, compress and import jobs.

The torch-based recipe modules (vision, text) are not imported here: `recipes` registers them
deferred, so that starting a worker, the API or a CLI command does not import torch.
"""

from aicommons.models import compression, importing, recipes, tables, training  # noqa: F401
