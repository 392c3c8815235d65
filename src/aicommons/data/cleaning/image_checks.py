"""Image checks: why an image record should be filtered out, as reason codes.

`check_image(data, rules)` returns, in this order (empty when the image passes):

- `unreadable`: not an image Pillow can decode, or truncated/corrupt (the whole image is
  decoded, not just its header); no other check is made then;
- `too_large`: more than `max_pixels` pixels (not decoded: a decompression bomb guard);
- `too_small`: narrower than `min_width` or lower than `min_height` pixels;
- `extreme_aspect`: the long side over the short side exceeds `max_aspect_ratio`.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field

REASONS = ("unreadable", "too_large", "too_small", "extreme_aspect")


class ImageRules(BaseModel):
    """Bounds for `check_image`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_width: int = Field(32, ge=1, description="Narrowest width in pixels.")
    min_height: int = Field(32, ge=1, description="Lowest height in pixels.")
    max_aspect_ratio: float = Field(5.0, ge=1.0, description="Largest long side / short side.")
    max_pixels: int = Field(Image.MAX_IMAGE_PIXELS or 89_478_485, ge=1, description="Most pixels (width x height).")


def image_size(data: bytes, max_pixels: int) -> tuple[int, int] | None:
    """(width, height) of an image that decodes completely, or None.

    Raises `OverflowError` when it has more than `max_pixels` pixels (then it is not decoded).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > max_pixels:
                    raise OverflowError(width * height)
                image.load()
    except Image.DecompressionBombError as error:
        raise OverflowError(str(error)) from error
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError):
        return None
    return width, height


def check_image(data: bytes, rules: ImageRules | None = None) -> list[str]:
    """The reasons (from `REASONS`, in that order) why this image fails the rules; [] if it passes."""
    rules = rules or ImageRules()
    try:
        size = image_size(data, rules.max_pixels)
    except OverflowError:
        return ["too_large"]
    if size is None:
        return ["unreadable"]
    width, height = size
    reasons = []
    if width < rules.min_width or height < rules.min_height:
        reasons.append("too_small")
    if max(width, height) > rules.max_aspect_ratio * min(width, height):
        reasons.append("extreme_aspect")
    return reasons
