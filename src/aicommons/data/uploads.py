"""Taking in a file to import: streamed to the blob store, archives checked before anything is kept."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

from aicommons.core.blobs import BlobRef, BlobStore, spool
from aicommons.core.errors import Invalid
from aicommons.data import archives

MAX_UPLOAD_BYTES = 8 << 30


def stage_upload(blobs: BlobStore, stream: BinaryIO, filename: str, limits: archives.ArchiveLimits = archives.ArchiveLimits()) -> BlobRef:
    """Spool the upload to disk, refuse a bad archive, then store it. A refusal stores nothing."""
    with tempfile.TemporaryDirectory(prefix="aicommons-upload-") as workdir:
        path = Path(workdir) / (Path(filename).name or "upload")
        if spool(stream, path, max_bytes=MAX_UPLOAD_BYTES) == 0:
            raise Invalid(f"The upload {filename!r} is empty.")
        if archives.archive_kind(path):
            archives.check(path, limits)
        return blobs.put_file(path)


def stage_path(blobs: BlobStore, path: Path) -> tuple[BlobRef, str]:
    """A local file or folder (the CLI's case); a folder is packed as a tar first."""
    if not path.exists():
        raise Invalid(f"{str(path)!r} does not exist.")
    if path.is_dir():
        with tempfile.TemporaryDirectory(prefix="aicommons-pack-") as workdir:
            packed = shutil.make_archive(str(Path(workdir) / path.name), "tar", root_dir=path)
            with open(packed, "rb") as stream:
                return stage_upload(blobs, stream, Path(packed).name), Path(packed).name
    with open(path, "rb") as stream:
        return stage_upload(blobs, stream, path.name), path.name
