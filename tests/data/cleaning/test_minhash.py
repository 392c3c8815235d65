"""The bulk MinHash machinery: the same signatures as datasketch, exact Jaccard, LSH banding."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from datasketch import MinHash

from aicommons.data.cleaning.minhash import (
    band_params,
    candidate_pairs,
    gram_hash,
    jaccard_pairs,
    minhash_signatures,
    ngram_hashes,
    normalize_text,
)
from aicommons.data.cleaning.pairs import same_key_pairs

TEXTS = [
    "数据清洗：去重与质量过滤。Data cleaning, de-duplication and quality filters!",
    "Hello, World!",
    "ab",
    "",
    "人工智能公共服务平台",
    "ＦＵＬＬ－ＷＩＤＴＨ　ｔｅｘｔ",
]


def grams(text: str, n: int) -> set[str]:
    if 0 < len(text) < n:
        return {text}
    return {text[i : i + n] for i in range(len(text) - n + 1)}


def test_normalize_text_drops_punctuation_space_case_and_width():
    assert normalize_text("Hello, World!") == "helloworld"
    assert normalize_text("数据清洗：去重。") == "数据清洗去重"
    assert normalize_text("ＦＵＬＬ－ＷＩＤＴＨ　ｔｅｘｔ") == "fullwidthtext"
    assert normalize_text("a\u200bb\tc\x00d") == "abcd"


@pytest.mark.parametrize("ngram", [1, 3, 5])
def test_signatures_equal_datasketch_minhash_of_the_same_grams(ngram):
    normalised = [normalize_text(t) for t in TEXTS]
    hashes, owner = ngram_hashes(normalised, ngram)
    signatures = minhash_signatures(hashes, owner, len(normalised), num_perm=64, seed=7)
    for text, signature in zip(normalised, signatures):
        reference = MinHash(num_perm=64, seed=7, hashfunc=gram_hash)
        reference.update_batch(sorted(grams(text, ngram)))
        assert np.array_equal(reference.hashvalues, signature)


def test_signatures_of_texts_longer_than_a_block():
    text = normalize_text("城市大脑交通信号控制" * 2000)  # 20,000 characters: more than one block of n-grams
    hashes, owner = ngram_hashes(["短文本内容", text, "另一个短文本"], 3)
    signatures = minhash_signatures(hashes, owner, 3)
    reference = MinHash(num_perm=128, seed=1, hashfunc=gram_hash)
    reference.update_batch(sorted(grams(text, 3)))
    assert np.array_equal(reference.hashvalues, signatures[1])


def test_ngram_hashes_never_straddle_two_texts():
    hashes, owner = ngram_hashes(["abc", "def"], 3)
    assert owner.tolist() == [0, 1]
    assert hashes.tolist() == [gram_hash("abc"), gram_hash("def")]


def test_jaccard_pairs_is_exact():
    texts = ["abcdefgh", "abcdefgx", "abcabcab", "xyz", "zzzzzz"]
    hashes, owner = ngram_hashes(texts, 3)
    pairs = np.array(list(itertools.combinations(range(len(texts)), 2)))
    scores = jaccard_pairs(hashes, owner, len(texts), pairs)
    for (i, j), score in zip(pairs.tolist(), scores.tolist()):
        x, y = grams(texts[i], 3), grams(texts[j], 3)
        assert score == pytest.approx(len(x & y) / len(x | y))


@pytest.mark.parametrize(("threshold", "num_perm"), [(0.5, 128), (0.8, 128), (0.9, 64), (1.0, 32)])
def test_band_params_propose_a_pair_at_the_threshold_with_95_percent_chance(threshold, num_perm):
    bands, rows = band_params(threshold, num_perm)
    assert bands * rows <= num_perm and bands >= 2
    assert 1 - (1 - threshold**rows) ** bands >= 0.95
    # One more row per band (fewer bands) would fall short.
    more = rows + 1
    assert more > num_perm // 2 or 1 - (1 - threshold**more) ** (num_perm // more) < 0.95


def test_candidate_pairs_are_rows_agreeing_on_a_whole_band():
    signatures = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [7, 7, 3, 4], [5, 6, 7, 8]], dtype=np.uint32)
    assert candidate_pairs(signatures, bands=2, rows=2).tolist() == [[0, 1], [0, 2]]


def test_same_key_pairs_matches_brute_force():
    keys = np.random.default_rng(0).integers(0, 20, 100)
    expected = [(i, j) for i, j in itertools.combinations(range(100), 2) if keys[i] == keys[j]]
    assert sorted(map(tuple, same_key_pairs(keys).tolist())) == expected
    assert same_key_pairs(np.array([3])).shape == (0, 2)
