"""Layers stage (single-image mode): decide object or scene, and split the image into layers.

``split_layers(image, rgba, settings, progress)``:

* the foreground comes from the foreground stage's engines (alpha channel,
  plain-background key, U^2-Net-p matting), chosen by ``settings.engines['foreground']``;
* ``subject="auto"``: an image with transparency or a plain background is an
  **object** (the cut-out is the subject); a photo whose background is busy
  (matting was needed) or has no separable foreground is a **scene**;
* a scene's foreground layers are the connected parts of the foreground
  mask (each part stands on its own ground contact, as the billboards of
  "Automatic Photo Pop-up", Hoiem, Efros and Hebert, SIGGRAPH 2005, Sec. 5);
  the depth stage splits them further at depth discontinuities.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np

from ...errors import ForegroundError
from ...types import Foreground, ImageLayers, InputImage

log = logging.getLogger(__name__)

#: Foreground parts smaller than this fraction of the image join the background.
MIN_LAYER_FRACTION = 0.002


def _empty_foreground(rgba: np.ndarray, method: str) -> Foreground:
    h, w = rgba.shape[:2]
    return Foreground(rgb=np.ascontiguousarray(rgba[..., :3], dtype=np.float32), alpha=np.zeros((h, w), np.float32),
                      mask=np.zeros((h, w), bool), method=method)


def scene_layer_labels(mask: np.ndarray, min_fraction: float = MIN_LAYER_FRACTION) -> np.ndarray:
    """Foreground parts of a scene as layers.

    Args:
        mask: bool [H, W] the foreground.
        min_fraction: parts smaller than this fraction of the image are dropped.

    Returns:
        int32 [H, W]: 0 background, 1..K the parts ordered by their lowest row
        (the part whose base is lowest in the image, i.e. nearest on the ground, last).
    """
    mask = np.asarray(mask, dtype=bool)
    n, lab = cv2.connectedComponents(mask.astype(np.uint8), connectivity=8)
    parts = []
    for k in range(1, n):
        rows = np.nonzero((lab == k).any(axis=1))[0]
        if (lab == k).sum() >= min_fraction * mask.size:
            parts.append((rows[-1], k))
    out = np.zeros(mask.shape, np.int32)
    for new, (_, k) in enumerate(sorted(parts), start=1):
        out[lab == k] = new
    return out


def split_layers(image: InputImage, rgba: np.ndarray, fg: Foreground | None, subject: str = "auto",
                 fg_error: ForegroundError | None = None) -> ImageLayers:
    """Decide the subject and split the single image into layers.

    Args:
        image: the loaded input (``has_alpha`` marks cut-outs).
        rgba: float32 [H, W, 4] the image at the working resolution.
        fg: the foreground stage's result, or None when it raised ``fg_error``.
        subject: "auto" | "object" | "scene".
        fg_error: the foreground stage's error when ``fg`` is None.

    Returns:
        ``ImageLayers`` (see ``backend.types``).

    Raises:
        ForegroundError: an object was asked for, or the image is a cut-out
            or has a plain background, and no object was found (``fg_error``
            re-raised); a scene without a separable foreground is one layer.
    """
    if fg is None:
        recoverable = fg_error is not None and fg_error.code in (
            "foreground.empty", "foreground.full", "foreground.unavailable", "foreground.not_plain")
        if subject == "object" or (subject == "auto" and image.has_alpha) or not recoverable:
            raise fg_error if fg_error is not None else ValueError("split_layers needs a foreground or its error")
        log.info("no separable foreground (%s): the whole image is one scene layer", fg_error.code)
        fg = _empty_foreground(rgba, "none")
    if subject == "auto":
        subject = "object" if fg.method in ("alpha", "key") else "scene"
        log.info("subject: %s (foreground by %s)", subject, fg.method)
    if subject == "object":
        return ImageLayers(subject="object", fg=fg, labels=fg.mask.astype(np.int32))
    return ImageLayers(subject="scene", fg=fg, labels=scene_layer_labels(fg.mask))


__all__ = ["MIN_LAYER_FRACTION", "scene_layer_labels", "split_layers"]
