"""Binary mask clean-up shared by the foreground engines.

Connected components and hole filling with OpenCV
(``cv2.connectedComponentsWithStats``, 8-connectivity for the object, which
keeps one-pixel-wide diagonal parts such as rotor blades connected, and
4-connectivity for the background, its topological complement). No
morphological opening: it would erase exactly the thin parts that matter.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np


def hysteresis(strong: np.ndarray, weak: np.ndarray) -> np.ndarray:
    """Grow ``strong`` through ``weak`` pixels connected to it (as in Canny's edge hysteresis).

    Args:
        strong, weak: bool [H, W]; ``strong`` is assumed to be a subset of ``weak``.

    Returns:
        bool [H, W]: the 8-connected components of ``weak`` that contain a strong pixel.
    """
    n, labels = cv2.connectedComponents(weak.astype(np.uint8), connectivity=8)
    if n <= 1:
        return np.zeros_like(weak, dtype=bool)
    keep = np.zeros(n, bool)
    keep[np.unique(labels[strong & weak])] = True
    keep[0] = False
    return keep[labels]


def remove_specks(mask: np.ndarray, min_fraction: float = 0.01, min_pixels: int = 0) -> np.ndarray:
    """Drop small 8-connected components.

    Args:
        mask: bool [H, W].
        min_fraction: components smaller than this fraction of the largest one go.
        min_pixels: components smaller than this many pixels go (the largest always stays).

    Returns:
        bool [H, W].
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.astype(bool, copy=True)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(n, bool)
    keep[1:] = areas >= max(min_fraction * areas.max(), min_pixels)
    keep[1 + int(np.argmax(areas))] = True
    return keep[labels]


def find_holes(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Enclosed background regions of a mask.

    Args:
        mask: bool [H, W] object mask.

    Returns:
        (labels, ids, areas): labels int32 [H, W] of the 4-connected background
        components; ids int [K] of those that do not touch the image border
        (the holes); areas int [K] their pixel counts.
    """
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~mask).astype(np.uint8), connectivity=4)
    touches = np.zeros(n, bool)
    touches[0] = True  # label 0 is the object itself
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        touches[edge] = True
    ids = np.flatnonzero(~touches)
    return labels, ids, stats[ids, cv2.CC_STAT_AREA]


def fill_labels(mask: np.ndarray, labels: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``mask`` with the background components ``ids`` of ``labels`` made object (bool [H, W])."""
    if len(ids) == 0:
        return mask.astype(bool, copy=True)
    lut = np.zeros(int(labels.max()) + 1, bool)
    lut[ids] = True
    return mask | lut[labels]


def fill_small_holes(mask: np.ndarray, max_fraction: float) -> np.ndarray:
    """Fill enclosed holes smaller than ``max_fraction`` of the object's area (bool [H, W] in and out)."""
    labels, ids, areas = find_holes(mask)
    limit = max_fraction * max(int(mask.sum()), 1)
    return fill_labels(mask, labels, ids[areas <= limit])


def finish_matte(alpha: np.ndarray, mask: np.ndarray, fringe_px: int = 2) -> np.ndarray:
    """Make a soft matte agree with a cleaned mask.

    Inside ``mask`` alpha is raised to at least 0.5; outside it, pixels at
    0.5 or more (removed specks) become 0 and softer edge pixels stay; beyond
    ``fringe_px`` of the mask everything is 0. So ``mask == (alpha >= 0.5)``
    holds exactly.

    Args:
        alpha: float32 [H, W] 0..1.
        mask: bool [H, W].

    Returns:
        float32 [H, W] 0..1.
    """
    a = np.clip(alpha.astype(np.float32), 0.0, 1.0)
    # outside the mask: removed specks (alpha >= 0.5) vanish, soft edges (< 0.5) stay
    a = np.where(mask, np.maximum(a, 0.5), np.where(a >= 0.5, 0.0, a))
    if fringe_px > 0:
        k = 2 * fringe_px + 1
        near = cv2.dilate(mask.astype(np.uint8), np.ones((k, k), np.uint8)).astype(bool)
        a = np.where(near, a, 0.0)
    return a.astype(np.float32)


def report(progress: Optional[object], fraction: float) -> None:
    """Forward a stage fraction to ``progress.update`` (which may raise ``Cancelled``)."""
    if progress is not None:
        progress.update(fraction)


GRABCUT_MAX_SIDE = 512
"""GrabCut runs on the object's crop downscaled to at most this side (its cost grows with pixels)."""


def grabcut_grow(rgb: np.ndarray, mask: np.ndarray, radius: int, iterations: int = 4) -> np.ndarray:
    """Pixels near ``mask`` that GrabCut assigns to the object (additions only).

    Colour keying misses object parts whose colour is close to the
    background's (a white suit on white). GrabCut (Rother, Kolmogorov & Blake,
    "GrabCut", SIGGRAPH 2004; ``cv2.grabCut`` with a mask initialisation)
    learns colour models of the object and of the background and follows the
    image's edges, so such parts join the object where an edge separates them
    from the background. Only a band of ``radius`` px round the mask is open to
    change and nothing is removed, so thin parts the key found stay.

    Args:
        rgb: float32 [H, W, 3] sRGB 0..1.
        mask: bool [H, W] the keyed object.
        radius: width in px of the band around ``mask`` that may be added.
        iterations: GrabCut iterations.

    Returns:
        bool [H, W] pixels to add (outside ``mask``); all False when GrabCut
        cannot run (e.g. no background left in the crop).
    """
    h, w = mask.shape
    add = np.zeros_like(mask, dtype=bool)
    if not mask.any():
        return add
    k = 2 * radius + 1
    near = cv2.dilate(mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))).astype(bool)
    ys, xs = np.nonzero(near)
    pad = radius + 2  # keep sure background all round the crop for the background model
    y0, y1 = max(0, ys.min() - pad), min(h, ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(w, xs.max() + pad + 1)
    m = mask[y0:y1, x0:x1]
    band = near[y0:y1, x0:x1]
    crop = rgb[y0:y1, x0:x1]
    # GrabCut's cost grows with the pixel count: run it at most at MAX_SIDE
    scale = min(1.0, GRABCUT_MAX_SIDE / max(m.shape))
    if scale < 1.0:
        size = (max(1, round(m.shape[1] * scale)), max(1, round(m.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
        m_s = cv2.resize(m.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
        band_s = cv2.resize(band.astype(np.float32), size, interpolation=cv2.INTER_AREA) > 0.0
        erode = 3
    else:
        m_s, band_s, erode = m, band, 5
    gc = np.full(m_s.shape, cv2.GC_BGD, np.uint8)
    gc[band_s] = cv2.GC_PR_BGD
    gc[m_s] = cv2.GC_PR_FGD
    gc[cv2.erode(m_s.astype(np.uint8), np.ones((erode, erode), np.uint8)).astype(bool)] = cv2.GC_FGD
    if not (gc == cv2.GC_BGD).any() or not ((gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)).any():
        return add
    bgr8 = np.ascontiguousarray(np.clip(crop[..., ::-1] * 255.0 + 0.5, 0, 255).astype(np.uint8))
    try:
        cv2.grabCut(bgr8, gc, None, np.zeros((1, 65)), np.zeros((1, 65)), iterations, cv2.GC_INIT_WITH_MASK)
    except cv2.error:
        return add
    fg = (gc == cv2.GC_FGD) | (gc == cv2.GC_PR_FGD)
    if scale < 1.0:
        fg = cv2.resize(fg.astype(np.float32), (m.shape[1], m.shape[0]), interpolation=cv2.INTER_LINEAR) >= 0.5
    add[y0:y1, x0:x1] = fg & band & ~m
    return add
