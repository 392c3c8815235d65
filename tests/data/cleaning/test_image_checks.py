"""Image checks on real PNG/JPEG bytes and on garbage."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from aicommons.data.cleaning import IMAGE_REASONS, ImageRules, check_image


def image_bytes(width: int, height: int, kind: str = "PNG") -> bytes:
    pixels = np.random.default_rng(width * 1000 + height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, kind)
    return buffer.getvalue()


@pytest.mark.parametrize(("width", "height", "kind"), [(64, 64, "PNG"), (200, 150, "JPEG"), (320, 64, "PNG"), (40, 200, "JPEG")])
def test_good_images_pass(width, height, kind):
    assert check_image(image_bytes(width, height, kind)) == []


@pytest.mark.parametrize(
    ("data", "reasons"),
    [
        (b"", ["unreadable"]),
        (b"definitely not an image", ["unreadable"]),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, ["unreadable"]),
        (image_bytes(200, 150, "JPEG")[:400], ["unreadable"]),  # truncated: header fine, pixels missing
        (image_bytes(16, 16), ["too_small"]),
        (image_bytes(400, 40, "JPEG"), ["extreme_aspect"]),
        (image_bytes(20, 200), ["too_small", "extreme_aspect"]),
    ],
)
def test_bad_images_give_their_reasons(data, reasons):
    assert check_image(data) == reasons


def test_a_truncated_png_is_unreadable():
    data = image_bytes(128, 128)
    assert check_image(data) == []
    assert check_image(data[: len(data) // 2]) == ["unreadable"]


def test_too_large_is_judged_from_the_header():
    rules = ImageRules(max_pixels=100 * 100)
    assert check_image(image_bytes(101, 100), rules) == ["too_large"]
    assert check_image(image_bytes(100, 100), rules) == []


def test_rules_are_configurable_and_validated():
    rules = ImageRules(min_width=8, min_height=8, max_aspect_ratio=20)
    assert check_image(image_bytes(16, 16), rules) == []
    assert check_image(image_bytes(400, 40), rules) == []
    with pytest.raises(ValidationError):
        ImageRules(max_aspect_ratio=0.5)
    assert IMAGE_REASONS == ("unreadable", "too_large", "too_small", "extreme_aspect")
