"""Animate engine "drag" (weight-free): drag arrows and pins -> an ARAP end state -> a 2D motion.

1. Each drag arrow's start and each pin is located in the silhouette mesh
   (its triangle and barycentric coordinates); the end state is the
   as-rigid-as-possible deformation of the mesh that carries every drag
   start to its target and keeps every pin: the triangle ARAP energy
   sum_t A_t ||J_t - R_t||_F^2 (Liu et al., SGP 2008, Sec. 3; Sorkine and
   Alexa, SGP 2007) plus ``HANDLE_WEIGHT`` times the squared handle
   residuals, minimised by local/global iterations with one sparse LU
   factorisation (Igarashi, Moscovich and Hughes, "As-Rigid-As-Possible
   Shape Manipulation", SIGGRAPH 2005, is the same interaction);
2. the frames between the image and that end state are the ARAP shape
   interpolation of the two-image mode (Alexa, Cohen-Or and Levin, SIGGRAPH
   2000; ``backend.geometry2d.arap_interpolate``), eased in and out.

The pipeline then lifts this ``Motion2D`` with the two-image keyframes and
motion stages (objects) or at constant depth (a scene's layers).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ...geometry2d.arap_interpolation import arap_interpolate
from ...geometry2d.arap_operator import TriangleGradient, closest_rotations
from ...geometry2d.mesh_ops import barycentric
from ...render.rasterize import rasterize
from ...types import Motion2D, SilhouetteMesh

HANDLE_WEIGHT = 1e4
REST_WEIGHT = 1e-6
ITERATIONS = 60


def locate_handles(mesh: SilhouetteMesh, points: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Triangle and barycentric coordinates of working-pixel points [K, 2] on the mesh (nearest covered pixel)."""
    w, h = size
    raster = rasterize(mesh.vertices, mesh.faces, w, h)
    covered = np.argwhere(raster.face_id >= 0)
    faces = np.empty(len(points), np.int64)
    for i, (u, v) in enumerate(points):
        r, c = int(np.clip(math.floor(v), 0, h - 1)), int(np.clip(math.floor(u), 0, w - 1))
        if raster.face_id[r, c] < 0:
            j = np.argmin(((covered - [r, c]) ** 2).sum(1))
            r, c = covered[j]
        faces[i] = raster.face_id[r, c]
    tri = mesh.vertices[mesh.faces[faces]]
    bary = np.clip(barycentric(np.asarray(points, float), tri), 0.0, 1.0)
    bary /= bary.sum(1, keepdims=True)
    return faces, bary


def arap_deform(mesh: SilhouetteMesh, handle_faces: np.ndarray, handle_bary: np.ndarray, targets: np.ndarray,
                iterations: int = ITERATIONS) -> np.ndarray:
    """As-rigid-as-possible deformation of a 2D mesh with point handles (module docstring, step 1).

    Args:
        mesh: the rest mesh (vertices [V, 2] working pixels).
        handle_faces: int [K] triangle of each handle.
        handle_bary: float [K, 3] its barycentric coordinates.
        targets: float [K, 2] where each handle must go (pins: their rest position).
        iterations: local/global iterations.

    Returns:
        float64 [V, 2] deformed vertex positions.
    """
    rest = np.asarray(mesh.vertices, np.float64)
    faces = np.asarray(mesh.faces, np.int64)
    n = len(rest)
    grad = TriangleGradient(rest, faces)
    lap = grad.laplacian()
    k = len(handle_faces)
    rows = np.repeat(np.arange(k), 3)
    b = sp.csr_matrix((np.asarray(handle_bary, float).ravel(), (rows, faces[handle_faces].ravel())), shape=(k, n))
    scale = grad.areas.sum() / n
    w_h = HANDLE_WEIGHT * scale
    w_r = REST_WEIGHT * scale
    system = (lap + w_h * (b.T @ b) + w_r * sp.identity(n)).tocsc()
    lu = spla.splu(system)
    const = w_h * (b.T @ np.asarray(targets, float)) + w_r * rest
    x = lu.solve(grad.rhs(np.tile(np.eye(2), (len(faces), 1, 1))) + const)
    for _ in range(iterations):
        rot, _ = closest_rotations(grad.jacobians(x))
        x_new = lu.solve(grad.rhs(rot) + const)
        if np.abs(x_new - x).max() < 1e-4:
            x = x_new
            break
        x = x_new
    return x


def ease(frames: int) -> np.ndarray:
    """float64 [T] interpolation times 0..1 with zero velocity at both ends (smoothstep)."""
    s = np.linspace(0.0, 1.0, frames)
    return s * s * (3 - 2 * s)


def drag_motion2d(mesh: SilhouetteMesh, drags_work: np.ndarray, pins_work: np.ndarray, size: tuple[int, int],
                  frames: int) -> tuple[Motion2D, dict]:
    """The 2D motion from the image to the dragged end state.

    Args:
        mesh: the silhouette mesh (working pixels).
        drags_work: float [K, 4] drag arrows in working pixels.
        pins_work: float [P, 2] pins in working pixels.
        size: working (width, height).
        frames: T.

    Returns:
        (``Motion2D`` trajectories [T, V, 2] from the rest mesh to the end
        state, diagnostics: the handles' end residuals in working pixels).
    """
    drags_work = np.asarray(drags_work, float).reshape(-1, 4)
    pins_work = np.asarray(pins_work, float).reshape(-1, 2)
    points = np.concatenate([drags_work[:, :2], pins_work])
    targets = np.concatenate([drags_work[:, 2:], pins_work])
    faces, bary = locate_handles(mesh, points, size)
    # the handle's own rest point (it may have snapped onto the mesh) keeps its offset to the target
    rest_points = np.einsum("kc,kcd->kd", bary, mesh.vertices[mesh.faces[faces]])
    targets = targets + (rest_points - points)
    end = arap_deform(mesh, faces, bary, targets)
    traj = arap_interpolate(mesh.vertices, end, mesh.faces, ease(frames))
    reached = np.einsum("kc,kcd->kd", bary, end[mesh.faces[faces]])
    res = np.linalg.norm(reached - targets, axis=1)
    diag = {"drag_residual_px": float(res[:len(drags_work)].max()) if len(drags_work) else 0.0,
            "pin_residual_px": float(res[len(drags_work):].max()) if len(pins_work) else 0.0}
    return Motion2D(trajectories=traj, diagnostics=diag), {"faces": faces, "bary": bary, "targets": targets}


__all__ = ["arap_deform", "drag_motion2d", "ease", "locate_handles"]
