"""PII detection: spans, the detector registry and `detect()`.

A detector is a function `text -> iterable of Span` registered under the entity type it finds.
The built-in ones (in `identifiers`, `contacts`, `dates`, `names`, `addresses`) register through
the same `detectors` registry a plugin would use:

    from aicommons.data.deid.detectors import Span, detectors

    @detectors.register("employee_no")
    def find_employee_numbers(text: str):
        for m in re.finditer(r"EMP-\\d{6}", text):
            yield Span(m.start(), m.end(), "employee_no", m.group(), 0.9)

Scores run from 0 to 1. A match that a checksum or strong context confirms scores 0.85 or more;
a bare pattern that could as well be something else scores below `DEFAULT_MIN_SCORE` and is
dropped by `detect()` unless the caller asks for lower scores.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from aicommons.core.errors import invalid_parameter
from aicommons.core.registry import Registry

DEFAULT_MIN_SCORE = 0.5


@dataclass(frozen=True)
class Span:
    """`text[start:end]` is an entity of `type`; `score` is the detector's confidence."""

    start: int
    end: int
    type: str
    text: str
    score: float

    def __len__(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


Detector = Callable[[str], Iterable[Span]]

detectors: Registry[Detector] = Registry("PII detector")

_BUILTIN_MODULES = (
    "aicommons.data.deid.identifiers",
    "aicommons.data.deid.contacts",
    "aicommons.data.deid.dates",
    "aicommons.data.deid.names",
    "aicommons.data.deid.addresses",
)


def load_builtin_detectors() -> None:
    """Import the built-in detector modules once; each registers its detectors on import."""
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)


def entity_types() -> list[str]:
    """Every entity type some registered detector finds, built-ins included."""
    load_builtin_detectors()
    return detectors.names()


def detect(
    text: str,
    types: Iterable[str] | None = None,
    *,
    min_score: float = DEFAULT_MIN_SCORE,
) -> list[Span]:
    """All PII spans in `text`, in order, without overlaps.

    `types` limits detection to those entity types (unknown names raise `Invalid`). Where spans
    overlap, the longest wins, and between equally long ones the higher score.
    """
    if not isinstance(text, str):
        raise invalid_parameter("text", "detect", "a str", type(text).__name__)
    load_builtin_detectors()
    names = detectors.names() if types is None else list(dict.fromkeys(types))
    found: list[Span] = []
    for name in names:
        detector = detectors.get(name)
        found.extend(s for s in detector(text) if s.score >= min_score)
    return resolve_overlaps(found)


def resolve_overlaps(spans: Iterable[Span]) -> list[Span]:
    """Keep the longest span of each overlapping group (higher score breaks ties), in text order."""
    kept: list[Span] = []
    for span in sorted(spans, key=lambda s: (-(s.end - s.start), -s.score, s.start, s.type)):
        if not any(span.overlaps(k) for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


# --- helpers the built-in detectors share ---------------------------------------------------

# ASCII letters and digits: a number glued to them is part of a longer token (a hash, a code).
NOT_AFTER_ALNUM = r"(?<![0-9A-Za-z])"
NOT_BEFORE_ALNUM = r"(?![0-9A-Za-z])"
CJK = "\u4e00-\u9fff"


def keyword_pattern(words: Sequence[str]) -> re.Pattern[str]:
    """A case-insensitive pattern matching any of `words`; ASCII words only as whole words."""
    parts = []
    for w in sorted(words, key=len, reverse=True):
        escaped = re.escape(w)
        parts.append(rf"(?<![A-Za-z]){escaped}(?![A-Za-z])" if w.isascii() and w[-1:].isalpha() else escaped)
    return re.compile("|".join(parts), re.IGNORECASE)


def before(text: str, start: int, window: int) -> str:
    return text[max(0, start - window) : start]


def after(text: str, end: int, window: int) -> str:
    return text[end : end + window]


def nearest_keyword_before(text: str, start: int, window: int, *patterns: re.Pattern[str]) -> int | None:
    """Index (in `patterns`) of the pattern whose match ends closest before `start`, if any."""
    region = before(text, start, window)
    best: tuple[int, int] | None = None
    for i, pattern in enumerate(patterns):
        for m in pattern.finditer(region):
            if best is None or m.end() > best[0] or (m.end() == best[0] and i < best[1]):
                best = (m.end(), i)
    return None if best is None else best[1]


def context_score(
    text: str,
    start: int,
    end: int,
    *,
    base: float,
    positive: re.Pattern[str] | None = None,
    negative: re.Pattern[str] | None = None,
    boosted: float = 0.95,
    suppressed: float = 0.2,
    window: int = 16,
    window_after: int = 0,
) -> float:
    """`base`, raised to `boosted` when a positive keyword is near, lowered to `suppressed`
    when the nearest keyword before the match is a negative one (an order number, a serial)."""
    pats = [p for p in (positive, negative) if p is not None]
    nearest = nearest_keyword_before(text, start, window, *pats) if pats else None
    if nearest is not None:
        return boosted if pats[nearest] is positive else suppressed
    if positive is not None and window_after and positive.search(after(text, end, window_after)):
        return boosted
    return base
