"""Faces in images, blurred or boxed out, with the Haar cascades OpenCV ships (no downloads).

opencv-python-headless 4.x ships the cascades under `cv2.data.haarcascades`; 5.x does not, hence
the `<5` pin. Output images are always re-encoded, which also drops metadata such as EXIF GPS
positions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from aicommons.core.errors import Invalid, invalid_parameter

Box = tuple[int, int, int, int]  # x, y, width, height
FaceDetector = Callable[[np.ndarray], Sequence[Box]]
Mode = Literal["blur", "box"]

FRONTAL = "haarcascade_frontalface_default.xml"
FRONTAL_ALT = "haarcascade_frontalface_alt2.xml"
PROFILE = "haarcascade_profileface.xml"


@lru_cache(maxsize=None)
def _cascade(name: str) -> cv2.CascadeClassifier:
    folder = getattr(getattr(cv2, "data", None), "haarcascades", "")
    path = Path(folder) / name
    if not folder or not path.exists():
        raise Invalid(
            f"OpenCV's Haar cascade {name} is missing (opencv-python-headless 5.x ships none); "
            "install opencv-python-headless<5."
        )
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise Invalid(f"OpenCV could not load the Haar cascade {path}.")
    return cascade


def detect_faces(image: np.ndarray, *, min_size: int = 24, profiles: bool = True) -> list[Box]:
    """Boxes around frontal faces (two cascades) and, with `profiles`, faces in profile either way."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY)
    gray = cv2.equalizeHist(gray)
    size = (min_size, min_size)
    boxes: list[Box] = []
    for name, neighbours in ((FRONTAL, 5), (FRONTAL_ALT, 4)):
        boxes += [tuple(map(int, b)) for b in _cascade(name).detectMultiScale(gray, 1.1, neighbours, minSize=size)]
    if profiles:
        width = gray.shape[1]
        boxes += [tuple(map(int, b)) for b in _cascade(PROFILE).detectMultiScale(gray, 1.1, 5, minSize=size)]
        flipped = _cascade(PROFILE).detectMultiScale(cv2.flip(gray, 1), 1.1, 5, minSize=size)
        boxes += [(int(width - x - w), int(y), int(w), int(h)) for x, y, w, h in flipped]
    return merge_boxes(boxes)


def merge_boxes(boxes: Sequence[Box], overlap: float = 0.3) -> list[Box]:
    """One box per face: boxes that overlap by more than `overlap` of the smaller one merge into their union."""
    merged: list[list[int]] = []
    for x, y, w, h in sorted(boxes, key=lambda b: -b[2] * b[3]):
        for m in merged:
            ix = max(0, min(x + w, m[0] + m[2]) - max(x, m[0]))
            iy = max(0, min(y + h, m[1] + m[3]) - max(y, m[1]))
            if ix * iy > overlap * min(w * h, m[2] * m[3]):
                x0, y0 = min(x, m[0]), min(y, m[1])
                m[:] = [x0, y0, max(x + w, m[0] + m[2]) - x0, max(y + h, m[1] + m[3]) - y0]
                break
        else:
            merged.append([x, y, w, h])
    return [(x, y, w, h) for x, y, w, h in merged]


BLUR_LEVELS = (8, 5, 3, 0)  # blocks across a face per strength; 0: one flat colour


def obscure(image: np.ndarray, boxes: Sequence[Box], mode: Mode = "blur", *, margin: float = 0.1, strength: int = 0) -> np.ndarray:
    """A copy of `image` with each box (grown by `margin`) filled black (`box`) or pixelated
    to `BLUR_LEVELS[strength]` blocks across and blurred (`blur`)."""
    if mode not in ("blur", "box"):
        raise invalid_parameter("mode", "blur_faces", "'blur' or 'box'", mode)
    out = image.copy()
    height, width = out.shape[:2]
    blocks = BLUR_LEVELS[min(strength, len(BLUR_LEVELS) - 1)]
    for x, y, w, h in boxes:
        dx, dy = int(w * margin), int(h * margin)
        x0, y0 = max(0, x - dx), max(0, y - dy)
        x1, y1 = min(width, x + w + dx), min(height, y + h + dy)
        if x1 <= x0 or y1 <= y0:
            continue
        if mode == "box":
            out[y0:y1, x0:x1] = 0
            continue
        region = out[y0:y1, x0:x1]
        if blocks == 0:
            out[y0:y1, x0:x1] = region.reshape(-1, *region.shape[2:]).mean(axis=0).astype(region.dtype)
            continue
        small = cv2.resize(region, (blocks, max(1, round(blocks * (y1 - y0) / (x1 - x0)))), interpolation=cv2.INTER_AREA)
        region = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_NEAREST)
        k = max(3, (min(x1 - x0, y1 - y0) // 4) | 1)
        out[y0:y1, x0:x1] = cv2.GaussianBlur(region, (k, k), 0)
    return out


_FORMATS = ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"BM", ".bmp"), (b"II*\x00", ".tiff"), (b"MM\x00*", ".tiff"))


def _extension(data: bytes) -> str:
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return next((ext for magic, ext in _FORMATS if data.startswith(magic)), ".png")


def decode_image(image_bytes: bytes) -> np.ndarray:
    array = cv2.imdecode(np.frombuffer(image_bytes, dtype=np.uint8), cv2.IMREAD_UNCHANGED) if image_bytes else None
    if array is None:
        raise Invalid("The image could not be decoded: give PNG, JPEG, BMP, TIFF or WebP bytes.")
    return array


def blur_faces(image_bytes: bytes, mode: Mode = "blur", *, detector: FaceDetector | None = None) -> tuple[bytes, int]:
    """The image with every detected face blurred or boxed out, re-encoded in its own format
    (metadata dropped), and the number of faces found. A blur is strengthened (coarser blocks,
    at last one flat colour) until the detector finds no face in the result, so the residual
    scan comes back empty. `detector` replaces the Haar cascades (tests, or a better model)."""
    if mode not in ("blur", "box"):
        raise invalid_parameter("mode", "blur_faces", "'blur' or 'box'", mode)
    find = detector or detect_faces
    image = decode_image(image_bytes)
    faces = list(find(image))
    boxes = list(faces)
    out = obscure(image, boxes, mode)
    for strength in range(1, len(BLUR_LEVELS) + 1):
        residual = list(find(out)) if boxes else []
        if not residual:
            break
        boxes = merge_boxes(boxes + residual)
        out = obscure(image, boxes, mode, strength=min(strength, len(BLUR_LEVELS) - 1))
    ok, encoded = cv2.imencode(_extension(image_bytes), out)
    if not ok:  # pragma: no cover - OpenCV encodes what it decoded
        raise Invalid("The de-identified image could not be encoded.")
    return encoded.tobytes(), len(faces)


def count_faces(image_bytes: bytes) -> int:
    """Faces the Haar cascades find: the residual scan for images (0 after `blur_faces`)."""
    return len(detect_faces(decode_image(image_bytes)))
