"""Lift the 2D in-between motion onto the inflated 3D shape (weight-free motion engine).

Every 3D vertex stands on a 2D mesh vertex (or a fixed combination of them),
so at frame t it must lie on the camera ray through that vertex's pixel:
P_i(t) = C + D_i(t) r_i(t), with C the camera centre, r_i(t) the ray with unit
depth and D_i(t) the only unknown (depth along the viewing axis). This keeps
the reprojection of every frame exactly on the 2D result, so the silhouette
follows the 2D motion without tearing.

The depths come from an as-similar-as-possible local/global solve: the
ARAP energy of Sorkine & Alexa, "As-Rigid-As-Possible Surface Modeling" (SGP
2007), Sec. 2-3, with each vertex's best-fit rotation R_i extended to a
similarity s_i R_i (uniform scale, the ASAP variant of Liu et al., "A
Local/Global Approach to Mesh Parameterization", SGP 2008, Sec. 4). With pure
rotations a region that shrinks in 2D (a telescope retracting) would bulge
out of plane to keep its edge lengths; with the per-vertex scale it shrinks
in depth too. A weak prior pulls each depth toward a reference (the rest
profile scaled by the local 2D scale for keyframes, the blend of the two
bounding keyframes for in-between frames), which fixes the otherwise free
depth of each part and acts as the temporal smoothness term.

Order, after In-2-4D (Cai et al., 2025, Sec. 3, keyframes and segments):
keyframes are solved first, then the frames of each segment between two
keyframes, warm-started from the blend of the segment's two boundary
solutions, the weight-free form of blending deformation fields at segment
boundaries.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ...gaussians.quaternions import extract_rotations, matrix_from_quats
from ...progress import Progress, null_progress
from ...types import Motion2D, Motion3D, Shape3D, SilhouetteMesh
from ..geometry.camera_setup import InputView
from ..geometry.inflate import surface_pixel_weights
from ..geometry.mesh_ops import edge_weights, face_areas

KEYFRAME_ITERATIONS = 8
INBETWEEN_ITERATIONS = 2
KEYFRAME_PRIOR = 0.02      # pull toward the scaled rest profile, relative to the rigidity term
INBETWEEN_PRIOR = 0.05     # pull toward the keyframe blend (temporal smoothness)
SCALE_RANGE = (0.2, 5.0)


class AsapDepthSolver:
    """As-similar-as-possible depth solve on fixed camera rays for one shape.

    Args:
        rest: float [V3, 3] rest vertices (world metres).
        faces: int [F3, 3] the closed surface.
        camera_centre: float [3] world position of the input camera.
        depth_axis: float [3] unit viewing direction of the camera (world).

    Call ``solve(rays, depth_init, depth_prior, prior_weight, iterations)``
    per frame.
    """

    def __init__(self, rest: np.ndarray, faces: np.ndarray, camera_centre: np.ndarray, depth_axis: np.ndarray):
        self.rest = np.asarray(rest, dtype=np.float64)
        self.n = len(self.rest)
        self.centre = np.asarray(camera_centre, dtype=np.float64)
        self.axis = np.asarray(depth_axis, dtype=np.float64)
        edges, w = edge_weights(self.rest, faces)
        mean = max(np.abs(w).mean(), 1e-12)
        self.w = np.clip(w, 0.05 * mean, 20.0 * mean)
        self.i, self.j = edges[:, 0], edges[:, 1]
        self.e_rest = self.rest[self.i] - self.rest[self.j]  # [E, 3]
        e_count = len(edges)
        # Vertex-edge incidence (unsigned) for summing per-edge 3x3 covariances to both ends.
        self.incidence = sp.csr_matrix(
            (np.ones(2 * e_count), (np.concatenate([self.i, self.j]), np.tile(np.arange(e_count), 2))),
            shape=(self.n, e_count))
        self.rest_norm = self.incidence @ (self.w * (self.e_rest ** 2).sum(axis=1))
        self.rows = np.concatenate([self.i, self.j, self.i, self.j, np.arange(self.n)])
        self.cols = np.concatenate([self.i, self.j, self.j, self.i, np.arange(self.n)])
        # Prior weights on the scale of each vertex's rigidity diagonal (unit rays).
        self.stiffness = self.incidence @ self.w
        self.quats = np.tile([1.0, 0.0, 0.0, 0.0], (self.n, 1))  # warm start of the rotation fits

    def positions(self, rays: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """World points [V3, 3] at ``depth`` [V3] along ``rays`` [V3, 3]."""
        return self.centre + depth[:, None] * rays

    def local_step(self, current: np.ndarray, iterations: int = 4) -> tuple[np.ndarray, np.ndarray]:
        """Best-fit similarity per vertex: (rotations [V3, 3, 3], scales [V3]).

        R_i maximises tr(R^T A_i) with A_i = sum_j w_ij e'_ij e_ij^T (current
        times rest edges), warm-started from the previous call's rotations;
        s_i = tr(R_i^T A_i) / sum_j w_ij |e_ij|^2.
        """
        e_cur = current[self.i] - current[self.j]
        cov = (self.w[:, None, None] * e_cur[:, :, None] * self.e_rest[:, None, :]).reshape(-1, 9)
        a_mat = (self.incidence @ cov).reshape(-1, 3, 3)
        self.quats = extract_rotations(a_mat, self.quats, iterations)
        rot = matrix_from_quats(self.quats)
        trace = np.einsum("nab,nab->n", rot, a_mat)
        scale = np.clip(trace / np.maximum(self.rest_norm, 1e-18), *SCALE_RANGE)
        return rot, scale

    def solve(self, rays: np.ndarray, depth_init: np.ndarray, depth_prior: np.ndarray, prior_weight: float,
              iterations: int, quats_init: np.ndarray | None = None) -> tuple[np.ndarray, float]:
        """Local/global iterations for one frame.

        Args:
            rays: float [V3, 3] world ray directions with unit depth component.
            depth_init: float [V3] starting depths (metres along the viewing axis).
            depth_prior: float [V3] reference depths of the weak prior.
            prior_weight: prior strength relative to the rigidity term.
            iterations: local/global rounds.
            quats_init: optional [V3, 4] starting rotations of the local fits
                (otherwise those of the previous call).

        Returns:
            (depths float64 [V3], relative ASAP residual of the last round).
        """
        ri, rj = rays[self.i], rays[self.j]
        w = self.w
        diag_prior = prior_weight * self.stiffness
        vals = np.concatenate([w * (ri * ri).sum(1), w * (rj * rj).sum(1), -w * (ri * rj).sum(1),
                               -w * (ri * rj).sum(1), diag_prior])
        a = sp.csc_matrix((vals, (self.rows, self.cols)), shape=(self.n, self.n))
        # The matrix is symmetric positive definite: symmetric mode keeps the fill-in small.
        lu = splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})
        depth = np.asarray(depth_init, dtype=np.float64).copy()
        if quats_init is not None:
            self.quats = np.asarray(quats_init, dtype=np.float64).copy()
        residual = 0.0
        for _ in range(max(1, iterations)):
            rot, scale = self.local_step(self.positions(rays, depth))
            sr = scale[:, None, None] * rot
            target = 0.5 * np.einsum("eab,eb->ea", sr[self.i] + sr[self.j], self.e_rest)  # [E, 3]
            b = np.bincount(self.i, weights=w * (ri * target).sum(1), minlength=self.n)
            b -= np.bincount(self.j, weights=w * (rj * target).sum(1), minlength=self.n)
            b += diag_prior * depth_prior
            depth = lu.solve(b)
            p = self.positions(rays, depth)
            err = (p[self.i] - p[self.j]) - target
            residual = float(np.sqrt((w * (err ** 2).sum(1)).sum() / max((w * (target ** 2).sum(1)).sum(), 1e-18)))
        return depth, residual


def _local_scales(pix: np.ndarray, rest_pix: np.ndarray, faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """Per-vertex 2D scale sqrt(area_t / area_0) of the adjacent faces, area-weighted: float [V3]."""
    a0 = face_areas(rest_pix, faces)
    at = face_areas(pix, faces)
    ratio = np.sqrt(at / np.maximum(a0, 1e-12))
    num = np.bincount(faces.ravel(), weights=np.repeat(a0 * ratio, 3), minlength=vertex_count)
    den = np.bincount(faces.ravel(), weights=np.repeat(a0, 3), minlength=vertex_count)
    return np.where(den > 0, num / np.maximum(den, 1e-18), 1.0)


def _keyframe_list(keyframes, frame_count: int) -> list[int]:
    ks = sorted({int(k) for k in keyframes if 0 <= int(k) < frame_count} | {0, frame_count - 1})
    return ks


def lift_motion(shape: Shape3D, mesh: SilhouetteMesh, motion: Motion2D, view: InputView, keyframes,
                progress: Progress | None = None) -> Motion3D:
    """Carry the 2D motion onto the 3D shape, rigidity-regularised, without tearing.

    Args:
        shape: the rest shape (``build_shape`` of ``mesh``).
        mesh: the 2D silhouette mesh the motion moves.
        motion: ``Motion2D`` with trajectories float [T, V, 2] (working pixels,
            frame 0 = the mesh's rest vertices).
        view: the input view of the same working resolution.
        keyframes: frame indices solved first (0 and T-1 are always added).
        progress: reports per frame; its ``update`` may raise ``Cancelled``,
            which propagates.

    Returns:
        ``Motion3D`` with vertices float64 [T, V3, 3] (world metres); frame 0
        is ``shape.vertices`` exactly and every vertex of every frame projects
        through ``view.camera_work`` onto its 2D trajectory. Diagnostics:
        ``lift_residual_max`` (relative ASAP residual), ``lift_scale_min``,
        ``lift_scale_max`` (2D local scale range), ``lift_seconds``.

    Raises:
        ValueError: trajectories do not match the mesh, or the shape was not
            built from it.
    """
    t0 = time.perf_counter()
    progress = progress or null_progress("motion")
    traj = np.asarray(motion.trajectories, dtype=np.float64)
    rest2d = np.asarray(mesh.vertices, dtype=np.float64)
    if traj.ndim != 3 or traj.shape[1:] != rest2d.shape:
        raise ValueError(f"trajectories must be [T, {len(rest2d)}, 2], got {traj.shape}")
    if not np.all(np.isfinite(traj)):
        raise ValueError("trajectories contain NaN or infinite values")
    if np.abs(traj[0] - rest2d).max() > 0.5:
        raise ValueError("trajectories[0] must equal the silhouette mesh's rest vertices (frame 0 is the start image)")
    frame_count = traj.shape[0]
    weights = surface_pixel_weights(shape, mesh)
    rest = np.asarray(shape.vertices, dtype=np.float64)
    cam = view.camera_work
    centre = cam.position
    axis = np.asarray(cam.matrix_world, dtype=np.float64)[:3, 2] * -1.0
    rest_depth = (rest - centre) @ axis
    rest_pix = weights @ rest2d
    faces = np.asarray(shape.faces, dtype=np.int64)

    def rays_at(pix: np.ndarray) -> np.ndarray:
        return cam.unproject(pix, np.ones(len(pix))) - centre

    solver = AsapDepthSolver(rest, faces, centre, axis)
    offset = rest_depth - view.plane_depth  # rest depth offset from the object plane
    depths = np.zeros((frame_count, len(rest)))
    depths[0] = rest_depth
    done = np.zeros(frame_count, bool)
    done[0] = True
    diag = {"lift_residual_max": 0.0, "lift_scale_min": 1.0, "lift_scale_max": 1.0}
    pix_cache: dict[int, np.ndarray] = {}

    def pixels(t: int) -> np.ndarray:
        if t not in pix_cache:
            pix_cache[t] = weights @ traj[t]
        return pix_cache[t]

    finished = 0

    def report(t: int) -> None:
        nonlocal finished
        finished += 1
        progress.update(finished / max(frame_count - 1, 1), f"lifting frame {t + 1}/{frame_count}")

    keys = _keyframe_list(keyframes, frame_count)
    key_quats = {0: solver.quats.copy()}
    for k in keys:
        if done[k]:
            continue
        pix = pixels(k)
        scale = _local_scales(pix, rest_pix, faces, len(rest))
        diag["lift_scale_min"] = min(diag["lift_scale_min"], float(scale.min()))
        diag["lift_scale_max"] = max(diag["lift_scale_max"], float(scale.max()))
        prior = view.plane_depth + scale * offset
        depths[k], res = solver.solve(rays_at(pix), prior, prior, KEYFRAME_PRIOR, KEYFRAME_ITERATIONS)
        key_quats[k] = solver.quats.copy()
        diag["lift_residual_max"] = max(diag["lift_residual_max"], res)
        done[k] = True
        report(k)
    for ka, kb in zip(keys[:-1], keys[1:]):
        for t in range(ka + 1, kb):
            alpha = (t - ka) / (kb - ka)
            blend = (1.0 - alpha) * depths[ka] + alpha * depths[kb]
            qa, qb = key_quats[ka], key_quats[kb]
            qb = np.where((qa * qb).sum(1, keepdims=True) < 0, -qb, qb)
            q_blend = (1.0 - alpha) * qa + alpha * qb  # nlerp; extract_rotations renormalises
            q_blend /= np.linalg.norm(q_blend, axis=1, keepdims=True)
            pix = pixels(t)
            depths[t], res = solver.solve(rays_at(pix), blend, blend, INBETWEEN_PRIOR, INBETWEEN_ITERATIONS, q_blend)
            diag["lift_residual_max"] = max(diag["lift_residual_max"], res)
            report(t)
            pix_cache.pop(t, None)

    out = np.empty((frame_count, len(rest), 3))
    out[0] = rest
    for t in range(1, frame_count):
        out[t] = solver.positions(rays_at(pixels(t)), depths[t])
    diag["lift_seconds"] = round(time.perf_counter() - t0, 3)
    return Motion3D(vertices=out, diagnostics=diag)
