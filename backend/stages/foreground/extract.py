"""Minimal foreground: alpha channel, else white-background keying (to be replaced)."""

from __future__ import annotations

import cv2
import numpy as np

from ...types import Foreground, InputImage


def extract_foreground(image: InputImage, rgba: np.ndarray, engine: str = "auto", progress=None) -> Foreground:
    rgb = rgba[..., :3].astype(np.float32)
    if image.has_alpha:
        alpha = rgba[..., 3].astype(np.float32)
        method = "alpha"
    else:
        dist = np.linalg.norm(1.0 - rgb, axis=-1)
        alpha = np.clip((dist - 0.06) / 0.1, 0, 1).astype(np.float32)
        method = "key"
    mask = alpha >= 0.5
    mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n > 1:
        keep = np.zeros(n, bool)
        keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= 0.01 * stats[1:, cv2.CC_STAT_AREA].max()
        mask = keep[labels]
    return Foreground(rgb=rgb, alpha=alpha, mask=mask, method=method)
