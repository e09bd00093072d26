"""Colours for the unseen back of an inflated shape, without a mirrored copy of the front's features.

The back sheet reuses the front's texture coordinates (it stands on the same
pixels), so a plain mirror repeats eyes, labels and printed patterns on the
back. Here the back gets the object's colours low-passed: a normalised
convolution (Knutsson & Westin, CVPR 1993) of the object's pixels with a wide
Gaussian keeps each region's local colour (a red body stays red, a green
leaf green) while features smaller than the kernel vanish. Near the outline
the back blends back to the front's own colours over a narrow band, so the
rim, which front and back share, shows no seam.
"""

from __future__ import annotations

import cv2
import numpy as np

BLUR_FRACTION = 0.08   # Gaussian sigma as a fraction of the object's larger bounding-box side
RIM_FRACTION = 0.03    # width of the front-colour band at the outline, same unit


def back_texture(texture: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Low-passed object colours for the back sheet, front colours at the rim.

    Args:
        texture: uint8 [H, W, 3] the front texture (object colours bled past
            the outline, ``inflate.bleed_texture``).
        mask: bool [H, W] the object, same size.

    Returns:
        uint8 [H, W, 3] the back texture (same size and UVs as ``texture``);
        outside the object it equals ``texture``.

    Raises:
        ValueError: ``texture`` and ``mask`` differ in size.
    """
    tex = np.asarray(texture)
    mask = np.asarray(mask, dtype=bool)
    if tex.shape[:2] != mask.shape:
        raise ValueError(f"texture is {tex.shape[1]}x{tex.shape[0]} but the mask is {mask.shape[1]}x{mask.shape[0]}")
    if not mask.any():
        return tex.copy()
    rows = np.nonzero(mask.any(axis=1))[0]
    cols = np.nonzero(mask.any(axis=0))[0]
    size = float(max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1))
    sigma = max(1.0, BLUR_FRACTION * size)
    weight = mask.astype(np.float32)
    num = cv2.GaussianBlur(tex.astype(np.float32) * weight[..., None], (0, 0), sigma)
    den = cv2.GaussianBlur(weight, (0, 0), sigma)
    low = num / np.maximum(den, 1e-6)[..., None]
    # Distance to the outline (pixels) -> weight of the front colours.
    dist = cv2.distanceTransform(np.pad(mask.astype(np.uint8), 1), cv2.DIST_L2, 5)[1:-1, 1:-1]
    front = np.exp(-dist / max(1.0, RIM_FRACTION * size))[..., None]
    out = front * tex.astype(np.float32) + (1.0 - front) * low
    out = np.where(mask[..., None], out, tex.astype(np.float32))
    return np.clip(np.round(out), 0, 255).astype(np.uint8)
