"""Exact and near duplicates: which records to drop, grouped into clusters around the one kept.

Every function returns `Cluster`s built the same way (star clustering in input order): the first
record not yet in a cluster becomes a `keep`, and every later record not yet in a cluster that is
similar enough *to it* is one of its `drop`s. So each dropped record is within the threshold of
the record kept in its place (no chains), the result depends only on the input order, and a
record appears in at most one cluster. `similarity` is the lowest similarity of a drop to its keep.

- Texts: MinHash LSH over character n-grams of normalised text (`minhash.py`) finds candidate
  pairs; each candidate is then checked with the exact Jaccard similarity of the two n-gram sets,
  so `threshold` is a Jaccard threshold, not an estimate of one.
- Images: 64-bit perceptual hashes (`imagehash.phash`); pairs within `max_distance` differing
  bits are found exactly, without comparing all pairs, by the pigeonhole principle: split the hash
  into `max_distance + 1` pieces and two hashes within the distance agree on at least one piece.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image, UnidentifiedImageError

from aicommons.core.errors import Invalid

from .minhash import band_params, candidate_pairs, jaccard_pairs, minhash_signatures, ngram_hashes, normalize_text
from .pairs import same_key_pairs, unique_pairs


@dataclass(frozen=True)
class Cluster:
    """One record kept and the records dropped as its duplicates (ids, in input order)."""

    keep: str
    drop: tuple[str, ...]
    similarity: float

    def as_dict(self) -> dict[str, object]:
        return {"keep": self.keep, "drop": list(self.drop), "similarity": round(self.similarity, 4)}


def removed_ids(clusters: Iterable[Cluster]) -> set[str]:
    """The ids that the clusters drop."""
    return {record for cluster in clusters for record in cluster.drop}


def _check_ids(ids: Sequence[str], values: Sequence[object], what: str) -> None:
    if len(ids) != len(values):
        raise Invalid(f"The 'ids' parameter must have one id per item of '{what}' ({len(values)}); got {len(ids)} instead.")
    if len(set(ids)) != len(ids):
        raise Invalid("The 'ids' parameter must hold unique ids; got repeated ids instead.")


@dataclass(frozen=True)
class _Groups:
    """Records grouped by an identical key, groups in order of their first record."""

    keys: list[object]  # the key of each group
    firsts: list[int]  # the first record of each group
    others: dict[int, list[int]]  # the later records of the groups that have more than one


def _group_identical(records: Iterable[tuple[int, object]]) -> _Groups:
    """Group `(record index, key)` pairs, given in ascending record order, by key."""
    index: dict[object, int] = {}
    firsts: list[int] = []
    others: dict[int, list[int]] = {}
    for i, key in records:
        g = index.setdefault(key, len(firsts))
        if g == len(firsts):
            firsts.append(i)
        else:
            others.setdefault(g, []).append(i)
    return _Groups(list(index), firsts, others)


def _star_clusters(ids: Sequence[str], groups: _Groups, neighbours: dict[int, list[tuple[int, float]]]) -> list[Cluster]:
    """Star clustering in input order over groups of identical records (similarity 1).

    `neighbours[g]` lists `(h, similarity)` for the groups h > g similar enough to g.
    """
    assigned = [False] * len(groups.firsts)
    clusters = []
    for g in sorted(groups.others.keys() | neighbours.keys()):
        if assigned[g]:
            continue
        assigned[g] = True
        drops = [(m, 1.0) for m in groups.others.get(g, ())]
        for h, similarity in neighbours.get(g, ()):
            if not assigned[h]:
                assigned[h] = True
                drops.append((groups.firsts[h], similarity))
                drops.extend((m, similarity) for m in groups.others.get(h, ()))
        if drops:
            drops.sort()
            keep = ids[groups.firsts[g]]
            clusters.append(Cluster(keep, tuple(ids[m] for m, _ in drops), min(s for _, s in drops)))
    return clusters


def exact_duplicates(ids: Sequence[str], hashes: Sequence[str]) -> list[Cluster]:
    """Records with the same content hash (e.g. sha256): the first is kept, the rest dropped."""
    _check_ids(ids, hashes, "hashes")
    return _star_clusters(ids, _group_identical(enumerate(hashes)), {})


def _neighbours_from_pairs(pairs: Iterable[tuple[int, int, float]]) -> dict[int, list[tuple[int, float]]]:
    neighbours: dict[int, list[tuple[int, float]]] = {}
    for g, h, similarity in sorted(pairs):
        neighbours.setdefault(g, []).append((h, similarity))
    return neighbours


def near_duplicate_texts(
    ids: Sequence[str],
    texts: Sequence[str],
    *,
    threshold: float = 0.8,
    ngram: int = 3,
    num_perm: int = 128,
    seed: int = 1,
) -> list[Cluster]:
    """Texts whose character n-gram sets have Jaccard similarity >= `threshold` with a kept text.

    Texts are compared after `normalize_text` (NFKC, case-folded, no punctuation or whitespace),
    so texts that differ only there are identical (similarity 1.0). Texts that normalise to
    nothing are never clustered here (`exact_duplicates` finds those). MinHash LSH with
    `num_perm` permutations proposes candidates (banded so that a pair at the threshold is
    proposed with probability >= 0.95); the exact Jaccard similarity of the n-gram sets decides.
    """
    _check_ids(ids, texts, "texts")
    if not 0.0 < threshold <= 1.0:
        raise Invalid(f"The 'threshold' parameter of near_duplicate_texts must be in (0, 1]; got {threshold!r} instead.")
    if ngram < 1:
        raise Invalid(f"The 'ngram' parameter of near_duplicate_texts must be >= 1; got {ngram!r} instead.")
    if num_perm < 2:
        raise Invalid(f"The 'num_perm' parameter of near_duplicate_texts must be >= 2; got {num_perm!r} instead.")

    normalised = [normalize_text(t) for t in texts]
    groups = _group_identical((i, text) for i, text in enumerate(normalised) if text)
    hashes, owner = ngram_hashes(groups.keys, ngram)
    signatures = minhash_signatures(hashes, owner, len(groups.firsts), num_perm=num_perm, seed=seed)
    bands, rows = band_params(threshold, num_perm)
    pairs = candidate_pairs(signatures, bands, rows)
    scores = jaccard_pairs(hashes, owner, len(groups.firsts), pairs)
    similar = scores >= threshold
    neighbours = _neighbours_from_pairs(zip(pairs[similar, 0].tolist(), pairs[similar, 1].tolist(), scores[similar].tolist()))
    return _star_clusters(ids, groups, neighbours)


def _phash(data: bytes) -> int | None:
    """The 64-bit DCT perceptual hash of an image, or None if it cannot be decoded."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            bits = imagehash.phash(image).hash.flatten()
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError, SyntaxError):
        return None
    return int("".join("1" if b else "0" for b in bits), 2)


def _pieces(max_distance: int, bits: int = 64) -> list[tuple[int, int]]:
    """`max_distance + 1` (shift, width) pieces that cover `bits` bits as evenly as possible."""
    count = max_distance + 1
    widths = [bits // count + (1 if k < bits % count else 0) for k in range(count)]
    shifts = np.cumsum([0, *widths[:-1]]).tolist()
    return list(zip(shifts, widths))


def near_duplicate_images(
    ids: Sequence[str],
    images: Sequence[bytes],
    *,
    max_distance: int = 4,
    image_hash: Callable[[bytes], int | None] = _phash,
) -> list[Cluster]:
    """Images whose 64-bit perceptual hashes differ in at most `max_distance` bits from a kept one.

    `similarity` is `1 - distance / 64`. Images that cannot be decoded are skipped (see
    `check_image`). `image_hash` maps image bytes to a 64-bit int (default: DCT `phash`).
    """
    _check_ids(ids, images, "images")
    if not 0 <= max_distance <= 32:
        raise Invalid(f"The 'max_distance' parameter of near_duplicate_images must be in [0, 32]; got {max_distance!r} instead.")
    groups = _group_identical((i, h) for i, data in enumerate(images) if (h := image_hash(data)) is not None)
    hashes = np.array(groups.keys, dtype=np.uint64)
    found = []
    for shift, width in _pieces(max_distance):
        piece = (hashes >> np.uint64(shift)) & np.uint64((1 << width) - 1)
        found.append(same_key_pairs(piece))
    pairs = unique_pairs(found, len(hashes))
    distances = np.bitwise_count(hashes[pairs[:, 0]] ^ hashes[pairs[:, 1]]).astype(np.int64)
    similar = distances <= max_distance
    neighbours = _neighbours_from_pairs(
        zip(pairs[similar, 0].tolist(), pairs[similar, 1].tolist(), (1.0 - distances[similar] / 64).tolist())
    )
    return _star_clusters(ids, groups, neighbours)
