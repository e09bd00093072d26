"""Medial balls of a silhouette, the round surface they sweep, and the silhouette's parts.

Every point of a silhouette lies in some disc inscribed in it; the discs
centred on the medial axis (the ridge of the distance transform) are the
maximal ones (Blum's medial axis transform). Lifting every inscribed disc of
radius r to a ball of radius r gives the union-of-balls surface

    h(p)^2 = max_q ( r(q)^2 - |p - q|^2 ),

a round tube of the local width along a limb, a sphere on a round blob
(Teddy's circular cross-sections along the chordal axis, Igarashi et al.,
SIGGRAPH 1999, Sec. 4.2; the sphere-swept solids of Bærentzen et al., 2012;
Monster Mash's inflation targets round cross-sections too, Dvorožňák et al.,
SIGGRAPH Asia 2020, Sec. 4). Unlike the Poisson height of ``inflate``, which
is round only across straight strips (a disc gets 1/sqrt(2) of a sphere), it
is round everywhere.

The ball q that attains the maximum "owns" p; its radius is p's local
thickness (Hildebrand & Rüegsegger, J. Microscopy 1997). Local thickness is
smooth inside one part (a tube, a tapering cone, an ellipse) and jumps where
a thin part meets a thicker one (an arm on a torso, the bar of a dumbbell):
cutting the silhouette along those jumps splits it into parts, the
weight-free stand-in for a skeleton's branch decomposition.

All computations run on an analysis raster whose longer side is at most
``ANALYSIS_SIDE`` pixels (speed); positions and radii are reported in the
caller's (working-resolution) pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

ANALYSIS_SIDE = 192      # longer side of the analysis raster (pixels)
MIN_RIDGE_RADIUS = 1.5   # analysis pixels: ridge points closer to the outline are outline noise
RIDGE_MARGIN = 0.35     # pixels: how far a neighbour's disc must fall short of containing p's
MAX_BALLS = 2500         # ridge points kept (evenly thinned beyond this)
JUMP_RATIO = 1.3         # local-thickness ratio across a 3x3 neighbourhood that counts as a part border
MIN_JUMP_RADIUS = 3.0    # analysis pixels: thinner regions never start a cut (corners, outline noise)
MIN_PART_SHARE = 0.02    # parts below this share of the object's area merge into their neighbours
MIN_PART_PIXELS = 25     # ... and below this many analysis pixels
_CHUNK = 2_000_000       # (points x balls) pairs per evaluation chunk


@dataclass
class MedialBalls:
    """Inscribed discs centred on the distance-transform ridge.

    Attributes:
        centres: float64 [Q, 2] pixel coordinates (u, v) of the centres, in
            the caller's pixels (pixel centres at +0.5).
        radii: float64 [Q] radii in the caller's pixels (> 0).
    """

    centres: np.ndarray
    radii: np.ndarray


@dataclass
class PartMap:
    """The silhouette split into parts on the analysis raster.

    Attributes:
        labels: int32 [h, w] part index 0..P-1 inside the object, -1 outside.
        thickness: float64 [h, w] local thickness (owning ball radius) in the
            caller's pixels, 0 outside.
        scale: analysis pixels per caller pixel (<= 1).
        count: number of parts P (>= 1 for a non-empty mask).
    """

    labels: np.ndarray
    thickness: np.ndarray
    scale: float
    count: int

    def label_at(self, uv: np.ndarray) -> np.ndarray:
        """Part index int32 [N] of caller-pixel points uv [N, 2] (nearest analysis pixel; the nearest part for
        points just outside the object)."""
        uv = np.asarray(uv, dtype=np.float64)
        h, w = self.labels.shape
        filled = self.filled_labels()
        c = np.clip(np.floor(uv[:, 0] * self.scale).astype(int), 0, w - 1)
        r = np.clip(np.floor(uv[:, 1] * self.scale).astype(int), 0, h - 1)
        return filled[r, c]

    def filled_labels(self) -> np.ndarray:
        """int32 [h, w] the labels with every outside pixel given its nearest part (cached)."""
        if not hasattr(self, "_filled_cache"):
            outside = self.labels < 0
            if outside.any() and (~outside).any():
                _, idx = ndimage.distance_transform_edt(outside, return_indices=True)
                self._filled_cache = self.labels[idx[0], idx[1]]
            else:
                self._filled_cache = np.maximum(self.labels, 0)
        return self._filled_cache


def analysis_mask(mask: np.ndarray, side: int = ANALYSIS_SIDE) -> tuple[np.ndarray, float]:
    """The mask resized so its longer side is at most ``side`` (area interpolation, threshold 0.5).

    Returns:
        (bool [h, w] mask, scale = analysis pixels per input pixel).
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    s = min(1.0, side / max(h, w))
    if s >= 1.0:
        return mask.copy(), 1.0
    size = (max(1, int(round(w * s))), max(1, int(round(h * s))))
    small = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    return small, size[0] / w


def medial_balls(mask: np.ndarray, side: int = ANALYSIS_SIDE) -> MedialBalls:
    """Maximal inscribed discs of a silhouette: the ridge of its Euclidean distance transform.

    A pixel is a ridge pixel when the disc of no 8-neighbour contains its own
    disc, with a margin (the discrete centres of maximal discs, as in
    Borgefors' reverse distance transform tests).

    Args:
        mask: bool [H, W] the object (the image border counts as outside).
        side: longer side of the analysis raster.

    Returns:
        ``MedialBalls`` in the mask's pixels; empty arrays for an empty mask.
        The radius is the distance to the outline (the pixel-edge boundary,
        half a pixel closer than the nearest outside pixel centre).
    """
    small, s = analysis_mask(mask, side)
    dist = ndimage.distance_transform_edt(np.pad(small, 1))
    core = dist[1:-1, 1:-1]
    # p is the centre of a maximal disc when no neighbour's disc contains it: D(n) < D(p) + |p - n| - margin
    # (off the medial axis the neighbour up the gradient nearly contains it: D(n) - D(p) ~ |p - n| cos(<= 22.5 deg)).
    ridge = np.ones_like(small)
    for dr in (-1, 0, 1):
        for dc in (-1, 0, 1):
            if dr == 0 and dc == 0:
                continue
            nb = dist[1 + dr:dist.shape[0] - 1 + dr, 1 + dc:dist.shape[1] - 1 + dc]
            ridge &= nb - core < np.hypot(dr, dc) - RIDGE_MARGIN
    ridge &= small & (core >= MIN_RIDGE_RADIUS)
    if not ridge.any() and small.any():
        ridge = small & (core >= core.max())  # tiny objects: the deepest pixels
    rows, cols = np.nonzero(ridge)
    if len(rows) > MAX_BALLS:
        keep = np.linspace(0, len(rows) - 1, MAX_BALLS).round().astype(int)
        rows, cols = rows[keep], cols[keep]
    centres = np.stack([cols + 0.5, rows + 0.5], axis=1) / s
    radii = np.maximum(core[rows, cols] - 0.5, 0.5) / s
    return MedialBalls(centres=centres.astype(np.float64), radii=radii.astype(np.float64))


def ball_union(points: np.ndarray, balls: MedialBalls) -> tuple[np.ndarray, np.ndarray]:
    """Height of the union of balls over points, and the owning ball of each point.

    Args:
        points: float [N, 2] pixel positions (the balls' pixels).
        balls: the medial balls.

    Returns:
        (height float64 [N] = sqrt(max(0, max_q r_q^2 - |p - q|^2)) in pixels,
        owner int64 [N] index of the ball attaining the maximum; -1 when there are no balls).
    """
    pts = np.asarray(points, dtype=np.float64)
    n = len(pts)
    if len(balls.radii) == 0 or n == 0:
        return np.zeros(n), np.full(n, -1, np.int64)
    r2 = balls.radii ** 2
    best = np.full(n, -np.inf)
    owner = np.zeros(n, np.int64)
    step = max(1, _CHUNK // len(r2))
    for lo in range(0, n, step):
        p = pts[lo:lo + step]
        d2 = ((p[:, None, :] - balls.centres[None, :, :]) ** 2).sum(axis=2)
        score = r2[None, :] - d2
        k = np.argmax(score, axis=1)
        owner[lo:lo + step] = k
        best[lo:lo + step] = score[np.arange(len(p)), k]
    return np.sqrt(np.maximum(best, 0.0)), owner


def segment_parts(mask: np.ndarray, balls: MedialBalls | None = None, side: int = ANALYSIS_SIDE) -> PartMap:
    """Split a silhouette into parts where its local thickness jumps.

    Method: the local thickness (radius of the owning medial ball, see the
    module docstring) is computed per analysis pixel; pixels whose 3x3
    neighbourhood spans a thickness ratio above ``JUMP_RATIO`` (and reaches at
    least ``MIN_JUMP_RADIUS``) are part borders. The 4-connected components of
    the rest are the parts; components smaller than ``MIN_PART_SHARE`` of the
    object (or ``MIN_PART_PIXELS``) and the border pixels join the nearest
    kept part. A dumbbell gives three parts (two balls and the bar), a tube,
    a cone or an ellipse one.

    Args:
        mask: bool [H, W] the object.
        balls: its medial balls (computed when None).
        side: longer side of the analysis raster.

    Returns:
        A ``PartMap``.
    """
    small, s = analysis_mask(mask, side)
    balls = balls if balls is not None else medial_balls(mask, side)
    labels = np.full(small.shape, -1, np.int32)
    thickness = np.zeros(small.shape)
    rows, cols = np.nonzero(small)
    if len(rows) == 0:
        return PartMap(labels=labels, thickness=thickness, scale=s, count=0)
    pix = np.stack([cols + 0.5, rows + 0.5], axis=1) / s
    _, owner = ball_union(pix, balls)
    thickness[rows, cols] = balls.radii[owner] if len(balls.radii) else 1.0
    t_small = thickness * s  # analysis pixels
    big = np.where(small, t_small, 0.0)
    lo = np.where(small, t_small, np.inf)
    hi = ndimage.maximum_filter(big, size=3)
    low = ndimage.minimum_filter(lo, size=3)
    border = small & (hi >= MIN_JUMP_RADIUS) & (hi > JUMP_RATIO * np.maximum(low, 1e-6))
    comp, n = ndimage.label(small & ~border)
    sizes = np.bincount(comp.ravel(), minlength=n + 1)
    min_size = max(MIN_PART_PIXELS, MIN_PART_SHARE * small.sum())
    kept = [k for k in range(1, n + 1) if sizes[k] >= min_size]
    if not kept:
        labels[small] = 0
        return PartMap(labels=labels, thickness=thickness, scale=s, count=1)
    remap = np.full(n + 1, -1, np.int32)
    remap[kept] = np.arange(len(kept), dtype=np.int32)
    seeds = remap[comp]
    # Borders and small pieces join the nearest kept part (nearest seed pixel).
    _, idx = ndimage.distance_transform_edt(seeds < 0, return_indices=True)
    filled = seeds[idx[0], idx[1]]
    labels[small] = filled[small]
    return PartMap(labels=labels, thickness=thickness, scale=s, count=len(kept))
