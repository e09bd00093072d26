"""Vectorised unit-quaternion and rotation helpers (numpy).

Quaternions are (w, x, y, z), the 3DGS / asset-format order, and act on
column vectors: ``matrix_from_quats(q) @ v``. Every function takes a batch
[..., 4] or [..., 3, 3].
"""

from __future__ import annotations

import numpy as np


def normalize(q: np.ndarray) -> np.ndarray:
    """Unit quaternions [..., 4] with w >= 0 (the same rotations, one sign)."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-18)
    return np.where(q[..., :1] < 0, -q, q)


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a * b [..., 4] (rotation b first, then a)."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], axis=-1)


def matrix_from_quats(q: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] of (not necessarily unit) quaternions [..., 4]."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-18)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], axis=-1)
    return m.reshape(q.shape[:-1] + (3, 3))


def quats_from_matrix(m: np.ndarray) -> np.ndarray:
    """Unit quaternions [..., 4] (w >= 0) of rotation matrices [..., 3, 3].

    Shepperd's method: the largest of the four diagonal combinations is used
    as the pivot, which keeps it stable for every rotation angle.
    """
    m = np.asarray(m, dtype=np.float64)
    shape = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=1)
    pick = np.argmax(cand, axis=1)
    q = np.empty((len(m), 4))
    s = np.sqrt(np.maximum(1.0 + 2.0 * cand[np.arange(len(m)), pick] - tr, 1e-18)) * 2.0  # 4 * |component|
    i = pick == 0
    q[i, 0] = 0.25 * s[i]
    q[i, 1] = (m[i, 2, 1] - m[i, 1, 2]) / s[i]
    q[i, 2] = (m[i, 0, 2] - m[i, 2, 0]) / s[i]
    q[i, 3] = (m[i, 1, 0] - m[i, 0, 1]) / s[i]
    i = pick == 1
    q[i, 0] = (m[i, 2, 1] - m[i, 1, 2]) / s[i]
    q[i, 1] = 0.25 * s[i]
    q[i, 2] = (m[i, 0, 1] + m[i, 1, 0]) / s[i]
    q[i, 3] = (m[i, 0, 2] + m[i, 2, 0]) / s[i]
    i = pick == 2
    q[i, 0] = (m[i, 0, 2] - m[i, 2, 0]) / s[i]
    q[i, 1] = (m[i, 0, 1] + m[i, 1, 0]) / s[i]
    q[i, 2] = 0.25 * s[i]
    q[i, 3] = (m[i, 1, 2] + m[i, 2, 1]) / s[i]
    i = pick == 3
    q[i, 0] = (m[i, 1, 0] - m[i, 0, 1]) / s[i]
    q[i, 1] = (m[i, 0, 2] + m[i, 2, 0]) / s[i]
    q[i, 2] = (m[i, 1, 2] + m[i, 2, 1]) / s[i]
    q[i, 3] = 0.25 * s[i]
    return normalize(q).reshape(shape + (4,))


def quats_from_axis_angle(axis_angle: np.ndarray) -> np.ndarray:
    """Unit quaternions [..., 4] of rotation vectors [..., 3] (axis * angle in radians)."""
    v = np.asarray(axis_angle, dtype=np.float64)
    angle = np.linalg.norm(v, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(half) / angle, with its limit 1/2 at angle 0.
    k = np.where(angle > 1e-12, np.sin(half) / np.maximum(angle, 1e-12), 0.5)
    return np.concatenate([np.cos(half), v * k], axis=-1)


def extract_rotations(a: np.ndarray, q_init: np.ndarray | None = None, iterations: int = 8,
                      tol: float = 1e-7) -> np.ndarray:
    """The rotations closest to matrices ``a`` (maximising tr(R^T A)), as quaternions.

    Müller, Bender, Chentanez & Macklin, "A Robust Method to Extract the
    Rotational Part of Deformations" (MIG 2016), Algorithm 1: each step
    rotates R by omega = sum_k r_k x a_k / |sum_k r_k . a_k| (columns r_k, a_k).
    Unlike an SVD it is well defined for rank-deficient ``a`` (flat
    neighbourhoods), warm-starts from the previous solution, and is cheap in
    numpy.

    Args:
        a: float [N, 3, 3].
        q_init: optional [N, 4] starting quaternions (identity otherwise).
        iterations: maximum number of steps.
        tol: a matrix whose rotation step is below ``tol`` radians is done.

    Returns:
        float64 [N, 4] unit quaternions (w, x, y, z).
    """
    a = np.asarray(a, dtype=np.float64)
    a_t = a.transpose(0, 2, 1)
    q = np.tile([1.0, 0.0, 0.0, 0.0], (len(a), 1)) if q_init is None else np.asarray(q_init, dtype=np.float64).copy()
    for _ in range(iterations):
        # With M = R A^T: sum_k r_k x a_k is the axial vector of M - M^T, sum_k r_k . a_k = tr(M).
        m = (matrix_from_quats(q) @ a_t).reshape(-1, 9)
        den = np.abs(m[:, 0] + m[:, 4] + m[:, 8]) + 1e-9
        omega = (m[:, [5, 6, 1]] - m[:, [7, 2, 3]]) / den[:, None]
        if np.abs(omega).max() < tol:
            break
        q = multiply(quats_from_axis_angle(omega), q)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q
