"""Identifiers: a kind prefix and a ULID, so ids sort by creation time and say what they name."""

from __future__ import annotations

import os
import time

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid() -> str:
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def new_id(prefix: str) -> str:
    """`new_id("job")` -> `"job_01JD5Z6K7Q..."`; lexical order is creation order (to the millisecond)."""
    return f"{prefix}_{_ulid()}"
