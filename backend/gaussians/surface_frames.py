"""Per-triangle frames, in-plane deformation and best-fit rotations of an animated triangle mesh.

For a triangle with edges e1 = p1 - p0, e2 = p2 - p0 the orthonormal frame is
t1 = e1 / |e1|, n = unit(e1 x e2), t2 = n x t1. The in-plane deformation
gradient G (2x2) maps rest edge coordinates in the rest frame to the current
ones in the current frame; its closest rotation (2D polar decomposition) has
angle atan2(G10 - G01, G00 + G11). The triangle's best-fit 3D rotation is then
R = F_cur Rz(theta) F_rest^T with F = [t1 t2 n]: it maps the rest normal onto
the current normal and rotates in the plane as the polar decomposition says.
"""

from __future__ import annotations

import numpy as np


def triangle_frames(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal frames and in-frame edge coordinates of triangles.

    Args:
        vertices: float [V, 3].
        faces: int [F, 3].

    Returns:
        (frames float64 [F, 3, 3] with columns t1, t2, n;
         edges2d float64 [F, 2, 2] with columns (e1, e2) in (t1, t2) coordinates).
    """
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    e1 = v[f[:, 1]] - v[f[:, 0]]
    e2 = v[f[:, 2]] - v[f[:, 0]]
    l1 = np.linalg.norm(e1, axis=1)
    t1 = e1 / np.maximum(l1, 1e-18)[:, None]
    n = np.cross(e1, e2)
    n /= np.maximum(np.linalg.norm(n, axis=1), 1e-18)[:, None]
    t2 = np.cross(n, t1)
    frames = np.stack([t1, t2, n], axis=2)
    edges2d = np.empty((len(f), 2, 2))
    edges2d[:, 0, 0] = l1
    edges2d[:, 1, 0] = 0.0
    edges2d[:, 0, 1] = (e2 * t1).sum(1)
    edges2d[:, 1, 1] = (e2 * t2).sum(1)
    return frames, edges2d


def _inverse2(m: np.ndarray) -> np.ndarray:
    det = m[:, 0, 0] * m[:, 1, 1] - m[:, 0, 1] * m[:, 1, 0]
    det = np.where(np.abs(det) < 1e-30, 1e-30, det)
    inv = np.empty_like(m)
    inv[:, 0, 0] = m[:, 1, 1] / det
    inv[:, 0, 1] = -m[:, 0, 1] / det
    inv[:, 1, 0] = -m[:, 1, 0] / det
    inv[:, 1, 1] = m[:, 0, 0] / det
    return inv


class TriangleMotion:
    """Best-fit rotations and in-plane stretch of triangles relative to their rest pose.

    Args:
        rest: float [V, 3] rest vertices.
        faces: int [F, 3].
    """

    def __init__(self, rest: np.ndarray, faces: np.ndarray):
        self.faces = np.asarray(faces, dtype=np.int64)
        self.rest_frames, rest_edges = triangle_frames(rest, self.faces)
        self.rest_edges_inv = _inverse2(rest_edges)

    def at(self, vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rotations and in-plane gradients at one frame.

        Args:
            vertices: float [V, 3] current positions.

        Returns:
            (rotations float64 [F, 3, 3] rest -> current best-fit rotations,
             gradients float64 [F, 2, 2] in-plane deformation gradients G from
             rest-frame to current-frame coordinates).
        """
        frames, edges = triangle_frames(vertices, self.faces)
        g = edges @ self.rest_edges_inv
        theta = np.arctan2(g[:, 1, 0] - g[:, 0, 1], g[:, 0, 0] + g[:, 1, 1])
        c, s = np.cos(theta), np.sin(theta)
        rz = np.zeros((len(theta), 3, 3))
        rz[:, 0, 0], rz[:, 0, 1], rz[:, 1, 0], rz[:, 1, 1], rz[:, 2, 2] = c, -s, s, c, 1.0
        rot = frames @ rz @ self.rest_frames.transpose(0, 2, 1)
        return rot, g
