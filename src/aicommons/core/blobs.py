"""Content-addressed blob store over fsspec: a local folder by default, S3 through s3fs.

A blob's name is the sha256 of its bytes, so equal content is stored once. Writes stream through
a local spool file while hashing (no whole-file reads into memory) and land atomically: a rename
on a local disk, a single PUT or multipart upload on S3, neither of which exposes a partial
object. Reads re-hash the bytes and raise IntegrityError on a mismatch.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, BinaryIO

import fsspec
from fsspec.implementations.local import LocalFileSystem

from aicommons.core.errors import IntegrityError, Invalid, invalid_parameter, not_found
from aicommons.core.registry import Registry

CHUNK = 1 << 20
# S3 parts go up one at a time, so a put holds about two parts in memory; 5 MiB is S3's minimum.
S3_PART = 5 << 20
S3_MAX_PARTS = 10_000

BlobBackend = Callable[[str, dict[str, Any]], tuple[fsspec.AbstractFileSystem, str]]
blob_backends: Registry[BlobBackend] = Registry("blob backend")


@blob_backends.register("file")
def _file_backend(url: str, options: dict[str, Any]) -> tuple[fsspec.AbstractFileSystem, str]:
    path = url.removeprefix("file://")
    Path(path).mkdir(parents=True, exist_ok=True)
    return LocalFileSystem(), str(Path(path).resolve())


@blob_backends.register("s3")
def _s3_backend(url: str, options: dict[str, Any]) -> tuple[fsspec.AbstractFileSystem, str]:
    storage_options: dict[str, Any] = {}
    if options.get("endpoint_url"):
        storage_options["client_kwargs"] = {"endpoint_url": options["endpoint_url"]}
    # fsspec caches instances by arguments; a fresh one keeps forked workers off a shared event loop.
    fs = fsspec.filesystem("s3", skip_instance_cache=True, **storage_options)
    return fs, url.removeprefix("s3://").rstrip("/")


def spool(stream: BinaryIO | IO[bytes], path: str | os.PathLike[str], *, max_bytes: int) -> int:
    """Copy an upload stream to a local file, refusing one over `max_bytes`; returns its size."""
    copied = 0
    with open(path, "wb") as out:
        while chunk := stream.read(CHUNK):
            copied += len(chunk)
            if copied > max_bytes:
                raise Invalid(f"The upload is larger than {max_bytes:,} bytes.")
            out.write(chunk)
    return copied


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int


def _check_digest(sha256: str) -> str:
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise invalid_parameter("sha256", "BlobStore", "64 lowercase hex digits", sha256)
    return sha256


class BlobStore:
    def __init__(self, url: str, *, endpoint_url: str = ""):
        protocol = url.split("://", 1)[0] if "://" in url else "file"
        self.url = url
        self.fs, self.root = blob_backends.get(protocol)(url, {"endpoint_url": endpoint_url})
        self._local = isinstance(self.fs, LocalFileSystem)
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self._s3 = "s3" in protocols

    def key(self, sha256: str) -> str:
        _check_digest(sha256)
        return f"{self.root}/sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"

    # --- writing ---

    def put(self, stream: BinaryIO | IO[bytes]) -> BlobRef:
        """Store the bytes of a readable binary stream; returns their digest and size."""
        spool = tempfile.NamedTemporaryFile(dir=self._spool_dir(), prefix="put-", delete=False)
        try:
            with spool:
                hasher = hashlib.sha256()
                size = 0
                while chunk := stream.read(CHUNK):
                    hasher.update(chunk)
                    spool.write(chunk)
                    size += len(chunk)
                spool.flush()
                os.fsync(spool.fileno())
            ref = BlobRef(hasher.hexdigest(), size)
            self._land(spool.name, self.key(ref.sha256))
        finally:
            # Also on a failed read of `stream`: a half-written spool file must not outlive the put.
            if os.path.exists(spool.name):
                os.unlink(spool.name)
        return ref

    def put_bytes(self, data: bytes) -> BlobRef:
        return self.put(io.BytesIO(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        with open(path, "rb") as stream:
            return self.put(stream)

    def _spool_dir(self) -> str | None:
        if not self._local:
            return None
        spool = f"{self.root}/tmp"
        os.makedirs(spool, exist_ok=True)
        return spool

    def _land(self, spool_path: str, key: str) -> None:
        if self.fs.exists(key):
            return  # same bytes already stored
        if self._local:
            os.makedirs(os.path.dirname(key), exist_ok=True)
            os.replace(spool_path, key)
        elif self._s3:
            # s3fs's defaults read a file under 100 MiB whole into memory and upload ten 50 MiB parts
            # at once; one bounded part at a time keeps a put's memory flat at any size.
            size = os.path.getsize(spool_path)
            part = max(S3_PART, -(-size // S3_MAX_PARTS))
            self.fs.put_file(spool_path, key, chunksize=part, max_concurrency=1)
        else:
            self.fs.put_file(spool_path, key)

    # --- reading ---

    def exists(self, sha256: str) -> bool:
        return bool(self.fs.exists(self.key(sha256)))

    def size(self, sha256: str) -> int:
        try:
            return int(self.fs.size(self.key(sha256)))
        except FileNotFoundError:
            raise not_found("blob", sha256) from None

    def iter_chunks(self, sha256: str, chunk_size: int = CHUNK) -> Iterator[bytes]:
        """Yield the blob's bytes; raise IntegrityError at the end if they do not hash to `sha256`."""
        hasher = hashlib.sha256()
        # s3fs would otherwise fetch 50 MiB blocks: read ahead by one chunk only.
        options = {"block_size": chunk_size, "cache_type": "readahead"} if self._s3 else {}
        try:
            stream = self.fs.open(self.key(sha256), "rb", **options)
        except FileNotFoundError:
            raise not_found("blob", sha256) from None
        with stream:
            while chunk := stream.read(chunk_size):
                hasher.update(chunk)
                yield chunk
        if hasher.hexdigest() != sha256:
            raise IntegrityError(f"Blob {sha256} is corrupt: its bytes hash to {hasher.hexdigest()}.")

    def read_bytes(self, sha256: str) -> bytes:
        return b"".join(self.iter_chunks(sha256))

    def copy_to(self, sha256: str, path: str | os.PathLike[str]) -> None:
        """Write the verified blob to a local file, atomically."""
        target = Path(path)
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as out:
            try:
                for chunk in self.iter_chunks(sha256):
                    out.write(chunk)
            except BaseException:
                out.close()
                os.unlink(out.name)
                raise
        shutil.move(out.name, target)

    def verify(self, sha256: str) -> bool:
        try:
            for _ in self.iter_chunks(sha256):
                pass
        except IntegrityError:
            return False
        return True
