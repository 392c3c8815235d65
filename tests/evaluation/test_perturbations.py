"""Perturbations keep what an instance is (shape, dtype, range), are reproducible under a seed,
and grow with severity; the Chinese typos are the typos they claim to be."""

from __future__ import annotations

import numpy as np
import pytest
from pypinyin import lazy_pinyin
from sklearn.datasets import load_digits

from aicommons.core.errors import Invalid
from aicommons.evaluation.builtin import perturbations as p

pytestmark = pytest.mark.no_database

IMAGE_PERTURBATIONS = [x for x in p.for_model_kind("image")]
TEXT_PERTURBATIONS = [x for x in p.for_model_kind("segmented-text")]
REVIEW = (
    "这家酒店的服务态度非常好，房间干净整洁，早餐也很丰富。下次来杭州出差还会再住这里！"
    "不过停车场有点小，晚上回来的时候找车位花了不少时间，希望以后能改进。"
)
# Rich in characters of the look-alike table, so every severity has candidates enough.
LOOK_ALIKE_TEXT = "已经未来人们土地日本大家天下王子贝壳木头千万白天田地问题免费准备茶叶时候拔河分析狠心治理即使今天"


def digit_images(count: int = 20, side: int = 8) -> list[np.ndarray]:
    import cv2

    images = load_digits().images[:count] * (255.0 / 16.0)
    return [cv2.resize(i.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)[:, :, None] for i in images]


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def edit_distance(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        previous, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            previous, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, previous + (x != y))
    return row[-1]


def test_registry_groups_perturbations_by_model_kind():
    kinds = p.by_kind()
    assert kinds["image"] == ["blur", "brightness", "gaussian_noise", "jpeg", "rotation"]
    assert kinds["segmented-text"] == kinds["wordpiece"] == ["char_drop", "char_swap", "homophone", "punctuation", "similar_char", "traditional"]
    assert kinds["tabular"] == ["feature_noise"]
    assert p.for_model_kind("tensor") == []
    for perturbation in p.perturbations:
        assert sorted(p.perturbations.get(perturbation).levels) == [1, 2, 3]


@pytest.mark.parametrize("perturbation", IMAGE_PERTURBATIONS, ids=lambda x: x.name)
@pytest.mark.parametrize("shape", [(8, 8, 1), (20, 16, 3)])
def test_image_perturbations_keep_shape_dtype_and_range(perturbation, shape):
    image = rng(1).uniform(0, 255, shape).astype(np.float32)
    for severity in (1, 2, 3):
        out = perturbation.apply(image, severity, rng())
        assert out.shape == shape and out.dtype == np.float32
        assert out.min() >= 0 and out.max() <= 255
        assert not np.array_equal(out, image)
        np.testing.assert_array_equal(out, perturbation.apply(image, severity, rng()))  # same seed, same result
    assert np.array_equal(image, rng(1).uniform(0, 255, shape).astype(np.float32))  # the input is left alone


@pytest.mark.parametrize("perturbation", IMAGE_PERTURBATIONS, ids=lambda x: x.name)
@pytest.mark.parametrize("side", [8, 32])
def test_image_perturbations_change_pixels_more_at_higher_severity(perturbation, side):
    images = digit_images(side=side)
    mse = [
        np.mean([np.mean((perturbation.apply(image, severity, rng(i)) - image) ** 2) for i, image in enumerate(images)])
        for severity in (1, 2, 3)
    ]
    assert 0 < mse[0] < mse[1] < mse[2], mse


def test_random_image_perturbations_differ_between_seeds():
    image = digit_images(1)[0]
    assert not np.array_equal(p.gaussian_noise(image, 2, rng(0)), p.gaussian_noise(image, 2, rng(1)))
    rotations = {p.rotation(image, 2, rng(seed)).tobytes() for seed in range(8)}
    assert len(rotations) == 2  # each seed turns the image left or right by the severity's angle


@pytest.mark.parametrize("perturbation", TEXT_PERTURBATIONS, ids=lambda x: x.name)
def test_text_perturbations_are_seeded_and_grow_with_severity(perturbation):
    text = LOOK_ALIKE_TEXT if perturbation.name == "similar_char" else REVIEW
    fractions = []
    for severity in (1, 2, 3):
        out = perturbation.apply(text, severity, rng(3))
        assert isinstance(out, str) and out != text
        assert out == perturbation.apply(text, severity, rng(3))
        fractions.append(edit_distance(text, out) / len(text))
    assert fractions[0] < fractions[1] < fractions[2], fractions
    if perturbation.name != "traditional":  # a seed-free conversion, with only its sampling seeded
        outputs = {perturbation.apply(text, 2, rng(seed)) for seed in range(4)}
        assert len(outputs) > 1


@pytest.mark.parametrize("name", ["homophone", "similar_char", "char_drop", "char_swap", "punctuation"])
def test_character_typos_affect_about_the_severitys_fraction(name):
    perturbation = p.perturbations.get(name)
    for severity, fraction in p.TYPO_FRACTION.items():
        out = perturbation.apply(REVIEW, severity, rng(5))
        changed = edit_distance(REVIEW, out) / len(REVIEW)
        if name == "similar_char":
            assert 0 < changed <= fraction + 0.02  # few of a review's characters have look-alikes
        elif name == "char_swap":
            assert fraction * 0.8 <= changed <= fraction + 0.02  # a swap costs two edits per two characters
        else:
            assert abs(changed - fraction) <= 0.03, (severity, changed)


def test_homophones_share_the_pinyin_reading():
    changed = 0
    for seed in range(5):
        out = p.homophone(REVIEW, 3, rng(seed))
        assert len(out) == len(REVIEW)
        for before, after in zip(REVIEW, out, strict=True):
            if before != after:
                changed += 1
                assert lazy_pinyin(after) == lazy_pinyin(before), (before, after)
                assert after in p.homophones(before)
    assert changed >= 5 * 0.25 * len(REVIEW)
    # Common simplified characters only, most frequent first.
    assert p.homophones("是")[:3] == ("时", "市", "事")
    assert all(c not in p.homophones("国") for c in "國鍋")


def test_look_alike_table_is_symmetric_and_large_enough():
    table = p.similar_table()
    pairs = {frozenset((a, b)) for a, others in table.items() for b in others}
    assert len(pairs) >= 60
    assert all(a in table[b] for a, others in table.items() for b in others)
    assert {"己", "巳"} <= set(table["已"]) and "末" in table["未"] and "入" in table["人"]
    out = p.similar_char(LOOK_ALIKE_TEXT, 3, rng(0))
    for before, after in zip(LOOK_ALIKE_TEXT, out, strict=True):
        assert before == after or after in table[before]


def test_traditional_conversion_changes_simplified_characters():
    text = "这个国家的发展"
    full = p.traditional(text, 3, rng(0))
    assert {"這", "國", "發"} <= set(full)
    partial = [p.traditional(text, severity, rng(0)) for severity in (1, 2)]
    changed = [{i for i, (a, b) in enumerate(zip(text, out, strict=True)) if a != b} for out in (*partial, full)]
    assert changed[0] < changed[1] < changed[2]  # each severity keeps the lower one's changes


def test_drop_swap_and_punctuation_keep_the_rest_of_the_text():
    dropped = p.char_drop("好", 3, rng(0))
    assert dropped == "好"  # never the whole text
    swapped = p.char_swap(REVIEW, 3, rng(0))
    assert sorted(swapped) == sorted(REVIEW)
    noisy = p.punctuation(REVIEW, 3, rng(0))

    def letters(text: str) -> str:
        return "".join(c for c in text if c not in p.PUNCTUATION_MARKS + "，。！")

    assert letters(noisy) == letters(REVIEW) and len(noisy) > len(REVIEW)


def test_feature_noise_is_scaled_by_each_features_spread():
    rows = [np.array([float(i), 5.0, 100.0 * i]) for i in range(50)]
    context = p.feature_scale(rows)
    np.testing.assert_allclose(context["scale"], [np.std(range(50)), 0.0, 100 * np.std(range(50))])
    generator = rng(0)
    for severity, sigma in p.FEATURE_NOISE_SIGMA.items():
        noisy = np.stack([p.feature_noise(rows[0], severity, generator, **context) for _ in range(2000)])
        assert noisy.dtype == np.float64 and noisy.shape == (2000, 3)
        np.testing.assert_allclose(noisy.std(axis=0), sigma * context["scale"], rtol=0.1)
        assert np.all(noisy[:, 1] == 5.0)  # a constant feature gets no noise
    np.testing.assert_array_equal(p.feature_noise(rows[3], 2, rng(9), **context), p.feature_noise(rows[3], 2, rng(9), **context))


@pytest.mark.parametrize("severity", [0, 4, True, "2"])
def test_an_unknown_severity_is_refused(severity):
    with pytest.raises(Invalid, match="severity of blur must be one of 1, 2, 3"):
        p.blur(digit_images(1)[0], severity, rng())
    with pytest.raises(Invalid, match="severity of homophone"):
        p.homophone(REVIEW, severity, rng())
