"""Distance-transform queries on a target silhouette (for silhouette data terms).

Exact Euclidean distance transforms (``scipy.ndimage.distance_transform_edt``
with nearest-pixel indices) answer, for any position: is it on the object,
where is the nearest object pixel, and where is the nearest point of the
outline. Outline points sit on the pixel edges between object and background
(boundary pixel centre moved half a pixel along the outward normal), the same
place the silhouette mesh's outline runs.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage


class SilhouetteField:
    """Nearest-point queries on one object mask.

    Args:
        mask: bool [H, W] the object.

    Attributes:
        mask: the mask.
        outline: float64 [N, 2] outline points (u, v), one per boundary pixel.
        outline_normals: float64 [N, 2] outward unit normals at ``outline``.
    """

    def __init__(self, mask: np.ndarray):
        self.mask = np.asarray(mask, dtype=bool)
        h, w = self.mask.shape
        self.shape = (h, w)
        m8 = self.mask.astype(np.uint8)
        boundary = self.mask & ~cv2.erode(m8, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT,
                                          borderValue=0).astype(bool)
        if not boundary.any():
            raise ValueError("the mask is empty")
        # Outward normals from the gradient of a blurred mask.
        soft = cv2.GaussianBlur(m8.astype(np.float32), (0, 0), 1.5)
        gy, gx = np.gradient(soft)
        br, bc = np.nonzero(boundary)
        n = -np.stack([gx[br, bc], gy[br, bc]], axis=1)
        n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
        self.outline = np.stack([bc + 0.5, br + 0.5], axis=1) + 0.5 * n
        self.outline_normals = n
        index = np.full((h, w), -1, np.int64)
        index[br, bc] = np.arange(len(br))
        _, nearest_b = ndimage.distance_transform_edt(~boundary, return_indices=True)
        self._outline_index = index[nearest_b[0], nearest_b[1]]
        self.outside_distance, nearest_in = ndimage.distance_transform_edt(~self.mask, return_indices=True)
        self._nearest_in = np.stack([nearest_in[1] + 0.5, nearest_in[0] + 0.5], axis=-1)  # (u, v)

    def _pixels(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pts = np.asarray(points, dtype=np.float64)
        h, w = self.shape
        col = np.clip(np.floor(pts[:, 0]).astype(np.int64), 0, w - 1)
        row = np.clip(np.floor(pts[:, 1]).astype(np.int64), 0, h - 1)
        return row, col

    def inside(self, points: np.ndarray) -> np.ndarray:
        """bool [N]: the pixel under each point [N, 2] is on the object (off-image points are not)."""
        pts = np.asarray(points, dtype=np.float64)
        h, w = self.shape
        on_image = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        row, col = self._pixels(pts)
        return on_image & self.mask[row, col]

    def nearest_inside(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest position on the object for each point.

        Returns:
            targets float64 [N, 2]: the point itself when on the object, else the
            nearest point of the object's pixel area (the nearest object pixel's
            centre moved half a pixel toward the point, i.e. onto its edge);
            distance float64 [N] from the point to that target (0 on the object).
        """
        pts = np.asarray(points, dtype=np.float64)
        row, col = self._pixels(pts)
        inside = self.inside(pts)
        centre = self._nearest_in[row, col].astype(np.float64)
        step = pts - centre
        length = np.linalg.norm(step, axis=1)
        target = centre + np.minimum(length, 0.5)[:, None] * step / np.maximum(length, 1e-9)[:, None]
        dist = np.maximum(length - 0.5, 0.0)
        target[inside] = pts[inside]
        dist[inside] = 0.0
        return target, dist

    def nearest_outline(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Nearest outline point for each point [N, 2].

        Returns:
            targets float64 [N, 2], distances float64 [N], outward normals float64 [N, 2] there.
        """
        pts = np.asarray(points, dtype=np.float64)
        row, col = self._pixels(pts)
        k = self._outline_index[row, col]
        target = self.outline[k]
        return target, np.linalg.norm(target - pts, axis=1), self.outline_normals[k]

    def outline_samples(self, spacing_px: float) -> tuple[np.ndarray, np.ndarray]:
        """Outline points about ``spacing_px`` apart (ordered along each contour) and their normals."""
        contours, _ = cv2.findContours(self.mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
        step = max(1, int(round(spacing_px)))
        pts = np.concatenate([c.reshape(-1, 2)[::step] for c in contours]).astype(np.float64) + 0.5
        target, _, normals = self.nearest_outline(pts)
        return target, normals
