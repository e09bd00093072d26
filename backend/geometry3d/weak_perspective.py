"""3D rotations of rigid parts from their 2D affine change under weak perspective.

Under weak perspective (scaled orthographic projection) a rigid part rotated
by R and scaled by s changes its image by the 2x2 affine map F = s R[:2, :2]
(the top-left block of s R, image axes right and up, the third axis the
viewing direction). Conversely F determines s and R up to one sign: the
singular values of a 2x2 block of a rotation are 1 and |cos(theta)|, so
s = sigma_1(F) and, with F / s = U diag(1, k) V^T (k = cos(theta), signed by
det F), R = [U 0; 0 1] R_x(+-theta) [V^T 0; 0 1] where R_x turns about the
first axis (the direction V[:, 0] that keeps its length) and theta = acos(k).
This is the orthonormal completion of the factorisation method (Tomasi &
Kanade, IJCV 1992, Sec. 3) and the two-fold "reversal" ambiguity of
Kontsevich's and Koenderink & van Doorn's affine structure from motion
(Koenderink & van Doorn, JOSA A 8(2), 1991): both candidates have the same
projection and mirror each other's depth.

The sign is carried by the depth gradient g = s R[2, :2]: a rest displacement
d (image right/up, pixels) gets the depth change g . d. The two candidates
have opposite g; ``pick_sign`` chooses the one that agrees with a reference.
"""

from __future__ import annotations

import numpy as np


def rotations_from_affine(f: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale and both 3D rotations whose weak-perspective projection is ``f``.

    Args:
        f: float [N, 2, 2] (or [2, 2]) 2D affine maps in image axes (right, up),
            rest displacement -> current displacement.

    Returns:
        (s float64 [N] the scale sigma_1(f);
         r_plus float64 [N, 3, 3], r_minus float64 [N, 3, 3] proper rotations
         with s R[:2, :2] = f up to the part of f no rotation explains (its
         anisotropy beyond foreshortening is dropped); they differ in the sign
         of the out-of-plane turn: r_minus[2, :2] = -r_plus[2, :2]).
        For one [2, 2] input the leading axis is dropped.

    Raises:
        ValueError: ``f`` is not [..., 2, 2].

    Source: Tomasi & Kanade 1992 (orthonormal completion); see the module docstring.
    """
    f = np.asarray(f, dtype=np.float64)
    single = f.ndim == 2
    if f.shape[-2:] != (2, 2):
        raise ValueError(f"affine maps must be [N, 2, 2], got {f.shape}")
    f = f.reshape(-1, 2, 2)
    u, sig, vt = np.linalg.svd(f)
    s = np.maximum(sig[:, 0], 1e-12)
    k = np.clip(sig[:, 1] / s, 0.0, 1.0)
    # Make U and V proper rotations; a reflection (det f < 0) becomes k < 0, a turn past 90 degrees.
    du = np.sign(np.linalg.det(u))
    dv = np.sign(np.linalg.det(vt))
    u[:, :, 1] *= du[:, None]
    vt[:, 1, :] *= dv[:, None]
    k = k * du * dv
    sin = np.sqrt(np.maximum(1.0 - k * k, 0.0))
    out = []
    for sgn in (1.0, -1.0):
        rx = np.zeros((len(f), 3, 3))
        rx[:, 0, 0] = 1.0
        rx[:, 1, 1] = k
        rx[:, 2, 2] = k
        rx[:, 1, 2] = -sgn * sin
        rx[:, 2, 1] = sgn * sin
        big_u = np.zeros((len(f), 3, 3))
        big_u[:, :2, :2] = u
        big_u[:, 2, 2] = 1.0
        big_v = np.zeros((len(f), 3, 3))
        big_v[:, :2, :2] = vt
        big_v[:, 2, 2] = 1.0
        out.append(big_u @ rx @ big_v)
    if single:
        return s[0], out[0][0], out[1][0]
    return s, out[0], out[1]


def out_of_plane_angle(r: np.ndarray) -> np.ndarray:
    """Angle (radians, float64 [N] or scalar) between a rotation's image of the viewing axis and that axis."""
    r = np.asarray(r, dtype=np.float64)
    return np.arccos(np.clip(r[..., 2, 2], -1.0, 1.0))


def pick_sign(r_plus: np.ndarray, r_minus: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The candidate whose depth gradient agrees with ``reference``.

    Args:
        r_plus, r_minus: float [N, 3, 3] the two candidates of ``rotations_from_affine``.
        reference: float [N, 2] reference depth gradients (image right/up axes); a
            zero row keeps ``r_plus``.

    Returns:
        float64 [N, 3, 3]: r_plus where r_plus[2, :2] . reference >= 0, else r_minus.
    """
    g = np.asarray(r_plus, dtype=np.float64)[:, 2, :2]
    keep = np.einsum("nd,nd->n", g, np.asarray(reference, dtype=np.float64)) >= 0.0
    return np.where(keep[:, None, None], r_plus, r_minus)


__all__ = ["out_of_plane_angle", "pick_sign", "rotations_from_affine"]
