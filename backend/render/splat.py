"""Silhouette coverage of 3D Gaussians seen through a camera (numpy + OpenCV).

Used by tests and benchmarks to compare the Gaussians' silhouette with a
mask (IoU). Two footprints:

* discs (no rotations given): each Gaussian is a disc of radius
  ``sigma * s * f / depth`` pixels (at least 0.5 px) with s the geometric
  mean of its two largest scales (the disc of the same area as a flat
  Gaussian's tangential ellipse). This is approximate for elongated
  Gaussians and those seen edge-on.
* ellipses (rotations given): the projected 2D covariance of each Gaussian,
  J W Sigma W^T J^T with the projection Jacobian J (EWA splatting, Zwicker et
  al. 2002, Sec. 4; Kerbl et al. 2023, 3D Gaussian splatting, Sec. 4), plus a
  small low-pass (0.05 px^2; 3DGS renders with 0.3 px^2, which would widen
  every silhouette by half a pixel); a pixel is covered when its centre is
  within Mahalanobis distance ``sigma``.

Both are drawn exactly (each Gaussian tests the pixel centres of its bounding
box, vectorised in chunks), so centres are not snapped to pixels.
"""

from __future__ import annotations

import numpy as np

from ..asset import Camera
from ..geometry3d.quaternions import matrix_from_quats
from .rasterize import box_pixels

_LOW_PASS = 0.05  # px^2: keeps edge-on footprints invertible


def _disc_covariances(depth, scales, camera: Camera, sigma: float) -> np.ndarray:
    """Isotropic pixel covariances [N, 2, 2] whose ``sigma`` contour is the disc of the module docstring."""
    top2 = np.sort(scales, axis=1)[:, 1:]
    radius = np.maximum(0.5, sigma * np.sqrt(top2[:, 0] * top2[:, 1]) * camera.fx / depth)
    return (radius / sigma)[:, None, None] ** 2 * np.eye(2)


def projected_covariances(means: np.ndarray, scales: np.ndarray, rotations: np.ndarray,
                          camera: Camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Image-plane footprints of 3D Gaussians.

    Args:
        means: float [N, 3] world metres.
        scales: float [N, 3] standard deviations (metres) along the local axes.
        rotations: float [N, 4] unit quaternions (w, x, y, z).
        camera: the viewing camera.

    Returns:
        (uv float64 [N, 2] projected centres in pixels, depth float64 [N]
        metres, cov float64 [N, 2, 2] pixel covariances including the low-pass).
    """
    means = np.asarray(means, dtype=np.float64)
    m = np.asarray(camera.matrix_world, dtype=np.float64)
    rot_c = m[:3, :3]
    local = (means - m[:3, 3]) @ rot_c
    depth = -local[:, 2]
    d = np.where(np.abs(depth) < 1e-9, 1e-9, depth)
    uv = np.stack([camera.cx + camera.fx * local[:, 0] / d, camera.cy - camera.fy * local[:, 1] / d], axis=1)
    # d(u, v)/d(world point), see module docstring.
    ju = camera.fx / d[:, None] * (rot_c[:, 0][None] + (local[:, 0] / d)[:, None] * rot_c[:, 2][None])
    jv = -camera.fy / d[:, None] * (rot_c[:, 1][None] + (local[:, 1] / d)[:, None] * rot_c[:, 2][None])
    jac = np.stack([ju, jv], axis=1)  # [N, 2, 3]
    r = matrix_from_quats(rotations)
    a = r * np.asarray(scales, dtype=np.float64)[:, None, :]  # R S
    js = jac @ a  # [N, 2, 3]
    cov = js @ js.transpose(0, 2, 1) + _LOW_PASS * np.eye(2)
    return uv, depth, cov


def _ellipse_coverage(uv, cov, width: int, height: int, sigma: float) -> np.ndarray:
    out = np.zeros(height * width, bool)
    det = cov[:, 0, 0] * cov[:, 1, 1] - cov[:, 0, 1] ** 2
    inv_a, inv_b, inv_c = cov[:, 1, 1] / det, -cov[:, 0, 1] / det, cov[:, 0, 0] / det
    ext_u = sigma * np.sqrt(cov[:, 0, 0])
    ext_v = sigma * np.sqrt(cov[:, 1, 1])
    for g, rows, cols in box_pixels(uv[:, 0] - ext_u, uv[:, 0] + ext_u, uv[:, 1] - ext_v, uv[:, 1] + ext_v,
                                    width, height):
        du = cols + 0.5 - uv[g, 0]
        dv = rows + 0.5 - uv[g, 1]
        inside = inv_a[g] * du * du + 2 * inv_b[g] * du * dv + inv_c[g] * dv * dv <= sigma * sigma
        out[rows[inside] * width + cols[inside]] = True
    return out.reshape(height, width)


def coverage_mask(means: np.ndarray, scales: np.ndarray, camera: Camera, sigma: float = 1.5,
                  front_only: bool = False, rotations: np.ndarray | None = None) -> np.ndarray:
    """Pixels covered by Gaussians seen through ``camera``.

    Args:
        means: float [N, 3] centres (world metres) of one frame.
        scales: float [N, 3] standard deviations (metres) of the same frame.
        camera: the viewing camera; the mask has its (height, width).
        sigma: footprint radius in standard deviations.
        front_only: keep only Gaussians whose normal (local z axis, the flat
            direction) faces the camera; needs ``rotations``.
        rotations: optional float [N, 4] unit quaternions (w, x, y, z); with
            them the exact projected ellipses are drawn, otherwise discs
            (see module docstring).

    Returns:
        bool [H, W]. Gaussians behind the camera are ignored.

    Raises:
        ValueError: ``front_only`` without ``rotations``, or mismatched shapes.
    """
    means = np.asarray(means, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    if means.ndim != 2 or means.shape[1] != 3 or scales.shape != means.shape:
        raise ValueError(f"means and scales must both be [N, 3], got {means.shape} and {scales.shape}")
    if front_only and rotations is None:
        raise ValueError("front_only needs the Gaussians' rotations (their normals)")
    keep = np.ones(len(means), bool)
    if rotations is not None:
        rotations = np.asarray(rotations, dtype=np.float64)
        if rotations.shape != (len(means), 4):
            raise ValueError(f"rotations must be [{len(means)}, 4], got {rotations.shape}")
        if front_only:
            normal = matrix_from_quats(rotations)[:, :, 2]
            keep &= ((means - camera.position) * normal).sum(axis=1) < 0
    if rotations is None:
        uv, depth = camera.project(means)
        vis = depth > 1e-6
        uv, depth = uv[vis], depth[vis]
        cov = _disc_covariances(depth, scales[vis], camera, sigma)
        vis = np.ones(len(uv), bool)
    else:
        uv, depth, cov = projected_covariances(means[keep], scales[keep], rotations[keep], camera)
        vis = depth > 1e-6
    return _ellipse_coverage(uv[vis], cov[vis], camera.width, camera.height, sigma)
