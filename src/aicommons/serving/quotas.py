"""Per-org rate quotas on an endpoint: a token bucket per (endpoint, calling org).

The bucket holds ten seconds' worth of the per-minute rate (at least one request), so a caller
may burst briefly but not spend a whole minute's quota in a moment.

Where the buckets live decides who shares them. One API process keeps them in a dict
(`LocalBuckets`). Several API processes (`aicommons serve --api-processes N`) must spend one
bucket between them, or each would allow the whole rate: they keep the buckets in one
memory-mapped file (`SharedBuckets`), read and written under an advisory file lock. Either way
the clock is `time.monotonic`, which on Linux is the same system-wide clock in every process.
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from aicommons.core.errors import RateLimited

BURST_SECONDS = 10.0

Bucket = tuple[float, float]  # (tokens left, monotonic time of the last refill)
FREE = bytes(16)  # a free slot's digest in `SharedBuckets`


class FileLock:
    """An exclusive `flock` on an open file, which excludes other processes; and a thread lock,
    because `flock` does not exclude the threads of this one (they share the descriptor)."""

    def __init__(self, fd: int):
        self._fd = fd
        self._threads = threading.Lock()

    def __enter__(self) -> None:
        self._threads.acquire()
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def __exit__(self, *exc_info: object) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class BucketStore(Protocol):
    # Held around each read-and-write of a bucket: no other thread or process touches one meanwhile.
    lock: AbstractContextManager[Any]

    def get(self, key: tuple[str, str]) -> Bucket | None: ...

    def put(self, key: tuple[str, str], bucket: Bucket) -> None: ...


class LocalBuckets:
    """The buckets of one process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def get(self, key: tuple[str, str]) -> Bucket | None:
        return self._buckets.get(key)

    def put(self, key: tuple[str, str], bucket: Bucket) -> None:
        self._buckets[key] = bucket


class SharedBuckets:
    """Buckets in a file every API process maps: an open-addressing table of `SLOTS` slots, each
    a 16-byte digest of (endpoint, org) and the bucket's two doubles. A digest of all zeros marks
    a free slot. Should the table fill (more live (endpoint, org) pairs than slots), it starts
    over empty: every bucket refills, which errs towards letting calls through."""

    SLOTS = 1 << 16
    SLOT = struct.Struct("16sdd")

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = self.SLOTS * self.SLOT.size
        if os.fstat(self._fd).st_size < size:
            os.ftruncate(self._fd, size)  # the first process to open it: a table of free slots
        self._table = mmap.mmap(self._fd, size)
        self.lock = FileLock(self._fd)

    def get(self, key: tuple[str, str]) -> Bucket | None:
        offset, found = self._slot(_digest(key))
        if not found:
            return None
        _, tokens, last = self.SLOT.unpack_from(self._table, offset)
        return tokens, last

    def put(self, key: tuple[str, str], bucket: Bucket) -> None:
        digest = _digest(key)
        offset, _ = self._slot(digest)
        if offset < 0:
            self._table[:] = bytes(len(self._table))
            offset, _ = self._slot(digest)
        self.SLOT.pack_into(self._table, offset, digest, *bucket)

    def _slot(self, digest: bytes) -> tuple[int, bool]:
        """The offset of the key's slot and whether it holds the key (else it is the free slot
        the key would take); -1 when the table is full."""
        start = int.from_bytes(digest[:8], "little") % self.SLOTS
        for probe in range(self.SLOTS):
            offset = ((start + probe) % self.SLOTS) * self.SLOT.size
            held = self._table[offset:offset + 16]
            if held == digest:
                return offset, True
            if held == FREE:
                return offset, False
        return -1, False

    def close(self) -> None:
        self._table.close()
        os.close(self._fd)


def _digest(key: tuple[str, str]) -> bytes:
    digest = hashlib.blake2b("\0".join(key).encode(), digest_size=16).digest()
    return digest if digest != FREE else b"\1" + digest[1:]


class RateLimiter:
    def __init__(self, store: BucketStore | None = None, clock=time.monotonic):
        self._store = store or LocalBuckets()
        self._clock = clock

    def take(self, endpoint: str, org_id: str, per_minute: int, cost: float = 1.0) -> None:
        """Spend `cost` requests of the org's quota on this endpoint, or raise RateLimited."""
        rate = per_minute / 60.0
        capacity = max(1.0, rate * BURST_SECONDS)
        key = (endpoint, org_id)
        with self._store.lock:
            now = self._clock()
            tokens, last = self._store.get(key) or (capacity, now)
            tokens = min(capacity, tokens + max(0.0, now - last) * rate)
            if tokens < cost:
                self._store.put(key, (tokens, now))
                wait = (cost - tokens) / rate
                raise RateLimited(
                    f"Your organisation is over its quota of {per_minute} requests a minute on endpoint {endpoint!r}; retry in {wait:.1f} s.",
                    retry_after=wait,
                )
            self._store.put(key, (tokens - cost, now))
