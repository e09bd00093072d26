"""Minimal image loading (to be replaced by the robust loader)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..types import InputImage


def load_image(path) -> InputImage:
    path = Path(path)
    with Image.open(path) as im:
        im.load()
        size = im.size
        has_alpha = "A" in im.getbands()
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
    if has_alpha and rgba[..., 3].min() >= 1.0:
        has_alpha = False
    return InputImage(path=path, rgba=rgba, has_alpha=has_alpha, original_size=size)


def to_working_resolution(rgba: np.ndarray, max_side: int) -> np.ndarray:
    h, w = rgba.shape[:2]
    s = min(1.0, max_side / max(h, w))
    if s >= 1.0:
        return rgba.astype(np.float32, copy=True)
    size = (max(1, round(w * s)), max(1, round(h * s)))
    return cv2.resize(rgba, size, interpolation=cv2.INTER_AREA)
