"""Lift the 2D in-between motion onto the inflated 3D shape (weight-free motion engine).

Every 3D vertex stands on a 2D mesh vertex (or a fixed combination of them),
so at frame t it must lie on the camera ray through that vertex's pixel:
P_i(t) = C + D_i(t) r_i(t), with C the camera centre, r_i(t) the ray with unit
depth and D_i(t) the only unknown (depth along the viewing axis). This keeps
the reprojection of every frame exactly on the 2D result, so the silhouette
follows the 2D motion without tearing.

The depths come from an as-rigid-as-possible local/global solve (Sorkine &
Alexa, "As-Rigid-As-Possible Surface Modeling", SGP 2007, Sec. 2-3) whose
per-vertex reference deformation is taken from the 2D motion instead of the
identity: around vertex i the rest edges e_ij should become R_i A_i e_ij,
where A_i keeps the one-ring's in-plane 2D affine map F_i (fitted to the
pixel edges) and scales depth by the cross-section scale c_i (see
``cross_section``), and R_i is the best-fit rotation of the local step. So a
region that shrinks in 2D shrinks in depth too instead of bulging out of the
image plane to keep its edge lengths (pure ARAP would "crumple" a retracting
telescope), a uniform 2D scale s scales depth by s, and a tube stretched along
its axis keeps its thickness. A weak prior pulls each depth toward a
reference (the rest profile scaled by c_i for keyframes, the blend of the two
bounding keyframes for in-between frames): it fixes the otherwise free depth
of each part and is the temporal smoothness term.

Order, after In-2-4D (Nag, Cohen-Or, Zhang & Mahdavi-Amiri, 2025,
arXiv:2504.08366: hierarchical keyframes, motion fragments between them,
boundary deformation fields interpolated): keyframes are solved first, then
the frames of each segment between two keyframes, warm-started from the blend
of the segment's two boundary solutions, the weight-free form of blending
deformation fields at segment boundaries.

Numerics: the local rotations (near identity, since A_i already carries the
2D rotation) use the warm-started iterative extraction of Müller et al.
(MIG 2016); the global step is a sparse SPD system whose matrix depends on the
frame only through the rays, so one sparse LU preconditions conjugate
gradients for every frame (2-3 steps each).
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg, splu

from ...geometry3d.mesh_ops import edge_weights
from ...geometry3d.quaternions import extract_rotations, matrix_from_quats
from ...progress import Progress, null_progress
from ...types import InputView, Motion2D, Motion3D, Shape3D, SilhouetteMesh
from .cross_section import cross_section_metric

KEYFRAME_ITERATIONS = 8
INBETWEEN_ITERATIONS = 2
KEYFRAME_PRIOR = 0.02      # pull toward the scaled rest profile, relative to the rigidity term
INBETWEEN_PRIOR = 0.05     # pull toward the keyframe blend (temporal smoothness)
SCALE_RANGE = (0.25, 2.0)  # clamp of the cross-section (depth) scale: beyond it the 2D motion is
                           # more likely a registration slip than a real change of thickness
SCALE_SMOOTHING = 2        # one-ring averaging passes over the depth scales
FIRST_FIT_STEPS = 6        # rotation-fit steps in a frame's first local step
FIT_STEPS = 3              # in later local steps (warm-started from the previous one)


def _factorize(a: sp.csc_matrix):
    # The matrix is symmetric positive definite: symmetric mode keeps the fill-in small.
    return splu(a, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options={"SymmetricMode": True})


class GuidedArapDepthSolver:
    """ARAP depth solve on camera rays, with per-vertex reference deformations from the 2D motion.

    Args:
        rest: float [V3, 3] rest vertices (world metres).
        faces: int [F3, 3] the closed surface.
        camera: the input camera (``backend.asset.Camera``: centre and axes).
        rest_pix: float [V3, 2] rest pixel positions of the vertices.
        metric: float [V3, 2, 2] cross-section tensors (``cross_section_metric``).

    Per frame: ``guides(pix)`` gives the reference deformations A_i and depth
    scales c_i, then ``solve(rays, guide, ...)`` the depths.
    """

    def __init__(self, rest: np.ndarray, faces: np.ndarray, camera, rest_pix: np.ndarray, metric: np.ndarray):
        self.rest = np.asarray(rest, dtype=np.float64)
        self.n = len(self.rest)
        m = np.asarray(camera.matrix_world, dtype=np.float64)
        self.centre = m[:3, 3].copy()
        # World basis (image right, image up, viewing direction): 2D maps act on the first two.
        self.basis = np.stack([m[:3, 0], m[:3, 1], -m[:3, 2]], axis=1)
        edges, w = edge_weights(self.rest, faces)
        mean = max(np.abs(w).mean(), 1e-12)
        self.w = np.clip(w, 0.05 * mean, 20.0 * mean)
        self.i, self.j = edges[:, 0], edges[:, 1]
        self.e_rest = self.rest[self.i] - self.rest[self.j]  # [E, 3]
        e_count = len(edges)
        # Vertex-edge incidence (unsigned): per-edge outer products add to both ends (signs cancel).
        self.incidence = sp.csr_matrix(
            (np.ones(2 * e_count), (np.concatenate([self.i, self.j]), np.tile(np.arange(e_count), 2))),
            shape=(self.n, e_count))
        self.rows = np.concatenate([self.i, self.j, self.i, self.j, np.arange(self.n)])
        self.cols = np.concatenate([self.i, self.j, self.j, self.i, np.arange(self.n)])
        # Prior weights on the scale of each vertex's rigidity diagonal (unit rays).
        self.stiffness = self.incidence @ self.w
        adj = sp.csr_matrix((np.ones(2 * e_count), (np.concatenate([self.i, self.j]), np.concatenate([self.j, self.i]))),
                            shape=(self.n, self.n))
        self.adjacency = sp.diags(1.0 / np.maximum(np.asarray(adj.sum(axis=1)).ravel(), 1.0)) @ adj  # neighbour mean
        rest_pix = np.asarray(rest_pix, dtype=np.float64)
        self.e0_pix = (rest_pix[self.i] - rest_pix[self.j]) * np.array([1.0, -1.0])  # (u, -v): right, up
        e0 = self.e0_pix
        gram = self.incidence @ (self.w[:, None, None] * e0[:, :, None] * e0[:, None, :]).reshape(-1, 4)
        self.gram_inv = np.linalg.inv(gram.reshape(-1, 2, 2) + 1e-9 * np.eye(2))
        flip = np.diag([1.0, -1.0])
        self.metric = flip @ np.asarray(metric, dtype=np.float64) @ flip  # into (u, -v) axes
        self.quats = np.tile([1.0, 0.0, 0.0, 0.0], (self.n, 1))  # warm start of the rotation fits
        self._factors: dict[float, object] = {}

    def guides(self, pix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reference deformations of one frame.

        Args:
            pix: float [V3, 2] the vertices' pixel positions at this frame.

        Returns:
            (A float64 [V3, 3, 3] world-space maps: the one-ring's least-squares
            2D affine map in the image plane, depth scaled by c;
            c float64 [V3] cross-section scales sqrt(tr(M F^T F)), clamped to
            ``SCALE_RANGE`` and smoothed over one-rings).
        """
        e1 = (pix[self.i] - pix[self.j]) * np.array([1.0, -1.0])
        cross = self.incidence @ (self.w[:, None, None] * e1[:, :, None] * self.e0_pix[:, None, :]).reshape(-1, 4)
        f2 = cross.reshape(-1, 2, 2) @ self.gram_inv  # [V3, 2, 2] in (right, up) axes
        ftf = f2.transpose(0, 2, 1) @ f2
        c = np.sqrt(np.maximum(np.einsum("nij,nji->n", self.metric, ftf), 0.0))
        c = np.clip(c, *SCALE_RANGE)
        for _ in range(SCALE_SMOOTHING):
            c = 0.5 * c + 0.5 * (self.adjacency @ c)
        local = np.zeros((self.n, 3, 3))
        local[:, :2, :2] = f2
        local[:, 2, 2] = c
        return self.basis @ local @ self.basis.T, c

    def _preconditioner(self, a: sp.csc_matrix, prior_weight: float) -> LinearOperator:
        # The system changes with the frame only through the rays, which move
        # little: one factorisation preconditions every frame's conjugate
        # gradients to convergence in a few steps.
        if prior_weight not in self._factors:
            self._factors[prior_weight] = _factorize(a)
        return LinearOperator(a.shape, self._factors[prior_weight].solve)

    def _solve_linear(self, a: sp.csc_matrix, b: np.ndarray, x0: np.ndarray, precond: LinearOperator) -> np.ndarray:
        x, info = cg(a, b, x0=x0, M=precond, rtol=1e-10, maxiter=60)
        if info != 0:
            x = _factorize(a).solve(b)
        return x

    def positions(self, rays: np.ndarray, depth: np.ndarray) -> np.ndarray:
        """World points [V3, 3] at ``depth`` [V3] along ``rays`` [V3, 3]."""
        return self.centre + depth[:, None] * rays

    def local_step(self, current: np.ndarray, guide: np.ndarray, iterations: int = FIT_STEPS) -> np.ndarray:
        """Best-fit rotations [V3, 3, 3]: R_i maximises tr(R^T sum_j w_ij e'_ij (A_i e_ij)^T)."""
        e_cur = current[self.i] - current[self.j]
        cov = (self.w[:, None, None] * e_cur[:, :, None] * self.e_rest[:, None, :]).reshape(-1, 9)
        a_mat = (self.incidence @ cov).reshape(-1, 3, 3) @ guide.transpose(0, 2, 1)
        self.quats = extract_rotations(a_mat, self.quats, iterations)
        return matrix_from_quats(self.quats)

    def solve(self, rays: np.ndarray, guide: np.ndarray, depth_init: np.ndarray, depth_prior: np.ndarray,
              prior_weight: float, iterations: int) -> tuple[np.ndarray, float]:
        """Local/global iterations for one frame.

        Args:
            rays: float [V3, 3] world ray directions with unit depth component.
            guide: float [V3, 3, 3] reference deformations A_i (``guides``).
            depth_init: float [V3] starting depths (metres along the viewing axis).
            depth_prior: float [V3] reference depths of the weak prior.
            prior_weight: prior strength relative to the rigidity term.
            iterations: local/global rounds.

        Returns:
            (depths float64 [V3], relative ARAP residual of the last round).
        """
        ri, rj = rays[self.i], rays[self.j]
        w = self.w
        diag_prior = prior_weight * self.stiffness
        vals = np.concatenate([w * (ri * ri).sum(1), w * (rj * rj).sum(1), -w * (ri * rj).sum(1),
                               -w * (ri * rj).sum(1), diag_prior])
        a = sp.csc_matrix((vals, (self.rows, self.cols)), shape=(self.n, self.n))
        precond = self._preconditioner(a, prior_weight)
        depth = np.asarray(depth_init, dtype=np.float64).copy()
        self.quats = np.tile([1.0, 0.0, 0.0, 0.0], (self.n, 1))  # A_i carries the 2D rotation already
        residual = 0.0
        for it in range(max(1, iterations)):
            rot = self.local_step(self.positions(rays, depth), guide, FIRST_FIT_STEPS if it == 0 else FIT_STEPS)
            ra = rot @ guide
            target = 0.5 * np.einsum("eab,eb->ea", ra[self.i] + ra[self.j], self.e_rest)  # [E, 3]
            b = np.bincount(self.i, weights=w * (ri * target).sum(1), minlength=self.n)
            b -= np.bincount(self.j, weights=w * (rj * target).sum(1), minlength=self.n)
            b += diag_prior * depth_prior
            depth = self._solve_linear(a, b, depth, precond)
            p = self.positions(rays, depth)
            err = (p[self.i] - p[self.j]) - target
            residual = float(np.sqrt((w * (err ** 2).sum(1)).sum() / max((w * (target ** 2).sum(1)).sum(), 1e-18)))
        return depth, residual


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
        ``lift_residual_max`` (relative ARAP residual), ``lift_depth_scale_min``,
        ``lift_depth_scale_max`` (range of the cross-section scales c at the
        keyframes), ``lift_seconds``.

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
    weights = shape.pixel_weights_for(mesh)
    rest = np.asarray(shape.vertices, dtype=np.float64)
    cam = view.camera_work
    centre = cam.position
    axis = np.asarray(cam.matrix_world, dtype=np.float64)[:3, 2] * -1.0
    rest_depth = (rest - centre) @ axis
    rest_pix = weights @ rest2d
    faces = np.asarray(shape.faces, dtype=np.int64)

    def rays_at(pix: np.ndarray) -> np.ndarray:
        return cam.unproject(pix, np.ones(len(pix))) - centre

    offset = rest_depth - view.plane_depth  # rest depth offset from the object plane
    metric = cross_section_metric(rest_pix, np.abs(offset), faces)
    solver = GuidedArapDepthSolver(rest, faces, cam, rest_pix, metric)
    depths = np.zeros((frame_count, len(rest)))
    depths[0] = rest_depth
    done = np.zeros(frame_count, bool)
    done[0] = True
    diag = {"lift_residual_max": 0.0, "lift_depth_scale_min": 1.0, "lift_depth_scale_max": 1.0}
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
    for k in keys:
        if done[k]:
            continue
        pix = pixels(k)
        guide, scale = solver.guides(pix)
        diag["lift_depth_scale_min"] = min(diag["lift_depth_scale_min"], float(scale.min()))
        diag["lift_depth_scale_max"] = max(diag["lift_depth_scale_max"], float(scale.max()))
        prior = view.plane_depth + scale * offset
        depths[k], res = solver.solve(rays_at(pix), guide, prior, prior, KEYFRAME_PRIOR, KEYFRAME_ITERATIONS)
        diag["lift_residual_max"] = max(diag["lift_residual_max"], res)
        done[k] = True
        report(k)
    for ka, kb in zip(keys[:-1], keys[1:]):
        for t in range(ka + 1, kb):
            alpha = (t - ka) / (kb - ka)
            blend = (1.0 - alpha) * depths[ka] + alpha * depths[kb]
            pix = pixels(t)
            guide, _ = solver.guides(pix)
            depths[t], res = solver.solve(rays_at(pix), guide, blend, blend, INBETWEEN_PRIOR, INBETWEEN_ITERATIONS)
            diag["lift_residual_max"] = max(diag["lift_residual_max"], res)
            report(t)
            pix_cache.pop(t, None)

    out = np.empty((frame_count, len(rest), 3))
    out[0] = rest
    for t in range(1, frame_count):
        out[t] = solver.positions(rays_at(pixels(t)), depths[t])
    diag["lift_seconds"] = round(time.perf_counter() - t0, 3)
    return Motion3D(vertices=out, diagnostics=diag)
