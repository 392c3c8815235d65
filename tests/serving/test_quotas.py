"""Rate quotas: the token bucket, in one process and shared by several through a mapped file."""

from __future__ import annotations

import subprocess
import sys

import pytest

from aicommons.core.errors import RateLimited
from aicommons.serving.quotas import RateLimiter, SharedBuckets

pytestmark = pytest.mark.no_database


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _granted(limiter: RateLimiter, calls: int, per_minute: int = 60) -> int:
    granted = 0
    for _ in range(calls):
        try:
            limiter.take("cnn", "org_a", per_minute)
            granted += 1
        except RateLimited:
            pass
    return granted


@pytest.mark.parametrize("shared", [False, True], ids=["local", "shared"])
def test_a_bucket_bursts_ten_seconds_of_its_rate_then_refills_at_the_rate(tmp_path, shared):
    clock = Clock()
    limiter = RateLimiter(SharedBuckets(tmp_path / "quotas") if shared else None, clock=clock)
    assert _granted(limiter, 15) == 10  # 60 a minute: a burst of 10 s' worth
    with pytest.raises(RateLimited, match=r"quota of 60 requests a minute on endpoint 'cnn'; retry in 1\.0 s") as refused:
        limiter.take("cnn", "org_a", 60)
    assert refused.value.retry_after == pytest.approx(1.0)
    clock.now += 3.0
    assert _granted(limiter, 5) == 3
    limiter.take("cnn", "org_b", 60)  # another org's bucket is full
    limiter.take("other", "org_a", 60)  # and so is the org's bucket on another endpoint


SPEND = """
import sys
from pathlib import Path
from aicommons.core.errors import RateLimited
from aicommons.serving.quotas import RateLimiter, SharedBuckets
limiter = RateLimiter(SharedBuckets(Path(sys.argv[1])), clock=lambda: 5000.0)
granted = 0
for _ in range(12):
    try:
        limiter.take("cnn", "org_a", 60)
        granted += 1
    except RateLimited:
        pass
print(granted)
"""


def test_processes_sharing_the_file_spend_one_bucket_between_them(tmp_path):
    processes = [subprocess.Popen([sys.executable, "-c", SPEND, str(tmp_path / "quotas")], stdout=subprocess.PIPE, text=True)
                 for _ in range(3)]
    granted = [int(process.communicate(timeout=60)[0]) for process in processes]
    assert sum(granted) == 10, granted  # one bucket of 10 for the three of them, not 10 each


def test_a_full_table_starts_over_rather_than_refusing(tmp_path, monkeypatch):
    monkeypatch.setattr(SharedBuckets, "SLOTS", 4)
    limiter = RateLimiter(SharedBuckets(tmp_path / "quotas"), clock=Clock())
    for org in ("a", "b", "c", "d"):
        limiter.take("cnn", org, 6)  # a bucket of one request each
    with pytest.raises(RateLimited):
        limiter.take("cnn", "a", 6)
    limiter.take("cnn", "e", 6)  # a fifth pair: the table starts over...
    limiter.take("cnn", "a", 6)  # ...so the spent bucket is full again
