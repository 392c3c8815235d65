"""Safe extraction of zip and tar archives.

Refused, with nothing written outside a fresh folder and the folder removed: absolute paths,
`..` segments, links and device files, more than `max_entries` entries, more than `max_bytes`
extracted, and a compression ratio above `max_ratio` (a zip bomb). Sizes are counted on the
bytes actually produced, not on what the headers claim.
"""

from __future__ import annotations

import shutil
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aicommons.core.errors import Invalid

CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = 100_000
    max_bytes: int = 4 << 30
    max_ratio: float = 200.0


def archive_kind(path: Path) -> str | None:
    """'zip', 'tar' or None, by content rather than by name."""
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except OSError:
        return None
    return None


def _safe_name(name: str) -> PurePosixPath:
    posix = PurePosixPath(name.replace("\\", "/"))
    if posix.is_absolute() or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise Invalid(f"The archive entry {name!r} has an absolute path; archives may only hold relative paths.")
    if ".." in posix.parts:
        raise Invalid(f"The archive entry {name!r} climbs out of the archive with '..'.")
    return posix


class _Budget:
    def __init__(self, limits: ArchiveLimits, packed_size: int):
        self.limits = limits
        self.packed = max(packed_size, 1)
        self.written = 0

    def spend(self, count: int) -> None:
        self.written += count
        if self.written > self.limits.max_bytes:
            raise Invalid(f"The archive expands to more than {self.limits.max_bytes:,} bytes; it is refused.")
        if self.written > 1 << 20 and self.written / self.packed > self.limits.max_ratio:
            raise Invalid(
                f"The archive expands more than {self.limits.max_ratio:g} times its size "
                "(a zip bomb?); it is refused."
            )


def extract(path: Path, target: Path, limits: ArchiveLimits = ArchiveLimits()) -> Path:
    """Extract `path` into the new folder `target`; on any refusal `target` is removed."""
    kind = archive_kind(path)
    if kind is None:
        raise Invalid(f"{path.name!r} is not a zip or tar archive.")
    target.mkdir(parents=True)
    try:
        budget = _Budget(limits, path.stat().st_size)
        if kind == "zip":
            _extract_zip(path, target, limits, budget)
        else:
            _extract_tar(path, target, limits, budget)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target


def check(path: Path, limits: ArchiveLimits = ArchiveLimits()) -> None:
    """Refuse a bad archive without keeping anything: extract into a scratch folder and drop it."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="aicommons-archive-check-") as scratch:
        extract(path, Path(scratch) / "x", limits)


def _copy(source, destination: Path, budget: _Budget) -> None:  # type: ignore[no-untyped-def]
    destination.parent.mkdir(parents=True, exist_ok=True)
    with open(destination, "wb") as out:
        while chunk := source.read(CHUNK):
            budget.spend(len(chunk))
            out.write(chunk)


def _extract_zip(path: Path, target: Path, limits: ArchiveLimits, budget: _Budget) -> None:
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise Invalid(f"{path.name!r} is not a readable zip archive: {exc}.") from None
    with archive:
        entries = archive.infolist()
        if len(entries) > limits.max_entries:
            raise Invalid(f"The archive holds {len(entries):,} entries; at most {limits.max_entries:,} are allowed.")
        for entry in entries:
            name = _safe_name(entry.filename)
            mode = entry.external_attr >> 16
            if stat.S_ISLNK(mode):
                raise Invalid(f"The archive entry {entry.filename!r} is a link; links are not allowed.")
            if entry.is_dir():
                (target / name).mkdir(parents=True, exist_ok=True)
                continue
            with archive.open(entry) as source:
                _copy(source, target / name, budget)


def _extract_tar(path: Path, target: Path, limits: ArchiveLimits, budget: _Budget) -> None:
    try:
        archive = tarfile.open(path)
    except tarfile.TarError as exc:
        raise Invalid(f"{path.name!r} is not a readable tar archive: {exc}.") from None
    with archive:
        count = 0
        for member in archive:  # streamed: a tar with a million entries is refused before it is listed
            count += 1
            if count > limits.max_entries:
                raise Invalid(f"The archive holds more than {limits.max_entries:,} entries; it is refused.")
            name = _safe_name(member.name)
            if member.issym() or member.islnk():
                raise Invalid(f"The archive entry {member.name!r} is a link; links are not allowed.")
            if member.isdir():
                (target / name).mkdir(parents=True, exist_ok=True)
                continue
            if not member.isfile():
                raise Invalid(f"The archive entry {member.name!r} is a device or special file; it is refused.")
            source = archive.extractfile(member)
            assert source is not None
            with source:
                _copy(source, target / name, budget)
