"""MinHash signatures of character n-grams, computed for a whole corpus at once with numpy.

The signatures are datasketch's: the permutations come from `datasketch.MinHash(num_perm, seed)`
("affine32" scheme) and each n-gram is hashed by `gram_hash`, so for any text
`minhash_signatures([text])[0]` equals the hash values of a datasketch `MinHash(num_perm, seed,
hashfunc=gram_hash)` updated with the n-grams of `normalize_text(text)` (a test checks this).
What differs is the cost: datasketch hashes one n-gram at a time in Python (SHA-1) and permutes
one text at a time; here every n-gram of every text is hashed in a handful of vector operations,
and the permutations run over cache-sized blocks of n-grams with one `minimum.reduceat` per block.
LSH banding sorts one 64-bit key per text and band instead of filling hash tables in Python.

Texts are normalised before shingling (`normalize_text`): NFKC, case-folded, with punctuation,
whitespace and control/format characters removed, so that punctuation, width (，/,) and spacing
changes do not count as differences. `ngram_hashes` takes texts already normalised.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from .pairs import same_key_pairs, sorted_unique, unique_pairs

# Characters of these Unicode general categories are dropped before shingling: punctuation (P*),
# separators (Z*) and other (C*: control, format, unassigned, private use, surrogates).
_DROPPED_CATEGORIES = ("P", "Z", "C")
_BMP = 0x10000
_BLOCK_GRAMS = 1 << 13  # n-grams permuted per block
_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_MASK32 = np.uint64(0xFFFFFFFF)


@functools.cache
def _dropped() -> re.Pattern[str]:
    """A pattern matching runs of dropped code points of the Basic Multilingual Plane.
    (Code points beyond it, mostly emoji and rare ideographs, are all kept.)"""
    ranges: list[list[int]] = []
    for cp in range(_BMP):
        if unicodedata.category(chr(cp))[0] in _DROPPED_CATEGORIES:
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    members = "".join(f"\\u{lo:04x}" if lo == hi else f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in ranges)
    return re.compile(f"[{members}]+")


def normalize_text(text: str) -> str:
    """The text as it is shingled: NFKC, case-folded, without punctuation, whitespace or controls."""
    dropped = _dropped()
    text = dropped.sub("", text)
    if not unicodedata.is_normalized("NFKC", text):  # quick: most text is, once punctuation is gone
        text = dropped.sub("", unicodedata.normalize("NFKC", text))
    return text.casefold()


def _fmix64(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xFF51AFD7ED558CCD)
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(0xC4CEB9FE1A85EC53)
    return h ^ (h >> np.uint64(33))


def _fmix32(h: np.ndarray) -> np.ndarray:
    # MurmurHash3's 32-bit finalizer, the pre-mix datasketch's "affine32" scheme applies to inputs.
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def _combine(columns: Sequence[np.ndarray]) -> np.ndarray:
    """FNV-1a over code points (uint64, wrapping), then a 64-bit finalizer, folded to 32 bits."""
    h = np.full(len(columns[0]), _FNV_OFFSET, dtype=np.uint64)
    for column in columns:
        h ^= column.astype(np.uint64)
        h *= _FNV_PRIME
    return (_fmix64(h) & _MASK32).astype(np.uint32)


def gram_hash(gram: str | bytes) -> int:
    """The 32-bit hash of one n-gram (str, or its UTF-8 bytes): a `hashfunc` for datasketch."""
    if isinstance(gram, bytes):
        gram = gram.decode("utf-8")
    codes = np.frombuffer(gram.encode("utf-32-le"), dtype=np.uint32)
    return int(_combine([codes[i : i + 1] for i in range(len(codes))])[0])


def ngram_hashes(texts: Sequence[str], ngram: int) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of all character n-grams of the texts (already normalised), in one flat array.

    Returns `(hashes, owner)`: `owner[k]` is the index of the text that n-gram `k` comes from;
    `owner` is sorted. A non-empty text shorter than `ngram` counts as one n-gram; an empty
    text has none.
    """
    lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    owner = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
    if len(codes) >= ngram:
        span = len(codes) - ngram + 1
        whole = owner[:span] == owner[ngram - 1 :]  # the n-gram does not straddle two texts
        hashes = _combine([codes[k : k + span] for k in range(ngram)])[whole]
        gram_owner = owner[:span][whole]
    else:
        hashes, gram_owner = np.empty(0, np.uint32), np.empty(0, np.int64)
    short = np.flatnonzero((lengths > 0) & (lengths < ngram)).tolist()
    if short:
        extra = np.array([gram_hash(texts[i]) for i in short], dtype=np.uint32)
        hashes = np.concatenate([hashes, extra])
        gram_owner = np.concatenate([gram_owner, np.array(short, dtype=np.int64)])
        order = np.argsort(gram_owner, kind="stable")
        hashes, gram_owner = hashes[order], gram_owner[order]
    return hashes, gram_owner


@functools.cache
def permutations(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's affine32 permutation parameters `(a, b)` for this `num_perm` and `seed`."""
    from datasketch import MinHash  # imports SciPy: only when needed

    a, b = MinHash(num_perm=num_perm, seed=seed).permutations
    return a.astype(np.uint32), b.astype(np.uint32)


def minhash_signatures(
    hashes: np.ndarray, owner: np.ndarray, count: int, *, num_perm: int = 128, seed: int = 1
) -> np.ndarray:
    """One MinHash signature per text: a `(count, num_perm)` uint32 array.

    `hashes`/`owner` are `ngram_hashes`' result; a text with no n-grams keeps the empty
    signature (all 0xFFFFFFFF), as a fresh datasketch MinHash does.
    """
    a, b = permutations(num_perm, seed)
    signatures = np.full((count, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    if not len(hashes):
        return signatures
    mixed = _fmix32(hashes)
    firsts = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])  # first n-gram of each text
    bounds = np.r_[firsts, len(hashes)]
    texts = owner[firsts]
    # Permutations x n-grams, so that each text's minimum runs over contiguous memory; blocks
    # small enough to stay in cache (4 MiB at 128 permutations) are several times faster.
    block = np.empty((num_perm, min(_BLOCK_GRAMS, len(hashes))), dtype=np.uint32)
    a, b = a[:, None], b[:, None]
    t = 0
    while t < len(firsts):
        # Whole texts until the block is full (a text longer than a block gets one of its own).
        lo = bounds[t]
        u = max(int(np.searchsorted(bounds, lo + _BLOCK_GRAMS, side="right")) - 1, t + 1)
        hi = bounds[u]
        cols = block[:, : hi - lo] if hi - lo <= block.shape[1] else np.empty((num_perm, hi - lo), dtype=np.uint32)
        np.multiply(a, mixed[lo:hi], out=cols)
        cols += b
        signatures[texts[t:u]] = np.minimum.reduceat(cols, firsts[t:u] - lo, axis=1).T
        t = u
    return signatures


def band_params(threshold: float, num_perm: int, *, at_threshold: float = 0.95) -> tuple[int, int]:
    """(bands, rows per band) for MinHash LSH: the fewest bands (rows as many as possible) with
    which a pair exactly at `threshold` becomes a candidate with probability >= `at_threshold`.

    datasketch's `MinHashLSH` instead balances false positives against false negatives; at 0.8
    with 128 permutations it picks (9, 13), which proposes a pair at the threshold only 40% of
    the time. Here candidates are checked exactly, so a false positive costs only the check.
    """
    for rows in range(num_perm // 2, 0, -1):
        bands = num_perm // rows
        if 1.0 - (1.0 - threshold**rows) ** bands >= at_threshold:
            return bands, rows
    return num_perm, 1


def candidate_pairs(signatures: np.ndarray, bands: int, rows: int) -> np.ndarray:
    """Pairs of rows that agree on all values of at least one band (MinHash LSH, banded).

    Returns an `(m, 2)` int64 array of `(i, j)` with `i < j`, sorted and unique.
    """
    found = []
    for band in range(bands):
        key = np.full(len(signatures), _FNV_OFFSET, dtype=np.uint64)
        for column in range(band * rows, (band + 1) * rows):
            key ^= signatures[:, column].astype(np.uint64)
            key *= _FNV_PRIME
        found.append(same_key_pairs(key))
    return unique_pairs(found, len(signatures))


def jaccard_pairs(hashes: np.ndarray, owner: np.ndarray, count: int, pairs: np.ndarray) -> np.ndarray:
    """The exact Jaccard similarity of the n-gram sets of each pair of texts `(i, j)` in `pairs`.

    `hashes`/`owner` are `ngram_hashes`' result for `count` texts. All pairs are scored at once:
    each side's n-grams are tagged with the pair's number, made unique, and the intersection is
    the number of tagged n-grams found on both sides.
    """
    if not len(pairs):
        return np.empty(0, dtype=np.float64)
    bounds = np.searchsorted(owner, np.arange(count + 1))
    sides = []
    for side in (pairs[:, 0], pairs[:, 1]):
        lo, hi = bounds[side], bounds[side + 1]
        sizes = hi - lo
        tag = np.repeat(np.arange(len(pairs), dtype=np.uint64), sizes)
        index = np.repeat(lo - np.cumsum(np.r_[0, sizes[:-1]]), sizes) + np.arange(sizes.sum())
        sides.append(sorted_unique((tag << np.uint64(32)) | hashes[index].astype(np.uint64)))
    left, right = sides
    merged = np.sort(np.concatenate([left, right]))
    common = merged[1:][merged[1:] == merged[:-1]] >> np.uint64(32)
    both = np.bincount(common.astype(np.int64), minlength=len(pairs))
    union = (
        np.bincount((left >> np.uint64(32)).astype(np.int64), minlength=len(pairs))
        + np.bincount((right >> np.uint64(32)).astype(np.int64), minlength=len(pairs))
        - both
    )
    return both / np.maximum(union, 1)
