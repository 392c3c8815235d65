"""A face drawn with OpenCV that its bundled Haar cascades detect: no face photo can ship or be
downloaded here, so tests of face de-identification use this."""

from __future__ import annotations

import cv2
import numpy as np


def drawn_face(size: int = 160, features: bool = True) -> np.ndarray:
    """A grey 2*size square with a face-like drawing centred in it (BGR)."""
    img = np.full((size * 2, size * 2), 200, np.uint8)
    c = size
    cv2.ellipse(img, (c, c), (int(size * 0.42), int(size * 0.55)), 0, 0, 360, 170, -1)  # head
    if features:
        cv2.ellipse(img, (c, int(c - size * 0.45)), (int(size * 0.45), int(size * 0.25)), 0, 180, 360, 40, -1)  # hair
        for dx in (-1, 1):
            cv2.ellipse(img, (int(c + dx * size * 0.17), int(c - size * 0.2)), (int(size * 0.1), int(size * 0.03)), 0, 180, 360, 60, -1)
            cv2.ellipse(img, (int(c + dx * size * 0.17), int(c - size * 0.1)), (int(size * 0.09), int(size * 0.045)), 0, 0, 360, 50, -1)
        cv2.ellipse(img, (c, int(c + size * 0.1)), (int(size * 0.06), int(size * 0.03)), 0, 0, 360, 120, -1)  # nose
        cv2.ellipse(img, (c, int(c + size * 0.28)), (int(size * 0.14), int(size * 0.04)), 0, 0, 360, 80, -1)  # mouth
    return cv2.cvtColor(cv2.GaussianBlur(img, (9, 9), 0), cv2.COLOR_GRAY2BGR)


def png(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".png", image)
    assert ok
    return data.tobytes()
