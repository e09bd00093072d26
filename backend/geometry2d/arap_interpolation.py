"""As-rigid-as-possible shape interpolation of a 2D triangle mesh.

Method: Alexa, Cohen-Or & Levin, "As-Rigid-As-Possible Shape Interpolation"
(SIGGRAPH 2000), Sec. 3-4. Each triangle's affine map A = R(theta) S (polar
decomposition) is interpolated as A(t) = R(t theta) ((1 - t) I + t S); the
vertex positions at time t are the least-squares fit of all A(t) (area
weighted, the normal matrix is factorised once), with the translation fixed by
moving each connected part's centroid linearly, weighted by area and by how
closely each triangle turns with the bulk of the part (so limbs swing on arcs
about their joints). Rotation angles
are unwrapped inside clusters of smoothly turning triangles, and each cluster
turns the shorter way relative to the bulk (``unwrap_face_angles``).

"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import breadth_first_order, connected_components
from scipy.sparse.linalg import splu

from .arap_operator import TriangleGradient, closest_rotations, rotation_matrices
from .mesh_ops import face_adjacency

ANCHOR_ANGLE = 0.3          # radians: triangles turning this far from the median anchor the translation less
SMOOTH_STEP = np.radians(45.0)  # neighbours differing more than this do not pass their rotation branch on


def unwrap_face_angles(theta: np.ndarray, faces: np.ndarray, areas: np.ndarray | None = None) -> np.ndarray:
    """Choose each triangle's rotation branch: continuous inside smoothly turning regions, shortest between them.

    Triangles whose principal angles differ by less than ``SMOOTH_STEP`` across
    a shared edge form clusters; inside a cluster the angles are unwrapped
    breadth first (so a part turning through +-pi keeps one direction). A jump
    of ``SMOOTH_STEP`` or more between neighbours (a strongly sheared joint, a
    folded triangle) carries no reliable branch, so the clusters are not
    chained through it: each cluster is shifted by a multiple of 2 pi so that
    its area-weighted mean lies within pi of the largest cluster's mean (a part
    turns the shorter way relative to the bulk of the object). This is the
    quality-guided idea of phase unwrapping (reliable steps first, unreliable
    ones never propagated; Ghiglia and Pritt 1998, ch. 4) applied to the
    per-triangle angles of Alexa et al. 2000, Sec. 4.

    Args:
        theta: float [F] angles in radians (any branch).
        faces: int [F, 3].
        areas: float [F] triangle areas (weights of the cluster means); equal weights when omitted.

    Returns:
        float64 [F] angles shifted by multiples of 2 pi; the largest cluster's
        mean lies in (-pi, pi].
    """
    theta = np.angle(np.exp(1j * np.asarray(theta, dtype=np.float64)))  # principal values
    n = len(theta)
    if n == 0:
        return theta
    w = np.ones(n) if areas is None else np.abs(np.asarray(areas, dtype=np.float64)) + 1e-12
    pairs = face_adjacency(faces)
    if len(pairs):
        step = np.abs(np.angle(np.exp(1j * (theta[pairs[:, 0]] - theta[pairs[:, 1]]))))
        pairs = pairs[step < SMOOTH_STEP]
    adj = sp.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n)).tocsr()
    count, labels = connected_components(adj, directed=False)
    order, parent = breadth_first_order_all(adj, labels, count)
    for f in order:
        p = parent[f]
        if p >= 0:
            theta[f] += 2.0 * np.pi * np.round((theta[p] - theta[f]) / (2.0 * np.pi))
    mass = np.bincount(labels, weights=w, minlength=count)
    means = np.bincount(labels, weights=w * theta, minlength=count) / mass
    big = int(np.argmax(mass))
    ref = float(np.angle(np.exp(1j * means[big])))
    shift = 2.0 * np.pi * np.round((ref - means) / (2.0 * np.pi))
    return theta + shift[labels]


def breadth_first_order_all(adj: sp.csr_matrix, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(order, parent) of a breadth-first walk over every connected component of the graph ``adj``.

    Args:
        adj: [F, F] sparse adjacency (symmetric use; only its pattern matters).
        labels, count: ``scipy.sparse.csgraph.connected_components`` of ``adj``.

    Returns:
        order: int64 [F] nodes in visiting order; parent: int64 [F] (-1 for each component's root).
    """
    n = adj.shape[0]
    order = np.empty(0, np.int64)
    parent = np.full(n, -1, np.int64)
    roots = np.unique(labels, return_index=True)[1]
    sym = (adj + adj.T).tocsr()
    for root in roots:
        nodes, pred = breadth_first_order(sym, int(root), directed=False, return_predecessors=True)
        order = np.concatenate([order, nodes])
        parent[nodes] = pred[nodes]
    parent[parent < 0] = -1
    return order, parent


def _component_centroid_rows(faces: np.ndarray, areas: np.ndarray, vertex_count: int) -> sp.csr_matrix:
    """[K, V] rows giving each connected part's area-weighted vertex centroid."""
    f = np.asarray(faces, dtype=np.int64)
    adj = sp.coo_matrix((np.ones(2 * len(f) * 3),
                         (np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]]),
                          np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]]))),
                        shape=(vertex_count, vertex_count))
    k, labels = connected_components(adj, directed=False)
    mass = np.zeros(vertex_count)
    np.add.at(mass, f.ravel(), np.repeat(areas / 3.0, 3))
    total = np.zeros(k)
    np.add.at(total, labels, mass)
    used = mass > 0
    rows = sp.csr_matrix((mass[used] / total[labels[used]], (labels[used], np.nonzero(used)[0])),
                         shape=(k, vertex_count))
    return rows[total > 0]


class ArapInterpolator:
    """Precomputed ARAP interpolation between two poses of one mesh.

    Args:
        rest: float [V, 2] the source pose (pixels).
        target: float [V, 2] the destination pose, same vertex order.
        faces: int [F, 3] triangles.

    Call ``positions(t)`` for any t (0 gives ``rest``, 1 gives ``target``;
    values outside [0, 1] extrapolate).
    """

    def __init__(self, rest: np.ndarray, target: np.ndarray, faces: np.ndarray):
        self.rest = np.asarray(rest, dtype=np.float64)
        self.target = np.asarray(target, dtype=np.float64)
        if self.rest.shape != self.target.shape or self.rest.ndim != 2 or self.rest.shape[1] != 2:
            raise ValueError(f"rest and target must both be [V, 2], got {self.rest.shape} and {self.target.shape}")
        self.grad = TriangleGradient(self.rest, faces)
        jac = self.grad.jacobians(self.target)
        rot, theta = closest_rotations(jac)
        self.theta = unwrap_face_angles(theta, self.grad.faces, self.grad.areas)
        s = np.einsum("fba,fbc->fac", rot, jac)  # R^T A
        self.stretch = 0.5 * (s + s.transpose(0, 2, 1))
        # Translation: the centroid of the triangles that turn with the bulk of the object moves on a
        # straight line; a limb that swings about a joint then follows its rotations on an arc about
        # that joint (pinning the whole centroid would pull the joint onto a chord).
        c = _component_centroid_rows(self.grad.faces, self.grad.areas * self._anchor_weights(), len(self.rest))
        self.centroid_rows = c
        self.c0 = c @ self.rest
        self.c1 = c @ self.target
        lap = self.grad.laplacian()
        k = c.shape[0]
        # Lagrange multipliers pin each part's centroid exactly (the Laplacian alone is singular).
        kkt = sp.bmat([[lap, c.T], [c, None]], format="csc")
        # Vertices no triangle uses would leave the system singular: tie them to their rest position.
        unused = np.ones(len(self.rest), bool)
        unused[self.grad.faces.ravel()] = False
        self.unused = np.nonzero(unused)[0]
        if len(self.unused):
            diag = np.zeros(len(self.rest) + k)
            diag[self.unused] = 1.0
            kkt = (kkt + sp.diags(diag)).tocsc()
        self._lu = splu(kkt)

    def _anchor_weights(self) -> np.ndarray:
        """float64 [F]: 1 for triangles turning like the area-weighted median, less for those turning apart."""
        order = np.argsort(self.theta)
        cum = np.cumsum(self.grad.areas[order])
        median = self.theta[order][np.searchsorted(cum, 0.5 * cum[-1])] if len(order) else 0.0
        return np.exp(-((self.theta - median) / ANCHOR_ANGLE) ** 2) + 1e-3

    def positions(self, t: float) -> np.ndarray:
        """float64 [V, 2] vertex positions at time ``t`` (0 = rest, 1 = target)."""
        t = float(t)
        if t == 0.0:
            return self.rest.copy()
        if t == 1.0:
            return self.target.copy()
        eye = np.eye(2)[None]
        a_t = np.einsum("fab,fbc->fac", rotation_matrices(t * self.theta), (1.0 - t) * eye + t * self.stretch)
        rhs = np.vstack([self.grad.rhs(a_t), (1.0 - t) * self.c0 + t * self.c1])
        if len(self.unused):
            rhs[self.unused] = (1.0 - t) * self.rest[self.unused] + t * self.target[self.unused]
        sol = self._lu.solve(rhs)
        return sol[:len(self.rest)]


def arap_interpolate(rest: np.ndarray, target: np.ndarray, faces: np.ndarray, times: np.ndarray) -> np.ndarray:
    """As-rigid-as-possible interpolation of a 2D mesh between two poses.

    Args:
        rest: float [V, 2] pose at t = 0 (pixels).
        target: float [V, 2] pose at t = 1, same vertex order.
        faces: int [F, 3] triangles.
        times: float [T] interpolation times (usually 0..1).

    Returns:
        float64 [T, V, 2]; times 0 and 1 reproduce ``rest`` and ``target`` exactly.

    Source: Alexa, Cohen-Or & Levin, SIGGRAPH 2000 (see module docstring).
    """
    interp = ArapInterpolator(rest, target, faces)
    times = np.asarray(times, dtype=np.float64).ravel()
    return np.stack([interp.positions(t) for t in times]) if len(times) else np.zeros((0,) + interp.rest.shape)
