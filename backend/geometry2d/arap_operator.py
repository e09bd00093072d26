"""The per-triangle deformation gradient operator shared by ARAP registration and interpolation.

For a triangle with rest corners p0, p1, p2 and deformed corners x0, x1, x2 the
deformation gradient (Jacobian of the piecewise-affine map) is
``J = [x1 - x0, x2 - x0] @ inv([p1 - p0, p2 - p0])``, linear in the deformed
positions. Stacking it for all triangles gives a sparse operator ``D`` with
``(D @ X)[2 t + b, a] = J_t[a, b]`` for positions ``X`` [V, 2]. The
area-weighted normal matrix ``D^T W D`` is the cotangent Laplacian, and
``sum_t area_t * ||J_t - R_t||_F^2`` is the triangle ARAP energy of Liu et al.,
"A Local/Global Approach to Mesh Parameterization" (SGP 2008), Sec. 3, the
2D form of Sorkine & Alexa, "As-Rigid-As-Possible Surface Modeling" (SGP 2007).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


class TriangleGradient:
    """Deformation gradients of a 2D triangle mesh relative to its rest shape.

    Args:
        rest: float [V, 2] rest positions (pixels).
        faces: int [F, 3] triangles (any consistent orientation).

    Attributes:
        D: scipy CSR [2F, V] gradient operator (see module docstring).
        areas: float64 [F] rest areas in square pixels (clamped above 1e-9).
        weights: float64 [2F] ``areas`` repeated per Jacobian row.
    """

    def __init__(self, rest: np.ndarray, faces: np.ndarray):
        rest = np.asarray(rest, dtype=np.float64)
        faces = np.asarray(faces, dtype=np.int64)
        self.faces = faces
        self.vertex_count = len(rest)
        p0, p1, p2 = rest[faces[:, 0]], rest[faces[:, 1]], rest[faces[:, 2]]
        e = np.stack([p1 - p0, p2 - p0], axis=2)  # [F, 2, 2], columns are rest edges
        det = e[:, 0, 0] * e[:, 1, 1] - e[:, 0, 1] * e[:, 1, 0]
        det = np.where(np.abs(det) < 1e-12, 1e-12, det)
        inv = np.empty_like(e)
        inv[:, 0, 0] = e[:, 1, 1] / det
        inv[:, 0, 1] = -e[:, 0, 1] / det
        inv[:, 1, 0] = -e[:, 1, 0] / det
        inv[:, 1, 1] = e[:, 0, 0] / det
        self.areas = np.maximum(0.5 * np.abs(det), 1e-9)
        f = len(faces)
        # J[a, b] = sum_i X[i, a] G[i, b] with G rows: x1 -> inv[0, b], x2 -> inv[1, b], x0 -> -(inv[0, b] + inv[1, b]).
        rows, cols, vals = [], [], []
        for b in range(2):
            r = 2 * np.arange(f) + b
            rows += [r, r, r]
            cols += [faces[:, 1], faces[:, 2], faces[:, 0]]
            vals += [inv[:, 0, b], inv[:, 1, b], -(inv[:, 0, b] + inv[:, 1, b])]
        self.D = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                               shape=(2 * f, self.vertex_count))
        self.weights = np.repeat(self.areas, 2)

    def jacobians(self, x: np.ndarray) -> np.ndarray:
        """float64 [F, 2, 2] deformation gradients J_t of positions ``x`` [V, 2]."""
        g = (self.D @ np.asarray(x, dtype=np.float64)).reshape(-1, 2, 2)  # [t, b, a]
        return g.transpose(0, 2, 1)

    def stack(self, matrices: np.ndarray) -> np.ndarray:
        """Lay out per-triangle 2x2 targets [F, 2, 2] as right-hand-side rows [2F, 2] matching ``D``."""
        return np.asarray(matrices, dtype=np.float64).transpose(0, 2, 1).reshape(-1, 2)

    def laplacian(self, face_weights: np.ndarray | None = None) -> sp.csr_matrix:
        """``D^T diag(w) D`` [V, V] with w = areas (times optional per-face ``face_weights`` [F])."""
        w = self.weights if face_weights is None else self.weights * np.repeat(face_weights, 2)
        return (self.D.T @ sp.diags(w) @ self.D).tocsr()

    def rhs(self, targets: np.ndarray, face_weights: np.ndarray | None = None) -> np.ndarray:
        """``D^T diag(w) stack(targets)`` [V, 2] for per-triangle target Jacobians [F, 2, 2]."""
        w = self.weights if face_weights is None else self.weights * np.repeat(face_weights, 2)
        return self.D.T @ (w[:, None] * self.stack(targets))


def closest_rotations(jacobians: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Closest rotation to each 2x2 matrix in the Frobenius norm (the ARAP local step).

    In 2D it has a closed form: the angle ``atan2(J10 - J01, J00 + J11)``
    (equivalent to the SVD/polar solution, also for reflections).

    Args:
        jacobians: float [F, 2, 2].

    Returns:
        rotations float64 [F, 2, 2] and their angles float64 [F] in radians.
    """
    j = np.asarray(jacobians, dtype=np.float64)
    theta = np.arctan2(j[:, 1, 0] - j[:, 0, 1], j[:, 0, 0] + j[:, 1, 1])
    return rotation_matrices(theta), theta


def rotation_matrices(theta: np.ndarray) -> np.ndarray:
    """float64 [..., 2, 2] rotation matrices [[cos, -sin], [sin, cos]] for angles [...] (radians)."""
    c, s = np.cos(theta), np.sin(theta)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)
