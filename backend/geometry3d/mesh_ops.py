"""Small triangle-mesh operators shared by inflation, lifting, sampling and both pipelines (numpy + SciPy sparse).

Faces are int [F, 3]; vertices float [V, D] with D = 2 or 3. References:
cotangent Laplacian and lumped mass matrix as in Botsch et al., "Polygon
Mesh Processing" (2010), ch. 3.3; Euler characteristic V - E + F.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def unique_edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Undirected edges of a triangle mesh and how many faces use each.

    Args:
        faces: int [F, 3].

    Returns:
        (edges int64 [E, 2] with edges[:, 0] < edges[:, 1], counts int64 [E]).
    """
    faces = np.asarray(faces, dtype=np.int64)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    e.sort(axis=1)
    edges, counts = np.unique(e, axis=0, return_counts=True)
    return edges, counts


def boundary_vertex_mask(faces: np.ndarray, vertex_count: int) -> np.ndarray:
    """bool [V]: vertices on an edge used by exactly one face (the topological boundary)."""
    edges, counts = unique_edges(faces)
    mask = np.zeros(vertex_count, bool)
    mask[edges[counts == 1].ravel()] = True
    return mask


def euler_characteristic(faces: np.ndarray) -> int:
    """V - E + F over the vertices the faces use (2 for a closed sphere-like surface)."""
    faces = np.asarray(faces)
    edges, _ = unique_edges(faces)
    return int(len(np.unique(faces)) - len(edges) + len(faces))


def is_closed_manifold(faces: np.ndarray) -> bool:
    """True when every edge is shared by exactly two faces with opposite orientations.

    That is a watertight, consistently oriented surface.
    """
    faces = np.asarray(faces, dtype=np.int64)
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    uniq = np.unique(directed, axis=0)
    if len(uniq) != len(directed):
        return False  # a directed edge used twice: inconsistent orientation or non-manifold
    _, counts = unique_edges(faces)
    return bool(np.all(counts == 2))


def cotangents(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """float64 [F, 3]: cotangent of each face's angle at corner k (opposite edge (k+1, k+2))."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    out = np.empty((len(f), 3))
    for k in range(3):
        a = v[f[:, (k + 1) % 3]] - v[f[:, k]]
        b = v[f[:, (k + 2) % 3]] - v[f[:, k]]
        dot = (a * b).sum(axis=1)
        cross2 = np.maximum((a * a).sum(axis=1) * (b * b).sum(axis=1) - dot * dot, 0.0)
        out[:, k] = dot / np.maximum(np.sqrt(cross2), 1e-12)
    return out


def face_areas(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """float64 [F]: unsigned triangle areas (2D or 3D vertices)."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    a = v[f[:, 1]] - v[f[:, 0]]
    b = v[f[:, 2]] - v[f[:, 0]]
    dot = (a * b).sum(axis=1)
    return 0.5 * np.sqrt(np.maximum((a * a).sum(axis=1) * (b * b).sum(axis=1) - dot * dot, 0.0))


def edge_weights(vertices: np.ndarray, faces: np.ndarray, clamp: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Cotangent edge weights w_ij = (cot a + cot b) / 2 per undirected edge.

    Args:
        vertices: float [V, D].
        faces: int [F, 3].
        clamp: if given, weights are clipped below at ``clamp`` times their
            mean absolute value (keeps ARAP systems positive definite on
            obtuse triangles).

    Returns:
        (edges int64 [E, 2], weights float64 [E]).
    """
    f = np.asarray(faces, dtype=np.int64)
    cot = cotangents(vertices, f)
    e = np.concatenate([f[:, [1, 2]], f[:, [2, 0]], f[:, [0, 1]]])
    w = 0.5 * np.concatenate([cot[:, 0], cot[:, 1], cot[:, 2]])
    e.sort(axis=1)
    edges, inverse = np.unique(e, axis=0, return_inverse=True)
    weights = np.bincount(inverse.ravel(), weights=w, minlength=len(edges))
    if clamp is not None:
        weights = np.maximum(weights, clamp * max(np.abs(weights).mean(), 1e-12))
    return edges, weights


def cotangent_stiffness(vertices: np.ndarray, faces: np.ndarray) -> sp.csr_matrix:
    """Positive semi-definite cotangent stiffness matrix K [V, V] (K = -L; K 1 = 0)."""
    v = np.asarray(vertices)
    edges, w = edge_weights(v, faces)
    n = len(v)
    i, j = edges[:, 0], edges[:, 1]
    off = sp.coo_matrix((np.concatenate([-w, -w]), (np.concatenate([i, j]), np.concatenate([j, i]))), shape=(n, n))
    diag = np.bincount(i, weights=w, minlength=n) + np.bincount(j, weights=w, minlength=n)
    return (off + sp.diags(diag)).tocsr()


def lumped_mass(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """float64 [V]: lumped (barycentric) vertex areas, one third of each adjacent face."""
    f = np.asarray(faces, dtype=np.int64)
    a = face_areas(vertices, f) / 3.0
    return np.bincount(f.ravel(), weights=np.repeat(a, 3), minlength=len(vertices))
