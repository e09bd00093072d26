"""Which way each point of an inflated shape is "thin": the cross-section metric.

The inflation height h = k sqrt(u) comes from -Δu = 2 (``backend.stages.
geometry.inflate``). The Hessian of u tells how the thickness is made: in a
strip u = x (w - x) curves only across the strip (-u_xx = 2, u_yy = 0), in a
disc it curves equally in all directions. The normalised tensor
M = -Hess(u) / tr(-Hess(u)) is therefore the direction of the local cross
section, and for a 2D deformation gradient F the cross section's scale is
c = sqrt(tr(M F^T F)): a tube stretched along its axis keeps its thickness
(c = 1), one squeezed across it gets thinner, a uniform scale s gives c = s.
The lift scales depth by c (see ``backend.stages.motion.lift``).

Discretisation: P1 gradients per triangle, area-averaged to vertices, applied
twice (a standard recovered Hessian, e.g. Zienkiewicz-Zhu style gradient
recovery), on the rest pixel positions.
"""

from __future__ import annotations

import numpy as np

ISOTROPIC_FLOOR = 0.1  # share of an isotropic term, so flat or ridge-free spots fall back to the mean scale


def _face_gradients(pix: np.ndarray, faces: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-face gradients [F, 2] of a P1 function and the faces' areas [F]."""
    p0, p1, p2 = pix[faces[:, 0]], pix[faces[:, 1]], pix[faces[:, 2]]
    e1, e2 = p1 - p0, p2 - p0
    det = e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]
    safe = np.where(np.abs(det) < 1e-12, 1e-12, det)
    d1 = values[faces[:, 1]] - values[faces[:, 0]]
    d2 = values[faces[:, 2]] - values[faces[:, 0]]
    # Solve [e1; e2] g = [d1; d2].
    gx = (d1 * e2[:, 1] - d2 * e1[:, 1]) / safe
    gy = (e1[:, 0] * d2 - e2[:, 0] * d1) / safe
    return np.stack([gx, gy], axis=1), 0.5 * np.abs(det)


def _to_vertices(face_values: np.ndarray, areas: np.ndarray, faces: np.ndarray, count: int) -> np.ndarray:
    flat = face_values.reshape(len(faces), -1)
    out = np.zeros((count, flat.shape[1]))
    den = np.bincount(faces.ravel(), weights=np.repeat(areas, 3), minlength=count)
    for k in range(flat.shape[1]):
        out[:, k] = np.bincount(faces.ravel(), weights=np.repeat(areas * flat[:, k], 3), minlength=count)
    out /= np.maximum(den, 1e-18)[:, None]
    return out.reshape((count,) + face_values.shape[1:])


def cross_section_metric(rest_pix: np.ndarray, height: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-vertex cross-section tensors of an inflated shape.

    Args:
        rest_pix: float [V, 2] rest pixel positions of the surface's vertices.
        height: float [V] inflation height |y offset| (any unit; only its
            shape matters).
        faces: int [F, 3] the surface's faces (front and back sheets give the
            same answer, both may be passed).

    Returns:
        float64 [V, 2, 2] symmetric positive semi-definite tensors with unit
        trace, in pixel axes (u, v). Flat input (zero height) gives I / 2.
    """
    pix = np.asarray(rest_pix, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    n = len(pix)
    u = np.asarray(height, dtype=np.float64) ** 2  # proportional to the Poisson solution
    g_face, areas = _face_gradients(pix, f, u)
    g_vert = _to_vertices(g_face, areas, f, n)
    hx, _ = _face_gradients(pix, f, g_vert[:, 0])
    hy, _ = _face_gradients(pix, f, g_vert[:, 1])
    hess = _to_vertices(np.stack([hx, hy], axis=1), areas, f, n)  # [V, 2, 2], rows d(g_x), d(g_y)
    m = -0.5 * (hess + hess.transpose(0, 2, 1))
    w, vec = np.linalg.eigh(m)
    w = np.maximum(w, 0.0)
    m = np.einsum("nij,nj,nkj->nik", vec, w, vec)
    trace = m[:, 0, 0] + m[:, 1, 1]
    typical = float(np.median(trace[trace > 0])) if np.any(trace > 0) else 0.0
    if typical <= 0.0:
        return np.tile(0.5 * np.eye(2), (n, 1, 1))
    m = m + (0.5 * ISOTROPIC_FLOOR * typical) * np.eye(2)
    return m / (m[:, 0, 0] + m[:, 1, 1])[:, None, None]
