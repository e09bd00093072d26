"""Checks of drag arrows and pins against the image (before any heavy work, so nothing is written).

Coordinates are pixels of the input image as given (origin top-left, u right, v down).
"""

from __future__ import annotations

import math

import numpy as np

from ...errors import InputImageError


def drag_error(message: str, hint: str) -> InputImageError:
    """The error for a drag or pin the image cannot take (exit code 3 on the command line)."""
    return InputImageError(message, hint, code="input.drag")


def check_drags(drags: np.ndarray, pins: np.ndarray, image_size: tuple[int, int], subject_mask: np.ndarray,
                working_scale: tuple[float, float]) -> None:
    """Refuse drags and pins outside the image or off the subject.

    Args:
        drags: float [K, 4] (u0, v0, u1, v1) input-image pixels.
        pins: float [P, 2] (u, v) input-image pixels.
        image_size: (width, height) of the input image.
        subject_mask: bool [H, W] working-resolution pixels that can be dragged
            (the object, or a scene's foreground layers).
        working_scale: (sx, sy) input-image pixels -> working pixels.

    Raises:
        InputImageError: code ``input.drag``, naming the arrow or pin and what to do.
    """
    w, h = image_size
    hm, wm = subject_mask.shape

    def inside(u, v):
        return 0.0 <= u <= w and 0.0 <= v <= h

    def on_subject(u, v):
        c = int(min(wm - 1, max(0, math.floor(u * working_scale[0]))))
        r = int(min(hm - 1, max(0, math.floor(v * working_scale[1]))))
        return bool(subject_mask[max(0, r - 1):r + 2, max(0, c - 1):c + 2].any())

    for i, (u0, v0, u1, v1) in enumerate(np.asarray(drags, float).reshape(-1, 4)):
        if not inside(u0, v0) or not inside(u1, v1):
            raise drag_error(f"drag {i} ({u0:g}, {v0:g}) -> ({u1:g}, {v1:g}) leaves the {w} x {h} image.",
                             "Give drag arrows in the input image's pixels (origin top-left), inside the image.")
        if not on_subject(u0, v0):
            raise drag_error(f"drag {i} starts at ({u0:g}, {v0:g}), on the background, not on the subject.",
                             "Start each drag arrow on the object (or on a foreground layer of a scene).")
    for k, (u, v) in enumerate(np.asarray(pins, float).reshape(-1, 2)):
        if not inside(u, v):
            raise drag_error(f"pin {k} ({u:g}, {v:g}) lies outside the {w} x {h} image.",
                             "Give pins in the input image's pixels (origin top-left), inside the image.")
        if not on_subject(u, v):
            raise drag_error(f"pin {k} ({u:g}, {v:g}) is on the background, where nothing moves.",
                             "Put pins on the object, or remove them.")


__all__ = ["check_drags", "drag_error"]
