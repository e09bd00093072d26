"""Rigid-motion hypotheses for mesh regions that no feature match reaches.

Feature matches say how the textured parts moved. A dark, plain part (a
windmill's housing behind its blades) gets none, and plain ARAP would drag it
along with whatever moves next to it. Every such region -- a connected set of
triangles far from all matches -- picks, among the candidate motions (each
rigid part's similarity transform and the transform that aligns the two masks'
centroids and areas), the one that puts most of its area on the end object
(hypothesise and verify, as in sequential-RANSAC multi-model fitting with a
silhouette score).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mesh_ops import face_adjacency, signed_areas
from .silhouette_field import SilhouetteField


@dataclass
class RegionMotion:
    """A chosen motion for one unmatched region.

    Attributes:
        faces: int64 [K] faces of the region.
        vertices: int64 [J] their vertices.
        transform: float64 [2, 3] similarity transform (start pixels -> end pixels).
        score: fraction of the region's area on the end object under ``transform`` (minus off-object area).
    """

    faces: np.ndarray
    vertices: np.ndarray
    transform: np.ndarray
    score: float


def moments_transform(start_mask: np.ndarray, end_mask: np.ndarray) -> np.ndarray:
    """float64 [2, 3] scale + translation matching the masks' centroids and areas (no rotation)."""
    def moments(mask):
        r, c = np.nonzero(mask)
        return np.array([c.mean() + 0.5, r.mean() + 0.5]), np.sqrt(max(len(r), 1))

    c0, s0 = moments(start_mask)
    c1, s1 = moments(end_mask)
    k = s1 / s0
    return np.array([[k, 0.0, c1[0] - k * c0[0]], [0.0, k, c1[1] - k * c0[1]]])


def _components(faces: np.ndarray, selected: np.ndarray) -> list[np.ndarray]:
    """Connected components (over shared edges) of the selected faces."""
    idx = np.nonzero(selected)[0]
    if len(idx) == 0:
        return []
    pairs = face_adjacency(faces)
    pairs = pairs[selected[pairs[:, 0]] & selected[pairs[:, 1]]]
    parent = np.arange(len(faces))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in pairs.tolist():
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    roots = np.array([find(i) for i in idx])
    return [idx[roots == r] for r in np.unique(roots)]


def _occupancy(points: np.ndarray, weights: np.ndarray, field: SilhouetteField) -> float:
    inside = field.inside(points)
    return float((np.where(inside, 1.0, -1.0) * weights).sum() / max(weights.sum(), 1e-9))


def choose_region_motions(rest: np.ndarray, faces: np.ndarray, face_support: np.ndarray, current: np.ndarray,
                          candidates: np.ndarray, end_field: SilhouetteField, support_below: float = 0.2,
                          min_area_fraction: float = 0.04, margin: float = 0.1) -> list[RegionMotion]:
    """Pick a motion for every sizeable region without feature support.

    Args:
        rest: float [V, 2] start mesh vertices (pixels).
        faces: int [F, 3].
        face_support: float [F] 0..1, how strongly feature matches reach each face.
        current: float [V, 2] the positions the region would otherwise get (the initialisation).
        candidates: float [K, 2, 3] candidate similarity transforms (start -> end pixels).
        end_field: ``SilhouetteField`` of the end mask.
        support_below: faces with less support than this are unmatched.
        min_area_fraction: smaller regions (fraction of the mesh area) are left alone.
        margin: a candidate must beat the current placement's score by this much.

    Returns:
        ``RegionMotion`` for each region whose best candidate clearly wins.
    """
    areas = np.abs(signed_areas(rest, faces))
    total = float(areas.sum())
    out = []
    for region in _components(faces, face_support < support_below):
        a = areas[region]
        if a.sum() < min_area_fraction * total:
            continue
        centroids = rest[faces[region]].mean(axis=1)
        now = _occupancy(current[faces[region]].mean(axis=1), a, end_field)
        best, best_m = -np.inf, None
        for m in candidates:
            score = _occupancy(centroids @ m[:, :2].T + m[:, 2], a, end_field)
            if score > best:
                best, best_m = score, m
        if best_m is not None and best > now + margin:
            out.append(RegionMotion(faces=region, vertices=np.unique(faces[region].ravel()),
                                    transform=np.asarray(best_m, dtype=np.float64), score=best))
    return out
