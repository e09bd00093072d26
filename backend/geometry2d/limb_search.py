"""Swing search for limbs that no feature match follows (flippers, arms, blades).

Articulated parts with little texture (a turtle's flippers) get no feature
matches, and the silhouette terms alone pull them to the nearest outline, which
squashes them. This module proposes a pose for such parts by a discrete search:

1. Limbs: the start mask minus its morphological opening with a disc of half
   the largest inscribed radius (the thick "core" of the object) splits into
   protruding parts; each part attached to exactly one core component is a
   limb, hinged at the mean of the pixels where it meets the core.
2. Swing: every limb is rotated about its (currently registered) hinge over a
   grid of angles and a few scales; each candidate is scored by how much of the
   limb's area lands on end-object pixels that the rest of the mesh leaves
   uncovered (best), on covered end pixels (the limb may pass in front of the
   body; fair), or off the end object (penalty).
3. A candidate that beats the limb's current pose clearly becomes a soft
   target for the limb's vertices in the following ARAP iterations.

This is a hypothesise-and-verify step in the spirit of RANSAC-style
multi-model fitting, specialised to hinged parts; scoring by silhouette
overlap follows silhouette-based pose search (e.g. chamfer/IoU matching).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..render.rasterize import rasterize
from .arap_operator import rotation_matrices
from .mesh_ops import signed_areas
from .silhouette_field import SilhouetteField


@dataclass
class Limb:
    """A protruding part of the start mesh.

    Attributes:
        faces: int64 [K] indices of the mesh faces in the limb.
        vertices: int64 [J] vertices used by those faces.
        hinge: float64 [2] rest position of the hinge (pixels).
        hinge_vertices: int64 [H] vertices near the hinge (their mean moves like the hinge).
    """

    faces: np.ndarray
    vertices: np.ndarray
    hinge: np.ndarray
    hinge_vertices: np.ndarray


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
    n_core, core_label = cv2.connectedComponents(core, connectivity=8)
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
        # The limb must reach out well past its hinge to be worth swinging.
        pr, pc = np.nonzero(region)
        reach = np.sqrt(((pc + 0.5 - hinge[0]) ** 2 + (pr + 0.5 - hinge[1]) ** 2).max())
        if reach < 1.5 * rho:
            continue
        lf = np.nonzero(face_part == i)[0]
        if len(lf) < 3:
            continue
        lv = np.unique(faces[lf].ravel())
        d = np.linalg.norm(vertices - hinge, axis=1)
        near = np.argsort(d)[:4]
        limbs.append(Limb(faces=lf, vertices=lv, hinge=hinge, hinge_vertices=near))
    limbs.sort(key=lambda limb: -len(limb.faces))
    return limbs


@dataclass
class LimbPose:
    """A proposed pose for one limb: target positions for its vertices."""

    limb: Limb
    targets: np.ndarray  # float64 [J, 2] for limb.vertices
    angle_deg: float
    scale: float
    gain: float  # score improvement over the current pose, as a fraction of the limb's area


def swing_limbs(limbs: list[Limb], x: np.ndarray, faces: np.ndarray, end_field: SilhouetteField,
                step_deg: float = 7.5, scales=(0.85, 1.0, 1.15), min_gain: float = 0.15) -> list[LimbPose]:
    """Search a rotation about its hinge (and a scale) for every limb; keep clear improvements.

    Args:
        limbs: from ``find_limbs``.
        x: float [V, 2] current registered positions (end-image pixels).
        faces: int [F, 3].
        end_field: ``SilhouetteField`` of the end mask.
        step_deg: angle grid spacing (degrees) over the full turn.
        scales: uniform scales tried about the hinge.
        min_gain: a pose must beat the current one by this fraction of the limb's area.

    Returns:
        Accepted ``LimbPose`` list (limbs that already fit are left out).
    """
    h, w = end_field.shape
    mask = end_field.mask
    centroids_all = x[faces].mean(axis=1)
    area_all = np.abs(signed_areas(x, faces))
    in_limb = np.zeros(len(faces), bool)
    for limb in limbs:
        in_limb[limb.faces] = True
    body = rasterize(x, faces[~in_limb], w, h).mask
    angles = np.deg2rad(np.arange(-180.0, 180.0, step_deg))
    poses = []
    for limb in limbs:
        hinge = x[limb.hinge_vertices].mean(axis=0)
        c = centroids_all[limb.faces] - hinge  # [K, 2]
        a = np.maximum(area_all[limb.faces], 1e-6)
        total = a.sum()
        best = None
        for sc in scales:
            rot = rotation_matrices(angles)  # [A, 2, 2]
            pts = hinge + sc * np.einsum("aij,kj->aki", rot, c)  # [A, K, 2]
            col = np.floor(pts[..., 0]).astype(np.int64)
            row = np.floor(pts[..., 1]).astype(np.int64)
            on = (col >= 0) & (col < w) & (row >= 0) & (row < h)
            colc, rowc = np.clip(col, 0, w - 1), np.clip(row, 0, h - 1)
            inside = on & mask[rowc, colc]
            covered = body[rowc, colc]
            value = np.where(inside, np.where(covered, 0.25, 1.0), -1.0)
            score = (value * a).sum(axis=1) / total - 0.05 * abs(np.log(sc))
            i = int(np.argmax(score))
            if best is None or score[i] > best[0]:
                best = (float(score[i]), float(angles[i]), sc)
        # The current pose (angle 0, scale 1) scored the same way.
        p0 = centroids_all[limb.faces]
        col = np.clip(np.floor(p0[:, 0]).astype(np.int64), 0, w - 1)
        row = np.clip(np.floor(p0[:, 1]).astype(np.int64), 0, h - 1)
        on = (p0[:, 0] >= 0) & (p0[:, 0] < w) & (p0[:, 1] >= 0) & (p0[:, 1] < h)
        inside0 = on & mask[row, col]
        current = float((np.where(inside0, np.where(body[row, col], 0.25, 1.0), -1.0) * a).sum() / total)
        gain = best[0] - current
        if gain < min_gain or abs(best[1]) < np.deg2rad(step_deg * 1.5):
            continue
        rot = rotation_matrices(np.array(best[1]))
        targets = hinge + best[2] * (x[limb.vertices] - hinge) @ rot.T
        poses.append(LimbPose(limb=limb, targets=targets, angle_deg=float(np.rad2deg(best[1])), scale=best[2],
                              gain=gain))
        # Later limbs should not claim the same uncovered pixels.
        placed = hinge + best[2] * (x[faces[limb.faces]] - hinge) @ rot.T
        v = placed.reshape(-1, 2)
        body |= rasterize(v, np.arange(len(v)).reshape(-1, 3), w, h).mask
    return poses
