"""One contract for every blob backend, in the spirit of scikit-learn's check_estimator.

Each test is written once against the BlobStore API and runs on every backend in BACKENDS; a new
backend earns its place by adding a branch to the `store` fixture and passing this file unchanged.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tempfile
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import boto3
import pytest

from aicommons.core.blobs import BlobRef, BlobStore
from aicommons.core.errors import IntegrityError, Invalid, NotFound

BACKENDS = ["file", "s3"]
MiB = 1 << 20
BUCKET = "aicommons-blobs"
CREDENTIALS = {  # dummies: moto accepts any, and nothing here may reach a real account
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

# Runs in a child process: prints its port, serves until its stdin closes (so it also dies with us).
MOTO_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""

T = TypeVar("T")


# --- backends ---


@pytest.fixture(scope="session")
def s3_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real S3-compatible HTTP server on loopback, shared by the session.

    moto stands in for a real S3 service, which cannot exist on this offline machine. It runs in its
    own process so that requests cross a real socket and tracemalloc below measures only the client:
    an in-process server would hold each whole request body and hide what the store itself keeps.
    """
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as log_file:
        server = subprocess.Popen(
            [sys.executable, "-c", MOTO_SERVER],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log_file, text=True,
        )
    try:
        assert server.stdout is not None and server.stdin is not None
        port = server.stdout.readline().strip()
        if not port.isdigit():
            pytest.fail(f"moto server did not start:\n{log.read_text()}")
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client(
            "s3", endpoint_url=endpoint, region_name=CREDENTIALS["AWS_DEFAULT_REGION"],
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        ).create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.terminate()  # a graceful stop would wait out werkzeug's 0.5 s poll for nothing
        server.wait(timeout=10)
        if server.stdin:
            server.stdin.close()


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> BlobStore:
    """An empty store: its own folder, or its own prefix in the shared bucket."""
    # Stores spool to the system temp dir when their root is not local: make it an empty folder that
    # the atomicity tests can inspect.
    spool = tmp_path / "spool"
    spool.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    if request.param == "file":
        return BlobStore(str(tmp_path / "blobs"))
    endpoint = request.getfixturevalue("s3_endpoint")
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return BlobStore(f"s3://{BUCKET}/{uuid.uuid4().hex}", endpoint_url=endpoint)


# --- helpers ---


class GeneratedStream:
    """A readable that makes its bytes on demand, so the test itself never holds the whole content.

    It hashes what it hands out, so tests know the expected digest; with `fail_after` it raises once
    that many bytes have gone, like a network upload that drops half-way.
    """

    def __init__(self, size: int, *, fail_after: int | None = None):
        self.left = size
        self.fail_after = fail_after
        self.sent = 0
        self._hasher = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.sent >= self.fail_after:
            raise OSError("source went away")
        n = min(self.left, MiB if n < 0 else n)
        chunk = os.urandom(n)
        self._hasher.update(chunk)
        self.left -= n
        self.sent += n
        return chunk

    @property
    def sha256(self) -> str:
        return self._hasher.hexdigest()


def stored_objects(store: BlobStore) -> list[str]:
    """Every object under the store's root, spool files included."""
    return sorted(store.fs.find(store.root))


def spooled_files() -> list[str]:
    return os.listdir(tempfile.gettempdir())


def corrupt(store: BlobStore, sha256: str) -> None:
    """Flip one byte of the stored object in place, keeping its size, as bit rot or tampering would."""
    key = store.key(sha256)
    data = store.fs.cat_file(key)
    store.fs.pipe_file(key, bytes([data[0] ^ 0xFF]) + data[1:])


def peak_memory(fn: Callable[[], T]) -> tuple[T, int]:
    """Run `fn`; return its result and the most memory Python allocated above where it started."""
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        result = fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if started:
            tracemalloc.stop()
    return result, peak - base


# --- round trips ---


def test_put_bytes_round_trips_with_sha256_and_size(store):
    data = os.urandom(3 * MiB + 17)  # spans several read chunks and ends in a partial one
    ref = store.put_bytes(data)
    assert ref == BlobRef(hashlib.sha256(data).hexdigest(), len(data))
    assert store.exists(ref.sha256)
    assert store.size(ref.sha256) == len(data)
    assert store.read_bytes(ref.sha256) == data


def test_put_and_put_file_store_the_same_blob_as_put_bytes(store, tmp_path):
    data = os.urandom(2 * MiB + 5)
    path = tmp_path / "input.bin"
    path.write_bytes(data)
    expected = BlobRef(hashlib.sha256(data).hexdigest(), len(data))
    assert store.put(io.BytesIO(data)) == expected
    assert store.put_file(path) == expected
    assert store.read_bytes(expected.sha256) == data


def test_empty_blob_round_trips(store):
    ref = store.put_bytes(b"")
    assert ref == BlobRef(hashlib.sha256(b"").hexdigest(), 0)
    assert store.size(ref.sha256) == 0
    assert store.read_bytes(ref.sha256) == b""


def test_iter_chunks_respects_chunk_size(store):
    data = os.urandom(10_500)
    ref = store.put_bytes(data)
    chunks = list(store.iter_chunks(ref.sha256, chunk_size=1000))
    assert [len(c) for c in chunks] == [1000] * 10 + [500]
    assert b"".join(chunks) == data


def test_copy_to_writes_the_blob_to_a_local_file(store, tmp_path):
    data = os.urandom(MiB + 3)
    ref = store.put_bytes(data)
    target = tmp_path / "out.bin"
    store.copy_to(ref.sha256, target)
    assert target.read_bytes() == data


def test_exists_is_false_for_content_never_stored(store):
    store.put_bytes(b"something else")
    assert not store.exists(hashlib.sha256(b"never stored").hexdigest())


# --- content addressing ---


def test_same_content_is_stored_once(store):
    data = b"the same bytes, three ways"
    refs = {store.put_bytes(data), store.put(io.BytesIO(data)), store.put_bytes(bytes(data))}
    assert len(refs) == 1
    assert stored_objects(store) == [store.key(refs.pop().sha256)]
    # A different content is a second object: the count above is not blind.
    other = store.put_bytes(data + b"!")
    assert store.key(other.sha256) in stored_objects(store)
    assert len(stored_objects(store)) == 2


# --- streaming: memory must not grow with the blob ---

LARGE = 64 * MiB
MEMORY_BOUND = 16 * MiB


def warm_up(store: BlobStore) -> None:
    # The first request builds the S3 client (botocore loads its service model): a one-off cost,
    # not one that grows with the blob, so keep it out of the measurement.
    store.read_bytes(store.put_bytes(b"warm-up").sha256)


def test_a_large_stream_goes_in_and_out_in_bounded_memory(store):
    # One test for both directions: uploading 64 MiB to the S3 stand-in is the slow part of this file.
    warm_up(store)
    source = GeneratedStream(LARGE)
    ref, peak = peak_memory(lambda: store.put(source))
    assert ref == BlobRef(source.sha256, LARGE)
    assert store.size(ref.sha256) == LARGE
    assert peak < MEMORY_BOUND, f"put held {peak / MiB:.1f} MiB for a {LARGE // MiB} MiB stream"

    def drain() -> tuple[str, int]:
        hasher, total = hashlib.sha256(), 0
        for chunk in store.iter_chunks(ref.sha256):
            hasher.update(chunk)
            total += len(chunk)
        return hasher.hexdigest(), total

    (digest, total), peak = peak_memory(drain)
    assert (digest, total) == (source.sha256, LARGE)
    assert peak < MEMORY_BOUND, f"iter_chunks held {peak / MiB:.1f} MiB for a {LARGE // MiB} MiB blob"


# --- atomicity ---


def test_a_stream_failing_midway_leaves_no_blob_and_no_spool_file(store):
    with pytest.raises(OSError, match="source went away"):
        store.put(GeneratedStream(8 * MiB, fail_after=3 * MiB))
    assert stored_objects(store) == []
    assert spooled_files() == []


def test_a_successful_put_leaves_only_the_blob(store):
    ref = store.put(GeneratedStream(3 * MiB))
    assert stored_objects(store) == [store.key(ref.sha256)]
    assert spooled_files() == []


# --- integrity ---


def test_reading_a_corrupt_blob_raises_integrity_error(store):
    ref = store.put_bytes(os.urandom(20_000))
    corrupt(store, ref.sha256)
    with pytest.raises(IntegrityError, match=ref.sha256):
        store.read_bytes(ref.sha256)
    with pytest.raises(IntegrityError):
        for _ in store.iter_chunks(ref.sha256, chunk_size=4096):
            pass


def test_verify_tells_an_intact_blob_from_a_corrupt_one(store):
    ref = store.put_bytes(os.urandom(1000))
    assert store.verify(ref.sha256) is True
    corrupt(store, ref.sha256)
    assert store.verify(ref.sha256) is False


def test_copy_to_of_a_corrupt_blob_leaves_no_file(store, tmp_path):
    ref = store.put_bytes(os.urandom(MiB + 1))
    corrupt(store, ref.sha256)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(IntegrityError):
        store.copy_to(ref.sha256, out_dir / "blob.bin")
    assert list(out_dir.iterdir()) == []  # neither the target nor a half-written temp file


# --- bad input ---

MALFORMED = ["", "abc", "A" * 64, "g" * 64, "0" * 65]


@pytest.mark.parametrize("digest", MALFORMED)
@pytest.mark.parametrize("operation", ["exists", "size", "read_bytes", "verify"])
def test_malformed_digest_is_invalid_and_names_sha256(store, operation, digest):
    with pytest.raises(Invalid, match="sha256"):
        getattr(store, operation)(digest)


@pytest.mark.parametrize("operation", ["read_bytes", "size"])
def test_unknown_digest_is_not_found(store, operation):
    with pytest.raises(NotFound):
        getattr(store, operation)(hashlib.sha256(b"never stored").hexdigest())


def test_copy_to_of_an_unknown_digest_is_not_found_and_leaves_no_file(store, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(NotFound):
        store.copy_to(hashlib.sha256(b"never stored").hexdigest(), out_dir / "blob.bin")
    assert list(out_dir.iterdir()) == []


def test_unknown_url_scheme_is_invalid_and_names_the_known_backends():
    with pytest.raises(Invalid) as excinfo:
        BlobStore("ftp://x")
    message = excinfo.value.message
    assert "'ftp'" in message
    for backend in BACKENDS:
        assert backend in message.split("known:", 1)[1]
