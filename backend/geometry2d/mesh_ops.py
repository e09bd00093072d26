"""Small helpers on 2D triangle meshes: orientation, boundary edges, adjacency, point location.

Topology shared with 3D meshes (``unique_edges``, Euler characteristic, ...)
lives in ``backend.geometry3d.mesh_ops``.

Pixel and orientation conventions as ``backend.types``: positions are (u, v)
pixels with v down; a face is counter-clockwise in (u, -v), which makes its
signed area computed in (u, v) negative. ``signed_areas`` returns the area in
(u, -v), so a correctly oriented face has a positive area and a flipped one a
negative area.
"""

from __future__ import annotations

import numpy as np


def signed_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Signed triangle areas in (u, -v): positive for counter-clockwise faces.

    Args:
        vertices: float [V, 2] or [..., V, 2] pixel positions (u, v).
        faces: int [F, 3].

    Returns:
        float64 [F] (or [..., F]) areas in square pixels.
    """
    x = np.asarray(vertices, dtype=np.float64)
    a, b, c = x[..., faces[:, 0], :], x[..., faces[:, 1], :], x[..., faces[:, 2], :]
    cross = (b[..., 0] - a[..., 0]) * (c[..., 1] - a[..., 1]) - (b[..., 1] - a[..., 1]) * (c[..., 0] - a[..., 0])
    return -0.5 * cross  # v points down, so (u, v) orientation is the mirror of (u, -v)


def boundary_edges(faces: np.ndarray) -> np.ndarray:
    """int64 [B, 2] directed edges used by exactly one face (outline and holes), in face order."""
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]).astype(np.int64)
    key = np.sort(e, axis=1)
    _, inv, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    return e[counts[inv.ravel()] == 1]


def face_adjacency(faces: np.ndarray) -> np.ndarray:
    """int64 [P, 2] pairs of faces sharing an edge."""
    f = np.asarray(faces, dtype=np.int64)
    e = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    owner = np.tile(np.arange(len(f)), 3)
    key = np.sort(e, axis=1)
    order = np.lexsort((key[:, 1], key[:, 0]))
    ks, os_ = key[order], owner[order]
    same = np.all(ks[1:] == ks[:-1], axis=1)
    return np.stack([os_[:-1][same], os_[1:][same]], axis=1)


def barycentric(points: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coordinates of points [N, 2] in triangles [N, 3, 2] -> float64 [N, 3]."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, points - a
    d = v0[:, 0] * v1[:, 1] - v0[:, 1] * v1[:, 0]
    d = np.where(np.abs(d) < 1e-12, 1e-12, d)
    l1 = (v2[:, 0] * v1[:, 1] - v2[:, 1] * v1[:, 0]) / d
    l2 = (v0[:, 0] * v2[:, 1] - v0[:, 1] * v2[:, 0]) / d
    return np.stack([1.0 - l1 - l2, l1, l2], axis=1)


def locate_points(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, face_id: np.ndarray,
                  search_px: int = 1, clamp: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Find the face and barycentric coordinates of points on a rasterized mesh.

    Args:
        points: float [N, 2] pixel positions (u, v).
        vertices, faces: the mesh.
        face_id: int [H, W] the mesh's raster (``backend.render.rasterize``), -1 off the mesh.
        search_px: points whose pixel is off the mesh take the face of a covered pixel
            within this many pixels.
        clamp: clip barycentrics onto the face (the point moves onto the mesh); without
            it a point off its face keeps exact affine coordinates (some negative), so
            ``bary @ vertices[face]`` reproduces it.

    Returns:
        faces_of: int64 [N] face index or -1 (not on the mesh).
        bary: float64 [N, 3] barycentric weights (sum 1; non-negative when clamped).
    """
    pts = np.asarray(points, dtype=np.float64)
    h, w = face_id.shape
    col = np.clip(np.floor(pts[:, 0]).astype(np.int64), 0, w - 1)
    row = np.clip(np.floor(pts[:, 1]).astype(np.int64), 0, h - 1)
    fid = face_id[row, col].astype(np.int64)
    for r in range(1, search_px + 1):
        missing = np.nonzero(fid < 0)[0]
        if len(missing) == 0:
            break
        for dr in range(-r, r + 1):
            for dc in range(-r, r + 1):
                rr = np.clip(row[missing] + dr, 0, h - 1)
                cc = np.clip(col[missing] + dc, 0, w - 1)
                cand = face_id[rr, cc]
                take = (fid[missing] < 0) & (cand >= 0)
                fid[missing[take]] = cand[take]
    bary = np.zeros((len(pts), 3))
    ok = fid >= 0
    if ok.any():
        b = barycentric(pts[ok], vertices[faces[fid[ok]]])
        if clamp:
            b = np.clip(b, 0.0, None)
            b = b / np.maximum(b.sum(axis=1, keepdims=True), 1e-12)
        bary[ok] = b
    return fid, bary
