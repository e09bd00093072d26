"""Placing limbs that no feature match follows (flippers, arms, blades).

Articulated parts with little texture (a turtle's flippers) get no feature
matches, and the silhouette terms alone pull them to the nearest outline, which
squashes them. After the body has been aligned, this module proposes a pose for
such parts (hypothesise and verify):

1. Limbs (``find_limbs``): the start mask minus its morphological opening with
   a disc of half the largest inscribed radius (the thick "core") splits into
   protruding parts; a part attached to exactly one core component is a limb,
   hinged where it meets the core.
2. Unexplained end regions: end-object pixels that neither the body nor a
   well-placed limb covers, split into connected components.
3. Matching (``place_limbs``): every misplaced limb is mapped onto every
   unexplained region by aligning their second moments (centroid, principal
   axis, extent along and across it: an affine map, so a limb foreshortened by
   a turn in depth still fits), with the hinge end toward the body; a greedy
   assignment by the overlap (IoU) of the mapped limb with the region keeps
   good fits.
Accepted poses become soft targets for the limb's vertices in the following
ARAP iterations. Moment-based alignment: e.g. Flusser, Suk & Zitova, "2D and 3D
Image Analysis by Moments" (Wiley 2016), Ch. 3 (normalisation by moments).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..render.rasterize import rasterize
from .mesh_ops import signed_areas
from .silhouette_field import SilhouetteField


@dataclass
class Limb:
    """A protruding part of the start mesh.

    Attributes:
        faces: int64 [K] indices of the mesh faces in the limb.
        vertices: int64 [J] vertices used by those faces.
        hinge: float64 [2] rest position of the hinge (pixels).
        hinge_vertices: int64 [H] vertices nearest the hinge (their mean moves like the hinge).
    """

    faces: np.ndarray
    vertices: np.ndarray
    hinge: np.ndarray
    hinge_vertices: np.ndarray


@dataclass
class LimbPose:
    """A proposed pose for one limb.

    Attributes:
        limb: the limb.
        targets: float64 [J, 2] target positions of ``limb.vertices`` (end-image pixels).
        angle_deg: rotation of the limb (degrees, image axes).
        method: how the pose was found ("match": moment alignment onto an unexplained region).
        score: IoU of the placed limb with the region it was matched to.
    """

    limb: Limb
    targets: np.ndarray
    angle_deg: float
    method: str
    score: float


def find_limbs(vertices: np.ndarray, faces: np.ndarray, mask: np.ndarray, min_area_fraction: float = 0.015,
               core_fraction: float = 0.5) -> list[Limb]:
    """Split the start object into a thick core and hinged limbs.

    Args:
        vertices: float [V, 2] rest positions of the start mesh.
        faces: int [F, 3].
        mask: bool [H, W] start object mask.
        min_area_fraction: limbs smaller than this fraction of the object are ignored.
        core_fraction: opening radius relative to the largest inscribed radius.

    Returns:
        Limbs, largest first.
    """
    m = np.asarray(mask, dtype=np.uint8)
    dist = cv2.distanceTransform(m, cv2.DIST_L2, 5)
    rho = max(2, int(round(core_fraction * float(dist.max()))))
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * rho + 1, 2 * rho + 1))
    core = cv2.morphologyEx(m, cv2.MORPH_OPEN, disc)
    if core.sum() == 0:
        return []
    _, core_label = cv2.connectedComponents(core, connectivity=8)
    parts = (m & (1 - core)).astype(np.uint8)
    n_parts, part_label, stats, _ = cv2.connectedComponentsWithStats(parts, connectivity=4)
    total = float(m.sum())
    centroids = vertices[faces].mean(axis=1)
    h, w = m.shape
    fc = np.clip(centroids[:, 0].astype(np.int64), 0, w - 1)
    fr = np.clip(centroids[:, 1].astype(np.int64), 0, h - 1)
    face_part = part_label[fr, fc]
    ring = cv2.dilate(core, np.ones((3, 3), np.uint8)).astype(bool) & ~core.astype(bool)
    limbs = []
    for i in range(1, n_parts):
        if stats[i, cv2.CC_STAT_AREA] < min_area_fraction * total:
            continue
        region = part_label == i
        contact = region & ring
        if not contact.any():
            continue
        # Touching two core parts makes it a bridge (e.g. a leg between body and board): no hinge.
        grown = cv2.dilate(contact.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
        touched = np.unique(core_label[grown & core.astype(bool)])
        if len(touched[touched > 0]) != 1:
            continue
        rr, cc = np.nonzero(contact)
        hinge = np.array([cc.mean() + 0.5, rr.mean() + 0.5])
        pr, pc = np.nonzero(region)
        reach = np.sqrt(((pc + 0.5 - hinge[0]) ** 2 + (pr + 0.5 - hinge[1]) ** 2).max())
        if reach < 1.5 * rho:  # a corner trimmed off the core, not a limb
            continue
        lf = np.nonzero(face_part == i)[0]
        if len(lf) < 3:
            continue
        lv = np.unique(faces[lf].ravel())
        near = lv[np.argsort(np.linalg.norm(vertices[lv] - hinge, axis=1))[:4]]
        limbs.append(Limb(faces=lf, vertices=lv, hinge=hinge, hinge_vertices=near))
    limbs.sort(key=lambda limb: -len(limb.faces))
    return limbs


def _moments(points: np.ndarray, weights: np.ndarray):
    """Centroid [2], principal axes [2, 2] (columns, major first) and standard deviations [2]."""
    wsum = max(float(weights.sum()), 1e-9)
    c = (points * weights[:, None]).sum(axis=0) / wsum
    d = points - c
    cov = (d * weights[:, None]).T @ d / wsum
    evals, evecs = np.linalg.eigh(cov)
    order = np.argsort(evals)[::-1]
    return c, evecs[:, order], np.sqrt(np.maximum(evals[order], 1e-6))


def _region_points(mask: np.ndarray) -> np.ndarray:
    r, c = np.nonzero(mask)
    return np.stack([c + 0.5, r + 0.5], axis=1).astype(np.float64)


def _raster_faces(points: np.ndarray, w: int, h: int) -> np.ndarray:
    """bool [h, w] raster of a triangle soup given as points [3K, 2]."""
    return rasterize(points, np.arange(len(points)).reshape(-1, 3), w, h).mask


def _match_pose(limb: Limb, x: np.ndarray, faces: np.ndarray, region: np.ndarray, body: np.ndarray,
                areas: np.ndarray):
    """Affine map of a limb onto a region by second moments; returns (IoU, A [2, 2], t [2]) or None."""
    h, w = region.shape
    tri = x[faces[limb.faces]]  # [K, 3, 2]
    lc, laxes, lstd = _moments(tri.mean(axis=1), areas[limb.faces])
    pts = _region_points(region)
    rc, raxes, rstd = _moments(pts, np.ones(len(pts)))
    hinge = x[limb.hinge_vertices].mean(axis=0)
    # The region's attached end: where it touches the body (else its point nearest the body).
    touch = region & cv2.dilate(body.astype(np.uint8), np.ones((9, 9), np.uint8)).astype(bool)
    if touch.any():
        anchor = _region_points(touch).mean(axis=0)
    else:
        anchor = rc
    reach = float(np.linalg.norm(tri.reshape(-1, 2) - hinge, axis=1).max())
    if np.linalg.norm(anchor - hinge) > 2.0 * reach:
        return None  # the limb cannot get there without leaving its hinge far behind
    s_limb = np.sign((hinge - lc) @ laxes[:, 0]) or 1.0
    s_reg = np.sign((anchor - rc) @ raxes[:, 0]) or 1.0
    best = None
    for flip_minor in (1.0, -1.0):  # mirror image across the major axis is not known from moments
        src = laxes * np.array([s_limb, 1.0])
        dst = raxes * np.array([s_reg, flip_minor])
        scale = np.clip(rstd / lstd, 0.5, 2.0)
        a = dst @ np.diag(scale) @ src.T
        if np.linalg.det(a) <= 0:
            continue  # a mirror map would turn the limb inside out
        t = rc - a @ lc
        placed = tri.reshape(-1, 2) @ a.T + t
        cover = _raster_faces(placed, w, h)
        inter = float((cover & region).sum())
        union = float((cover | region).sum())
        iou = inter / union if union else 0.0
        if best is None or iou > best[0]:
            best = (iou, a, t)
    return best


def place_limbs(limbs: list[Limb], x: np.ndarray, faces: np.ndarray, end_field: SilhouetteField,
                anchored: np.ndarray | None = None, fit_fraction: float = 0.7, min_iou: float = 0.45) -> list[LimbPose]:
    """Propose poses for limbs that do not fit the end silhouette where they are.

    Args:
        limbs: from ``find_limbs``.
        x: float [V, 2] current registered positions (end-image pixels; body already aligned).
        faces: int [F, 3].
        end_field: ``SilhouetteField`` of the end mask.
        anchored: optional bool [F]: faces that feature matches hold; a limb with
            three or more of them is left to the matches.
        fit_fraction: a limb with at least this fraction of its area on end pixels
            the body leaves free is considered in place.
        min_iou: a moment match must overlap its region at least this much (IoU).

    Returns:
        ``LimbPose`` for each limb that gets moved (see module docstring).
    """
    mask = end_field.mask
    h, w = mask.shape
    areas = np.maximum(np.abs(signed_areas(x, faces)), 1e-6)
    in_limb = np.zeros(len(faces), bool)
    for limb in limbs:
        in_limb[limb.faces] = True
    body = rasterize(x, faces[~in_limb], w, h).mask
    misplaced = []
    for limb in limbs:
        cur = x[faces[limb.faces]].reshape(-1, 2)
        cover = _raster_faces(cur, w, h)
        free = float((cover & mask & ~body).sum()) / max(float(cover.sum()), 1.0)
        held = anchored is not None and int(anchored[limb.faces].sum()) >= 3
        if free >= fit_fraction or held:
            body |= cover
        else:
            misplaced.append(limb)
    if not misplaced:
        return []

    # Regions of the end object nothing explains yet.
    grown = cv2.dilate(body.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    free_end = (mask & ~grown).astype(np.uint8)
    free_end = cv2.morphologyEx(free_end, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(free_end, connectivity=8)
    smallest = min(float(areas[limb.faces].sum()) for limb in misplaced)
    regions = [labels == i for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= 0.25 * smallest]

    candidates = []
    for li, limb in enumerate(misplaced):
        for ri, region in enumerate(regions):
            fit = _match_pose(limb, x, faces, region, body, areas)
            if fit is not None and fit[0] >= min_iou:
                candidates.append((fit[0], li, ri, fit[1], fit[2]))
    candidates.sort(key=lambda c: -c[0])
    poses, used_limb, used_region = [], set(), set()
    for iou, li, ri, a, t in candidates:
        if li in used_limb or ri in used_region:
            continue
        used_limb.add(li)
        used_region.add(ri)
        limb = misplaced[li]
        poses.append(LimbPose(limb=limb, targets=x[limb.vertices] @ a.T + t,
                              angle_deg=float(np.rad2deg(np.arctan2(a[1, 0] - a[0, 1], a[0, 0] + a[1, 1]))),
                              method="match", score=float(iou)))
        body |= _raster_faces(x[faces[limb.faces]].reshape(-1, 2) @ a.T + t, w, h)
    return poses
