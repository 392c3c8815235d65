"""Faces blurred or boxed out with OpenCV's bundled Haar cascades.

OpenCV ships no face photographs and nothing may be downloaded, so the end-to-end tests use a
drawn face: a shaded oval with brows, eyes, a nose shadow and a mouth, which the real frontal
cascades detect (and the same oval without the features, which they do not). A separate test
stubs the detector's boxes to check the pixel plumbing exactly; it says so where it does.
"""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from aicommons.core.errors import Invalid
from aicommons.data.deid import blur_faces, count_faces
from aicommons.data.deid.images import detect_faces
from drawn_faces import drawn_face, png


def decode(data: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def test_the_haar_cascades_find_the_drawn_face_and_not_a_featureless_oval():
    boxes = detect_faces(drawn_face())
    assert len(boxes) == 1
    x, y, w, h = boxes[0]
    assert x < 160 < x + w and y < 160 < y + h  # around the face's centre
    assert detect_faces(drawn_face(features=False)) == []


@pytest.mark.parametrize("mode", ["blur", "box"])
def test_faces_are_obscured_until_none_is_found(mode):
    original = drawn_face()
    out_bytes, faces = blur_faces(png(original), mode)
    out = decode(out_bytes)
    assert faces == 1 and out_bytes[:4] == b"\x89PNG"
    assert count_faces(out_bytes) == 0  # the residual scan for images
    assert np.array_equal(out[:20, :20], original[:20, :20])  # the corner is untouched
    centre = (slice(130, 190), slice(130, 190))
    if mode == "box":
        assert out[centre].max() == 0
    else:
        assert np.abs(out[centre].astype(int) - original[centre].astype(int)).mean() > 3


def test_an_image_without_faces_comes_back_with_the_same_pixels():
    blank = np.full((120, 160, 3), 90, np.uint8)
    out_bytes, faces = blur_faces(png(blank))
    assert faces == 0 and np.array_equal(decode(out_bytes), blank)


def test_a_natural_photo_without_people_has_no_faces():
    # scikit-learn (a dependency) ships two photographs without people in them.
    import sklearn.datasets

    photo = Path(sklearn.datasets.__file__).parent / "images" / "china.jpg"
    out_bytes, faces = blur_faces(photo.read_bytes())
    assert faces == 0 and out_bytes[:2] == b"\xff\xd8"  # still a JPEG


def test_the_pixel_plumbing_with_a_stubbed_detector():
    # STUB: the detector is replaced by one that reports a fixed box, to check exactly which
    # pixels the box mode blanks (the box grown by the 10% margin) and that nothing else moves.
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 255, (100, 100, 3), dtype=np.uint8)
    out_bytes, faces = blur_faces(png(noise), "box", detector=lambda image: [(40, 30, 20, 20)])
    out = decode(out_bytes)
    assert faces == 1
    assert out[28:52, 38:62].max() == 0  # 40-2 … 60+2, 30-2 … 50+2
    mask = np.ones(out.shape[:2], bool)
    mask[28:52, 38:62] = False
    assert np.array_equal(out[mask], noise[mask])


def test_metadata_is_dropped():
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make; GPS tags would go the same way
    Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(buffer, "JPEG", exif=exif)
    assert b"CameraMaker" in buffer.getvalue()
    out_bytes, _ = blur_faces(buffer.getvalue())
    assert b"CameraMaker" not in out_bytes and out_bytes[:2] == b"\xff\xd8"


def test_bad_input_is_refused():
    with pytest.raises(Invalid, match="could not be decoded"):
        blur_faces(b"not an image")
    with pytest.raises(Invalid, match="'mode' parameter of blur_faces must be 'blur' or 'box'"):
        blur_faces(png(drawn_face(40)), "smudge")  # type: ignore[arg-type]
