"""A cross-section per silhouette part: round limbs and blobs, bases that keep their width in depth.

Each part of ``parts.segment_parts`` gets a kind from its 2D shape:

* ``round`` -- the union of the medial balls (``parts.ball_union``): a tube
  as deep as it is wide along a limb, a sphere on a round blob (Teddy,
  Igarashi et al. 1999, Sec. 4.2).
* ``revolution`` -- a base: the lowest part of an object with several parts,
  wider than tall. Objects stand on rotationally symmetric bases (the disc
  foot of a lamp, a turntable, the round base of a statue), so the part is
  taken as a solid of revolution about a vertical axis, its radius per image
  row being the row's half-width: a generalised cylinder with a straight
  vertical axis (3-Sweep, Chen et al., SIGGRAPH Asia 2013, Sec. 4, with the
  axis fixed instead of swept). A disc seen edge-on or from a little above
  then keeps its width in depth instead of becoming a blade.

Part kinds blend over a few pixels at their borders (smoothed one-hot part
weights), so the surface has no cliffs where a pole meets its base.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from .parts import MedialBalls, PartMap, ball_union

ROUND, REVOLUTION = 0, 1
BASE_MIN_ASPECT = 1.5        # width / height of the part's bounding box for a base
BASE_MAX_TILT_DEG = 25.0     # the part's major axis within this angle of the horizontal
BLEND_SIGMA = 2.0            # analysis pixels: width of the blend between part kinds


@dataclass
class PartInfo:
    """2D description of one part (analysis raster measurements in caller pixels).

    Attributes:
        index: part index in the ``PartMap``.
        area: pixels (caller units).
        centroid: (u, v) pixels.
        axes: (a, b) semi-axes of the moment-equivalent ellipse, a >= b, pixels.
        angle_deg: direction of the major axis from the image horizontal, degrees in (-90, 90].
        bbox: (u0, v0, u1, v1) pixels.
        reaches_bottom: the part touches the object's lowest row.
        kind: ``ROUND`` or ``REVOLUTION``.
    """

    index: int
    area: float
    centroid: tuple[float, float]
    axes: tuple[float, float]
    angle_deg: float
    bbox: tuple[float, float, float, float]
    reaches_bottom: bool = False
    kind: int = ROUND


def describe_parts(parts: PartMap) -> list[PartInfo]:
    """Moments, bounding boxes and kinds of every part.

    A part is a ``REVOLUTION`` base when the object has several parts, the
    part reaches the object's lowest row, its centroid is the lowest of all
    parts, its bounding box is at least ``BASE_MIN_ASPECT`` times wider than
    tall and its major axis is within ``BASE_MAX_TILT_DEG`` of the horizontal;
    every other part is ``ROUND``.

    Args:
        parts: the silhouette's parts.

    Returns:
        One ``PartInfo`` per part, in index order.
    """
    s = parts.scale
    infos = []
    rows_all = np.nonzero((parts.labels >= 0).any(axis=1))[0]
    bottom = rows_all.max() if len(rows_all) else 0
    for k in range(parts.count):
        m = (parts.labels == k).astype(np.uint8)
        mom = cv2.moments(m, binaryImage=True)
        area = max(mom["m00"], 1e-9)
        cu, cv = mom["m10"] / area, mom["m01"] / area
        cov = np.array([[mom["mu20"], mom["mu11"]], [mom["mu11"], mom["mu02"]]]) / area
        w, vec = np.linalg.eigh(cov)
        a, b = 2.0 * np.sqrt(max(w[1], 0.0)), 2.0 * np.sqrt(max(w[0], 0.0))
        major = vec[:, 1]
        angle = float(np.degrees(np.arctan2(-major[1], major[0])))
        angle = angle - 180.0 if angle > 90.0 else angle + 180.0 if angle <= -90.0 else angle
        rr, cc = np.nonzero(m)
        bbox = (cc.min() / s, rr.min() / s, (cc.max() + 1) / s, (rr.max() + 1) / s)
        infos.append(PartInfo(index=k, area=area / s ** 2, centroid=((cu + 0.5) / s, (cv + 0.5) / s),
                              axes=(a / s, b / s), angle_deg=angle, bbox=bbox,
                              reaches_bottom=bool(rr.max() >= bottom - 1)))
    if len(infos) > 1:
        lowest = max(infos, key=lambda p: p.centroid[1])
        u0, v0, u1, v1 = lowest.bbox
        if (lowest.reaches_bottom and (u1 - u0) >= BASE_MIN_ASPECT * (v1 - v0)
                and abs(lowest.angle_deg) <= BASE_MAX_TILT_DEG):
            lowest.kind = REVOLUTION
    return infos


def _revolution_height(parts: PartMap, k: int, points: np.ndarray) -> np.ndarray:
    """sqrt(R(v)^2 - (u - c(v))^2): a solid of revolution about the vertical axis of part k, pixels."""
    s = parts.scale
    m = parts.labels == k
    rows = np.nonzero(m.any(axis=1))[0]
    half = np.zeros(parts.labels.shape[0])
    mid = np.zeros(parts.labels.shape[0])
    for r in rows:
        cols = np.nonzero(m[r])[0]
        half[r] = (cols.max() - cols.min() + 1) / 2.0
        mid[r] = (cols.max() + cols.min() + 1) / 2.0
    # The base's vertical axis: one centre for the whole part (area-weighted row midpoints).
    weight = half[rows]
    centre = float((mid[rows] * weight).sum() / max(weight.sum(), 1e-9))
    half[rows] = ndimage.median_filter(half[rows], size=3, mode="nearest")
    r_idx = np.clip(np.floor(points[:, 1] * s).astype(int), rows.min(), rows.max())
    radius = half[r_idx] / s
    x = points[:, 0] - centre / s
    return np.sqrt(np.maximum(radius ** 2 - x ** 2, 0.0))


def _soft_weights(parts: PartMap, points: np.ndarray) -> np.ndarray:
    """float64 [N, P] smoothed one-hot part weights at points (rows sum to 1)."""
    h, w = parts.labels.shape
    filled = parts.filled_labels()
    out = np.empty((len(points), parts.count))
    mx = (points[:, 0] * parts.scale - 0.5).astype(np.float32).reshape(-1, 1)
    my = (points[:, 1] * parts.scale - 0.5).astype(np.float32).reshape(-1, 1)
    for k in range(parts.count):
        blur = cv2.GaussianBlur((filled == k).astype(np.float32), (0, 0), BLEND_SIGMA)
        out[:, k] = cv2.remap(blur, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()
    total = out.sum(axis=1, keepdims=True)
    return np.where(total > 1e-9, out / np.maximum(total, 1e-9), 1.0 / parts.count)


def part_heights(points: np.ndarray, parts: PartMap, balls: MedialBalls,
                 infos: list[PartInfo] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Round-cross-section half-thickness of the surface over points, part by part.

    Args:
        points: float [N, 2] pixel positions inside the silhouette (the mesh's vertices).
        parts: the silhouette's parts (same pixels).
        balls: its medial balls (same pixels).
        infos: ``describe_parts(parts)`` (computed when None).

    Returns:
        (height float64 [N] >= 0 pixels: half the depth extent at each point
        for a round cross-section, before any inflation factor;
        label int32 [N] part index of each point;
        kind int8 [N] the point's dominant part kind).
    """
    pts = np.asarray(points, dtype=np.float64)
    infos = infos if infos is not None else describe_parts(parts)
    round_h, _ = ball_union(pts, balls)
    label = parts.label_at(pts).astype(np.int32)
    if parts.count == 0:
        return round_h, label, np.zeros(len(pts), np.int8)
    kinds = np.array([p.kind for p in infos], np.int8)
    if not np.any(kinds == REVOLUTION):
        return round_h, label, kinds[label]
    weights = _soft_weights(parts, pts)
    height = np.zeros(len(pts))
    for p in infos:
        hk = round_h if p.kind == ROUND else np.maximum(_revolution_height(parts, p.index, pts), round_h)
        height += weights[:, p.index] * hk
    return height, label, kinds[label]
