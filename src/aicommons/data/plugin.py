"""The data service's registrations: its tables, job types, import formats and setup steps."""

from aicommons.data import builtin_datasets, operations, tables  # noqa: F401
from aicommons.data import formats  # noqa: F401,E402  (COCO, YOLO, VOC import/export and the Hugging Face export)
from aicommons.data import clean  # noqa: F401,E402
