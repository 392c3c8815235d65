"""The kernel's own registrations, loaded through the same plugin hook as any extension."""

from aicommons.core import blobs  # noqa: F401  file and s3 blob backends
from aicommons.core.jobs import diagnostics, local  # noqa: F401  diagnostic job types, local executor
