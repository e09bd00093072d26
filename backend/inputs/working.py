"""Bring decoded images to the pipeline's working resolution.

See ``backend.types`` for the conventions: float32 sRGB RGBA 0..1, the longer
side is the preset's ``working_max_side`` or the start image's own, whichever
is smaller. Resizing uses OpenCV ``INTER_AREA`` to shrink (the anti-aliased
choice the OpenCV docs recommend for decimation) and ``INTER_LINEAR`` to
enlarge, on premultiplied colour so transparent pixels do not darken edges.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..errors import InputImageError
from ..types import InputImage

ASPECT_TOLERANCE = 0.02
"""Relative aspect-ratio difference up to which an end image is simply resized to the start's frame."""

MIN_WORKING_SIDE = 16
"""Smallest working-resolution side: below it there is no object left to mesh."""


def resize_rgba(rgba: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGBA image, premultiplied by alpha where it is not opaque.

    Args:
        rgba: float32 [H, W, 4] 0..1 (straight, i.e. not premultiplied, alpha).
        size: (width, height) of the result in pixels.

    Returns:
        float32 [height, width, 4] straight alpha, 0..1. Fully transparent
        pixels keep the (plainly resized) colour they had, so the background
        under a cut-out stays as it was.
    """
    h, w = rgba.shape[:2]
    size = (int(size[0]), int(size[1]))
    if (w, h) == size:
        return np.array(rgba, dtype=np.float32, copy=True)
    interp = cv2.INTER_AREA if size[0] <= w and size[1] <= h else cv2.INTER_LINEAR
    src = np.ascontiguousarray(rgba, dtype=np.float32)
    alpha = src[..., 3]
    if float(alpha.min()) >= 1.0:
        return cv2.resize(src, size, interpolation=interp)
    premultiplied = src.copy()
    premultiplied[..., :3] *= alpha[..., None]
    out = cv2.resize(premultiplied, size, interpolation=interp)
    straight = cv2.resize(np.ascontiguousarray(src[..., :3]), size, interpolation=interp)
    a = out[..., 3:4]
    covered = a > (1.0 / 512.0)
    out[..., :3] = np.where(covered, out[..., :3] / np.maximum(a, 1e-6), straight)
    np.clip(out, 0.0, 1.0, out=out)
    return out


def working_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(width, height) at the working resolution for an image of ``size`` (never enlarged)."""
    w, h = size
    s = min(1.0, max_side / max(w, h))
    return max(1, round(w * s)), max(1, round(h * s))


def to_working_resolution(rgba: np.ndarray, max_side: int) -> np.ndarray:
    """Shrink an RGBA array so its longer side is at most ``max_side`` (never enlarges).

    Args:
        rgba: float32 [H, W, 4] 0..1.
        max_side: longer side limit in pixels.

    Returns:
        float32 [h, w, 4], a new array.
    """
    return resize_rgba(rgba, working_size((rgba.shape[1], rgba.shape[0]), max_side))


def prepare_single(image: InputImage, max_side: int) -> np.ndarray:
    """One image at the working resolution.

    Args:
        image: a loaded ``InputImage``.
        max_side: the preset's ``working_max_side``.

    Returns:
        float32 [H, W, 4] sRGB RGBA 0..1, longer side ``min(max_side, image's longer side)``.

    Raises:
        InputImageError: ``input.too_small`` when the shorter side would fall
            under ``MIN_WORKING_SIDE`` px (an extreme panorama or strip).
    """
    size = working_size(image.size, max_side)
    _check_working_size(image, size)
    return resize_rgba(image.rgba, size)


def prepare_pair(start: InputImage, end: InputImage, max_side: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end images at one common working resolution.

    The working size comes from the start image (longer side
    ``min(max_side, start's longer side)``). An end image of another size but
    the same aspect ratio (within ``ASPECT_TOLERANCE``) is resized to it; two
    identical images are fine (they give a still asset).

    Args:
        start, end: loaded ``InputImage`` objects.
        max_side: the preset's ``working_max_side``.

    Returns:
        (start_rgba, end_rgba), both float32 [H, W, 4] sRGB RGBA 0..1, same H, W.

    Raises:
        InputImageError: ``input.mismatch`` when the aspect ratios differ (the
            message names both sizes); ``input.too_small`` as in ``prepare_single``.
    """
    (ws, hs), (we, he) = start.size, end.size
    mismatch = abs(math.log((we / he) / (ws / hs)))
    if mismatch > math.log1p(ASPECT_TOLERANCE):
        raise InputImageError(
            f"The start image is {ws}x{hs} px (aspect {ws / hs:.3f}) but the end image is {we}x{he} px "
            f"(aspect {we / he:.3f}); the two must show the same frame.",
            "Crop or pad both images to the same framing (same aspect ratio, ideally the same size, "
            "camera not moved) and try again.",
            code="input.mismatch")
    size = working_size(start.size, max_side)
    _check_working_size(start, size)
    return resize_rgba(start.rgba, size), resize_rgba(end.rgba, size)


def _check_working_size(image: InputImage, size: tuple[int, int]) -> None:
    if min(size) < MIN_WORKING_SIDE:
        w, h = image.size
        raise InputImageError(
            f"{image.path.name} ({w}x{h} px) would be only {size[0]}x{size[1]} px at the working resolution.",
            "Crop the image closer to the object (a less extreme aspect ratio) or choose a higher quality.",
            code="input.too_small")
