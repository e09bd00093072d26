"""Prepare a silhouette mesh for inflation: no interior edge may join two rim vertices.

Inflation keeps silhouette (rim) vertices at zero thickness and shares them
between the front and the back sheet. An interior edge whose two ends are both
on the rim (a "chord", common in parts one triangle wide) would be pinched to
zero thickness and shared by four faces, so the surface would not be a closed
manifold. Splitting every chord at its midpoint (red-green refinement of the
faces around it) and giving isolated rim-only triangles a centroid fixes both.
The new vertices are fixed linear combinations of the original ones, so their
2D trajectories follow from the original ones exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...geometry3d.mesh_ops import boundary_vertex_mask, unique_edges
from ...types import SilhouetteMesh


@dataclass
class RefinedMesh:
    """A silhouette mesh with chords split.

    Attributes:
        vertices: float64 [V', 2] pixels; the first V rows are the original vertices.
        faces: int32 [F', 3], counter-clockwise in (u, -v) like the input.
        rim: bool [V'] topological boundary (silhouette) vertices.
        weights: scipy CSR [V', V]: row k expresses vertex k as a combination of
            original vertices (identity for the first V rows).
    """

    vertices: np.ndarray
    faces: np.ndarray
    rim: np.ndarray
    weights: sp.csr_matrix

    def nearest_original(self) -> np.ndarray:
        """int32 [V']: the original vertex with the largest weight in each row."""
        w = self.weights.tocsr()
        out = np.empty(w.shape[0], np.int32)
        for r in range(w.shape[0]):
            lo, hi = w.indptr[r], w.indptr[r + 1]
            out[r] = w.indices[lo + int(np.argmax(w.data[lo:hi]))]
        return out


def _check_mesh(mesh: SilhouetteMesh) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(mesh.vertices, dtype=np.float64)
    f = np.asarray(mesh.faces, dtype=np.int64)
    if v.ndim != 2 or v.shape[1] != 2 or len(v) < 3:
        raise ValueError(f"silhouette mesh vertices must be [V>=3, 2], got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or len(f) == 0:
        raise ValueError(f"silhouette mesh faces must be [F>=1, 3], got {f.shape}")
    if f.min() < 0 or f.max() >= len(v):
        raise ValueError("silhouette mesh faces index missing vertices")
    _, counts = unique_edges(f)
    if np.any(counts > 2):
        raise ValueError("silhouette mesh is not a manifold: an edge is shared by more than two faces")
    return v, f


def refine_for_inflation(mesh: SilhouetteMesh) -> RefinedMesh:
    """Split rim-to-rim chords and rim-only triangles of a silhouette mesh.

    Args:
        mesh: the 2D silhouette mesh (pixels, faces CCW in (u, -v)).

    Returns:
        A ``RefinedMesh``; when the mesh has no chords it is the input with
        identity weights. Deterministic: the same mesh always refines the same way.

    Raises:
        ValueError: malformed or non-manifold mesh.
    """
    v, f = _check_mesh(mesh)
    n = len(v)
    rim = boundary_vertex_mask(f, n)
    edges, counts = unique_edges(f)
    chord = (counts == 2) & rim[edges[:, 0]] & rim[edges[:, 1]]
    chords = edges[chord]
    rows, cols, vals = [np.arange(n)], [np.arange(n)], [np.ones(n)]
    new_vertices = [v]
    next_id = n
    mid_of = {}
    for a, b in chords:
        mid_of[(int(a), int(b))] = next_id
        next_id += 1
    if len(chords):
        new_vertices.append(0.5 * (v[chords[:, 0]] + v[chords[:, 1]]))
        ids = np.arange(n, next_id)
        rows += [ids, ids]
        cols += [chords[:, 0], chords[:, 1]]
        vals += [np.full(len(ids), 0.5), np.full(len(ids), 0.5)]

    def mid(a, b):
        return mid_of.get((min(a, b), max(a, b)), -1)

    out_faces = []
    for tri in f.tolist():
        m = [mid(tri[0], tri[1]), mid(tri[1], tri[2]), mid(tri[2], tri[0])]
        k = sum(x >= 0 for x in m)
        if k == 0:
            out_faces.append(tri)
            continue
        # Rotate so the split pattern starts at edge 0 (orientation is kept).
        for r in range(3):
            rt = tri[r:] + tri[:r]
            rm = m[r:] + m[:r]
            if (k == 1 and rm[0] >= 0) or (k == 2 and rm[0] >= 0 and rm[1] >= 0) or k == 3:
                break
        v0, v1, v2 = rt
        m0, m1, m2 = rm
        if k == 1:
            out_faces += [[v0, m0, v2], [m0, v1, v2]]
        elif k == 2:
            out_faces += [[m0, v1, m1], [v0, m0, m1], [v0, m1, v2]]
        else:
            out_faces += [[v0, m0, m2], [v1, m1, m0], [v2, m2, m1], [m0, m1, m2]]
    faces = np.asarray(out_faces, dtype=np.int64)
    verts = np.concatenate(new_vertices)
    rim = np.concatenate([rim, np.zeros(next_id - n, bool)])

    # A face with three rim vertices now has three rim edges: an isolated
    # triangle. A centroid gives it an interior vertex.
    lonely = np.nonzero(rim[faces].all(axis=1))[0]
    if len(lonely):
        cent_ids = np.arange(next_id, next_id + len(lonely))
        tri = faces[lonely]
        verts = np.concatenate([verts, verts[tri].mean(axis=1)])
        wsrc = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                             shape=(next_id, n)).tocsr()
        cent_w = (wsrc[tri[:, 0]] + wsrc[tri[:, 1]] + wsrc[tri[:, 2]]) / 3.0
        sub = np.concatenate([np.stack([tri[:, 0], tri[:, 1], cent_ids], 1),
                              np.stack([tri[:, 1], tri[:, 2], cent_ids], 1),
                              np.stack([tri[:, 2], tri[:, 0], cent_ids], 1)])
        keep = np.ones(len(faces), bool)
        keep[lonely] = False
        faces = np.concatenate([faces[keep], sub])
        rim = np.concatenate([rim, np.zeros(len(lonely), bool)])
        weights = sp.vstack([wsrc, cent_w]).tocsr()
    else:
        weights = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                                shape=(next_id, n)).tocsr()
    return RefinedMesh(vertices=verts, faces=faces.astype(np.int32), rim=rim, weights=weights)
