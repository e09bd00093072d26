"""ARAP registration of the start silhouette mesh onto the end image.

Finds end positions X [V, 2] for the start mesh's vertices so that the start
object, warped piecewise-affinely by the mesh, lands on the end object while
every triangle stays as rigid as possible.

Energy (all terms in square pixels):

    E(X) = stiffness * sum_t area_t * ||J_t(X) - R_t||^2           ARAP (Liu et al. 2008 / Sorkine & Alexa 2007)
         + sum_m w_m ||b_m . X - q_m||^2                              data terms, points given by barycentric rows b_m

minimised by local/global iterations (local: closest rotation R_t per
triangle; global: one sparse symmetric solve, ``scipy.sparse.linalg.splu``,
for both coordinates). The data terms are re-linearised every outer iteration
(iteratively reweighted least squares with Cauchy weights, so bad
correspondences cannot tear the mesh):

* feature matches: SIFT matches grouped into rigid parts by sequential RANSAC
  (``correspondence.group_matches``); the largest part's similarity
  transform initialises X;
* dense optical flow (DIS) from the *currently warped* start image to the end
  image, both cut out on a flat background, so only the residual motion is
  left to measure (coarse to fine through the iterations), with a
  forward-backward consistency check and a visibility check;
* silhouette: vertices that left the end object are pulled back to its nearest
  pixel, outline vertices near the end outline snap onto it, and end outline
  points that no part of the warped mesh reaches pull the nearest deformed
  outline vertex (the symmetric term that lets a part stretch or swing out).

Flipped triangles are stiffened locally and the step is solved again. The
stiffness falls over the iterations (rigid alignment first, detail last).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu
from scipy.spatial import cKDTree

from ..progress import Progress
from ..render.rasterize import rasterize
from ..types import Foreground, SilhouetteMesh
from .arap_operator import TriangleGradient, closest_rotations
from .limb_search import LimbPose, find_limbs, swing_limbs
from .correspondence import Matches, dense_flow, group_matches, match_features, to_gray_u8
from .mesh_ops import face_adjacency, locate_points, signed_areas
from .silhouette_field import SilhouetteField
from .warp import sample, warp_maps


@dataclass
class RegistrationConfig:
    """Weights and schedule of the ARAP registration (per-constraint weights; ARAP is area weighted).

    Attributes:
        stiffness_start, stiffness_end: ARAP weight at the first and last iteration (geometric schedule).
        feature_weight: weight of all feature matches together, per unit of object area / mesh area.
        flow_weight: weight of one flow sample per square pixel it stands for.
        outside_weight: weight pulling a vertex that left the end object back inside.
        outline_weight: weight snapping an outline vertex onto the nearby end outline.
        coverage_weight: weight of an unreached end outline point on its nearest deformed outline vertex.
        flow_start: fraction of the iterations after which the flow term joins.
        flow_stride_px: spacing of flow samples on the start object.
        analysis_side: flow is measured with the longer image side at most this many pixels.
        sweeps: local/global sweeps per outer iteration (same data targets).
        limb_weight: weight of a swung limb's vertex targets (``limb_search``); 0 disables the search.
    """

    stiffness_start: float = 4.0
    stiffness_end: float = 0.5
    feature_weight: float = 1.0
    flow_weight: float = 0.15
    outside_weight: float = 2.0
    outline_weight: float = 1.0
    coverage_weight: float = 1.0
    flow_start: float = 0.25
    flow_stride_px: float = 3.0
    analysis_side: int = 320
    sweeps: int = 2
    limb_weight: float = 2.0


@dataclass
class Registration:
    """Result of ``register_mesh``.

    Attributes:
        positions: float64 [V, 2] registered vertex positions on the end image (pixels).
        matches: the grouped feature matches used.
        diagnostics: numbers for reports (``end_iou``, ``feature_matches``, ``flipped_triangles``, timings).
    """

    positions: np.ndarray
    matches: Matches
    diagnostics: dict = field(default_factory=dict)


def _cauchy(residual: np.ndarray, sigma: float) -> np.ndarray:
    """IRLS weights of the Cauchy (Lorentzian) robust loss."""
    return 1.0 / (1.0 + (residual / max(sigma, 1e-9)) ** 2)


def _cutout_gray(rgb: np.ndarray, alpha: np.ndarray, background: float) -> np.ndarray:
    return to_gray_u8(rgb * alpha[..., None] + background * (1.0 - alpha[..., None]))


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two bool masks of one shape (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


class _Constraints:
    """Accumulates data terms as sparse barycentric rows, targets and weights."""

    def __init__(self, vertex_count: int):
        self.n = vertex_count
        self.rows: list[sp.csr_matrix] = []
        self.targets: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []

    def add_vertices(self, index: np.ndarray, target: np.ndarray, weight: np.ndarray) -> None:
        index = np.asarray(index, dtype=np.int64)
        if len(index) == 0:
            return
        m = sp.csr_matrix((np.ones(len(index)), (np.arange(len(index)), index)), shape=(len(index), self.n))
        self.add_rows(m, target, weight)

    def add_rows(self, rows: sp.csr_matrix, target: np.ndarray, weight: np.ndarray) -> None:
        if rows.shape[0] == 0:
            return
        self.rows.append(rows)
        self.targets.append(np.asarray(target, dtype=np.float64).reshape(-1, 2))
        self.weights.append(np.broadcast_to(np.asarray(weight, dtype=np.float64), (rows.shape[0],)).copy())

    def normal_equations(self) -> tuple[sp.csr_matrix, np.ndarray]:
        if not self.rows:
            return sp.csr_matrix((self.n, self.n)), np.zeros((self.n, 2))
        c = sp.vstack(self.rows).tocsr()
        w = np.concatenate(self.weights)
        q = np.concatenate(self.targets)
        cw = c.T @ sp.diags(w)
        return (cw @ c).tocsr(), cw @ q


def _barycentric_rows(faces: np.ndarray, face_of: np.ndarray, bary: np.ndarray, n: int) -> sp.csr_matrix:
    m = len(face_of)
    return sp.csr_matrix((bary.ravel(), (np.repeat(np.arange(m), 3), faces[face_of].ravel())), shape=(m, n))


def _initial_positions(rest: np.ndarray, start_mask: np.ndarray, end_mask: np.ndarray, matches: Matches) -> np.ndarray:
    """Largest rigid part's similarity transform, else matching mask centroids and sizes."""
    if len(matches.models):
        m = matches.models[0]
        return rest @ m[:, :2].T + m[:, 2]
    def moments(mask):
        r, c = np.nonzero(mask)
        return np.array([c.mean() + 0.5, r.mean() + 0.5]), np.sqrt(len(r))
    c0, s0 = moments(start_mask)
    c1, s1 = moments(end_mask)
    return (rest - c0) * (s1 / s0) + c1


def register_mesh(mesh: SilhouetteMesh, start: Foreground, end: Foreground, iterations: int = 20,
                  progress: Progress | None = None, config: RegistrationConfig | None = None,
                  seed: int = 0) -> Registration:
    """Register the start silhouette mesh onto the end image (ARAP + features + flow + silhouette).

    Args:
        mesh: the start object's ``SilhouetteMesh`` (pixels of the start image).
        start, end: ``Foreground`` of the start and end images at the working resolution
            (sizes may differ; positions are in each image's own pixels).
        iterations: outer iterations (``QualityPreset.registration_iterations``).
        progress: reports the fraction done every iteration; raises ``Cancelled``
            (propagated) when the job is cancelled.
        config: weights and schedule; defaults to ``RegistrationConfig()``.
        seed: random seed of the RANSAC grouping.

    Returns:
        ``Registration`` with positions float64 [V, 2] in end-image pixels.

    Method: see the module docstring.
    """
    cfg = config or RegistrationConfig()
    t_start = time.perf_counter()
    timings: dict[str, float] = {}

    def tick(name: str, t0: float) -> float:
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + (now - t0)
        return now

    def report(fraction: float) -> None:
        if progress is not None:
            progress.update(fraction, "registering the start shape onto the end image")

    report(0.0)
    rest = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.faces, dtype=np.int64)
    n = len(rest)
    h0, w0 = start.mask.shape
    h1, w1 = end.mask.shape
    size = float(np.sqrt(max(start.mask.sum(), 1)))
    t0 = time.perf_counter()

    # --- correspondences --------------------------------------------------
    ps, pe = match_features(start.rgb, start.mask, end.rgb, end.mask)
    matches = group_matches(ps, pe, threshold_px=max(2.0, 0.015 * size), seed=seed)
    report(0.05)
    rest_raster = rasterize(rest, faces, w0, h0)
    f_face, f_bary = locate_points(matches.start, rest, faces, rest_raster.face_id, search_px=2)
    keep = f_face >= 0
    feat_rows = _barycentric_rows(faces, f_face[keep], f_bary[keep], n)
    feat_target = matches.end[keep]
    t0 = tick("features", t0)

    # Flow samples: fixed material points on a grid over the start object.
    stride = cfg.flow_stride_px
    gy, gx = np.mgrid[stride / 2:h0:stride, stride / 2:w0:stride]
    grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
    s_face, s_bary = locate_points(grid, rest, faces, rest_raster.face_id, search_px=0)
    on = s_face >= 0
    flow_rest = grid[on]
    flow_rows = _barycentric_rows(faces, s_face[on], s_bary[on], n)

    field_end = SilhouetteField(end.mask)
    end_outline, _ = field_end.outline_samples(max(2.0, 0.5 * _mean_edge(rest, faces)))
    boundary = np.asarray(mesh.boundary, dtype=np.int64)
    grad = TriangleGradient(rest, faces)
    adjacency = face_adjacency(faces)
    face_stiff = np.ones(len(faces))
    analysis = min(1.0, cfg.analysis_side / max(h1, w1))
    bg_level = 0.0 if float(to_gray_u8(start.rgb)[start.mask].mean()) > 127 else 1.0
    end_cut = _cutout_gray(end.rgb, end.alpha * end.mask, bg_level)
    end_cut_small = cv2.resize(end_cut, None, fx=analysis, fy=analysis, interpolation=cv2.INTER_AREA) \
        if analysis < 1.0 else end_cut
    start_rgb = np.ascontiguousarray(start.rgb, dtype=np.float32)
    start_alpha = (start.alpha * start.mask).astype(np.float32)
    t0 = tick("setup", t0)

    limbs = find_limbs(rest, faces, start.mask) if cfg.limb_weight > 0 else []
    in_limb = np.zeros(n, bool)
    for limb in limbs:
        in_limb[limb.vertices] = True
    t0 = tick("setup", t0)

    x = _initial_positions(rest, start.mask, end.mask, matches)
    flips_fixed = 0
    flow_used = 0
    # Phase A (until `detail_from`): rigid-ish alignment on features and the outside penalty only;
    # then limbs are swung, and outline, coverage and flow terms join.
    detail_from = max(1, int(round(cfg.flow_start * iterations)))
    poses: list[LimbPose] = []
    for k in range(iterations):
        report(0.05 + 0.95 * k / iterations)
        s = k / max(iterations - 1, 1)
        detail = k >= detail_from
        if k == detail_from and limbs:
            poses = swing_limbs(limbs, x, faces, field_end)
            t0 = tick("limbs", t0)
        stiffness = cfg.stiffness_start * (cfg.stiffness_end / cfg.stiffness_start) ** s
        cons = _Constraints(n)

        # Features: all matches together weigh like feature_weight over the mesh.
        if feat_rows.shape[0]:
            r = np.linalg.norm(feat_rows @ x - feat_target, axis=1)
            sigma = max(2.0, (0.15 * (1 - s) + 0.03 * s) * size)
            w = cfg.feature_weight * (n / max(feat_rows.shape[0], 20)) * _cauchy(r, sigma)
            cons.add_rows(feat_rows, feat_target, w)

        # Silhouette: outside vertices back in; outline vertices onto the end outline.
        target_in, dist_out = field_end.nearest_inside(x, depth_px=0.5)
        # Limbs stay out of the silhouette terms until they were swung (else they get squashed first).
        free = detail | ~in_limb
        out = np.nonzero((dist_out > 0) & free)[0]
        cons.add_vertices(out, target_in[out], cfg.outside_weight * (0.5 + s))
        bx = x[boundary]
        target_b, dist_b, _ = field_end.nearest_outline(bx)
        gate = max(2.0, (0.08 * (1 - s) + 0.02 * s) * size) if detail else 2.0
        near = (dist_b < gate) & free[boundary]
        cons.add_vertices(boundary[near], target_b[near], cfg.outline_weight * _cauchy(dist_b[near], gate))

        # Coverage: end outline points no deformed outline vertex reaches pull the nearest one.
        if detail:
            tree = cKDTree(bx)
            d_c, j_c = tree.query(end_outline)
            far = d_c > max(1.5, 0.01 * size)
            if far.any():
                w = cfg.coverage_weight * (0.5 + 0.5 * s) * _cauchy(d_c[far], 0.15 * size)
                cons.add_vertices(boundary[j_c[far]], end_outline[far], w)
        t0 = tick("silhouette", t0)

        # Swung limbs: targets fade out as the flow and silhouette terms take over.
        if poses:
            fade = 1.0 - (k - detail_from) / max(iterations - detail_from, 1)
            for pose in poses:
                cons.add_vertices(pose.limb.vertices, pose.targets, cfg.limb_weight * fade)

        # Dense flow from the current warp to the end image.
        if detail and len(flow_rest):
            targets, weights = _flow_targets(x, rest, faces, flow_rows, flow_rest, start_rgb, start_alpha,
                                             end_cut_small, bg_level, analysis, (w1, h1), size, s)
            if len(targets):
                flow_used = int((weights > 0).sum())
                cons.add_rows(flow_rows, targets, cfg.flow_weight * stride * stride * weights)
            t0 = tick("flow", t0)

        # Global step(s) with a weak pull to the current positions (keeps parts without data in place).
        data_a, data_b = cons.normal_equations()
        prox = 1e-3
        for attempt in range(3):
            lap = grad.laplacian(face_stiff)
            a = (stiffness * lap + data_a + sp.diags(np.full(n, prox))).tocsc()
            lu = splu(a)
            xk = x
            for _ in range(cfg.sweeps):
                rot, _ = closest_rotations(grad.jacobians(xk))
                b = stiffness * grad.rhs(rot, face_stiff) + data_b + prox * x
                xk = lu.solve(b)
            flipped = signed_areas(xk, faces) <= 0
            if not flipped.any() or attempt == 2:
                break
            # Stiffen the flipped triangles and their neighbours, then solve the step again.
            bump = np.zeros(len(faces), bool)
            bump[flipped] = True
            sel = flipped[adjacency[:, 0]] | flipped[adjacency[:, 1]]
            bump[adjacency[sel].ravel()] = True
            face_stiff[bump] *= 4.0
            flips_fixed += int(flipped.sum())
        x = xk
        face_stiff = np.maximum(1.0, face_stiff * 0.85)
        t0 = tick("solve", t0)

    report(1.0)
    end_raster = rasterize(x, faces, w1, h1)
    diagnostics = {
        "end_iou": mask_iou(end_raster.mask, end.mask),
        "feature_matches": int(len(matches)),
        "feature_groups": int(len(matches.models)),
        "flow_samples": flow_used,
        "limbs_found": len(limbs),
        "limbs_swung": [round(p.angle_deg, 1) for p in poses],
        "flipped_triangles": int((signed_areas(x, faces) <= 0).sum()),
        "flip_repairs": flips_fixed,
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
        "registration_s": round(time.perf_counter() - t_start, 4),
    }
    return Registration(positions=x, matches=matches, diagnostics=diagnostics)


def _mean_edge(vertices: np.ndarray, faces: np.ndarray) -> float:
    e = vertices[faces[:, [1, 2, 0]]] - vertices[faces]
    return float(np.linalg.norm(e, axis=2).mean())


def _flow_targets(x, rest, faces, flow_rows, flow_rest, start_rgb, start_alpha, end_cut_small, bg_level,
                  analysis, end_size, size, s):
    """Targets and reliability weights [M] for the flow samples (0 = unreliable)."""
    w1, h1 = end_size
    maps = warp_maps(x, faces, np.concatenate([rest, np.ones((len(rest), 1))], axis=1), w1, h1, scale=analysis)
    src = maps.attributes[..., :2]
    warped_rgb = cv2.remap(start_rgb, src[..., 0] - 0.5, src[..., 1] - 0.5, cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_REPLICATE)
    warped_a = cv2.remap(start_alpha, src[..., 0] - 0.5, src[..., 1] - 0.5, cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT) * maps.coverage
    warped_cut = _cutout_gray(warped_rgb, warped_a, bg_level)
    if analysis < 1.0:
        warped_cut = cv2.resize(warped_cut, (end_cut_small.shape[1], end_cut_small.shape[0]),
                                interpolation=cv2.INTER_AREA)
    flow, reliable = dense_flow(warped_cut, end_cut_small, preset="medium")
    y = flow_rows @ x  # current positions of the samples
    ys = y * analysis
    f = sample(flow, ys) / analysis
    ok = sample(reliable.astype(np.float32), ys) > 0.99
    # Visible here: the warp at y really shows this sample (not another part folded over it).
    seen = sample(src, y)
    ok &= np.linalg.norm(seen - flow_rest, axis=1) < 1.5
    mag = np.linalg.norm(f, axis=1)
    sigma = max(1.5, (0.05 * (1 - s) + 0.02 * s) * size)
    weights = np.where(ok, _cauchy(mag, sigma), 0.0)
    return y + f, weights
