"""Dynamic 3D Gaussians attached to the lifted surface (weight-free engine).

Each Gaussian sits on one triangle of the ``Shape3D`` at fixed barycentric
coordinates, so its mean at frame t is the barycentric blend of the
``Motion3D`` vertices: no tearing, and the point order never changes (the
asset's trajectory / shape-key contract). Sampling is a jittered grid in the
input view (stratified sampling, Cook 1986 "Stochastic sampling in computer
graphics", Sec. 4): the front sheet and the back sheet each get their own
grid, located on the mesh with the shared rasterizer, so there are no clumps
and no holes from the camera.

Gaussians are flat discs in their triangle's plane (as 2D Gaussian splatting,
Huang et al., SIGGRAPH 2024): the two tangential standard deviations are the
sample spacing mapped through the triangle's pixel-to-world Jacobian (so a
steep rim triangle gets a disc elongated up its slope) and the normal one is a
fraction of them. Per frame each Gaussian turns with its triangle's best-fit
rotation and its tangential scales follow the triangle's in-plane stretch.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import scipy.sparse as sp

from ..asset import Gaussians
from ..geometry3d.mesh_ops import face_areas
from ..geometry3d.quaternions import multiply, quats_from_matrix
from ..render.rasterize import rasterize
from ..types import Foreground, InputView, Motion3D, Shape3D
from .surface_frames import TriangleMotion

FRONT_FRACTION = 0.6
TANGENTIAL_SIGMA = 0.65   # tangential standard deviation per sample spacing
NORMAL_RATIO = 0.15       # normal standard deviation per tangential one
JITTER = 0.5              # jitter span per grid cell (0 = regular grid, 1 = anywhere in the cell)
OPACITY = 0.95
BACK_SHADE = 0.9          # the unseen back is a mirror of the front, a little darker
MAX_STRETCH = 25.0
RIM_OVERFLOW_PX = 0.1     # how far (working pixels) a 1.5-sigma footprint may pass the outline
RIM_MIN_FACTOR = 0.3


def _barycentric(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coordinates [N, 3] of points p [N, 2] in triangles tri [N, 3, 2]."""
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    v0, v1, v2 = b - a, c - a, p - a
    den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
    den = np.where(np.abs(den) < 1e-18, 1e-18, den)
    w1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
    w2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
    return np.stack([1.0 - w1 - w2, w1, w2], axis=1)


def sample_side(pix: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator, width: int,
                height: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, np.ndarray]:
    """Jittered-grid samples over the image-plane footprint of some faces.

    Args:
        pix: float [V, 2] rest pixel positions of the vertices (working resolution).
        faces: int [F, 3] the faces to cover (one sheet: front or back).
        count: number of samples wanted (returned exactly).
        rng: random generator (grid offset, jitter, top-up and trimming).
        width, height: working resolution.

    Returns:
        (face index int64 [count] into ``faces``, barycentrics float64 [count, 3],
        points float64 [count, 2] in pixels, grid spacing in pixels,
        rim distance float64 [count]: pixels from each point to the outline).
    """
    area = float(face_areas(pix, faces).sum())
    spacing = math.sqrt(area / max(count, 1))
    ss = int(np.clip(math.ceil(2.0 / max(spacing, 1e-6)), 1, 4))  # raster pixels finer than the spacing
    raster = rasterize(pix * ss, faces, width * ss, height * ss)
    lo = pix[np.unique(faces)].min(axis=0)
    hi = pix[np.unique(faces)].max(axis=0)
    offset = rng.random(2)
    points = fid = None
    for _ in range(6):
        nx = int(math.ceil((hi[0] - lo[0]) / spacing)) + 2
        ny = int(math.ceil((hi[1] - lo[1]) / spacing)) + 2
        gx, gy = np.meshgrid(np.arange(nx), np.arange(ny))
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1).astype(np.float64)
        jitter = (rng.random(grid.shape) - 0.5) * JITTER
        points = lo + (grid - 1.0 + offset + jitter) * spacing
        col = np.floor(points[:, 0] * ss).astype(np.int64)
        row = np.floor(points[:, 1] * ss).astype(np.int64)
        ok = (col >= 0) & (col < width * ss) & (row >= 0) & (row < height * ss)
        fid = np.full(len(points), -1, np.int64)
        fid[ok] = raster.face_id[row[ok], col[ok]]
        inside = fid >= 0
        points, fid = points[inside], fid[inside]
        if abs(len(points) - count) <= 0.01 * count:
            break
        spacing *= math.sqrt(len(points) / count) if len(points) else 0.5
    if len(points) > count:
        keep = np.sort(rng.choice(len(points), count, replace=False))
        points, fid = points[keep], fid[keep]
    elif len(points) < count:
        # Top up with area-weighted random points: at most ~1% of the samples.
        extra = count - len(points)
        areas = face_areas(pix, faces)
        f_extra = rng.choice(len(faces), extra, p=areas / areas.sum())
        r = rng.random((extra, 2))
        flip = r.sum(1) > 1
        r[flip] = 1.0 - r[flip]
        b = np.stack([1 - r[:, 0] - r[:, 1], r[:, 0], r[:, 1]], axis=1)
        p_extra = (pix[faces[f_extra]] * b[:, :, None]).sum(axis=1)
        points = np.concatenate([points, p_extra])
        fid = np.concatenate([fid, f_extra])
    bary = _barycentric(points, pix[faces[fid]])
    # Raster lookups are exact to a sub-pixel: a point just past its face's edge is moved onto it.
    bary = np.clip(bary, 0.0, None)
    bary /= bary.sum(axis=1, keepdims=True)
    points = (pix[faces[fid]] * bary[:, :, None]).sum(axis=1)
    inside = raster.mask.astype(np.uint8)
    dist = cv2.distanceTransform(np.pad(inside, 1), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    col = np.clip(np.floor(points[:, 0] * ss).astype(np.int64), 0, width * ss - 1)
    row = np.clip(np.floor(points[:, 1] * ss).astype(np.int64), 0, height * ss - 1)
    rim_distance = np.maximum(dist[row, col] - 0.5, 0.0) / ss
    return fid, bary, points, spacing, rim_distance


def _rest_axes(vertices: np.ndarray, pix: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-face tangent axes and pixel-to-world stretch.

    Returns:
        (frames float64 [F, 3, 3] with columns a1, a2, n: the principal
        directions of the face's pixel-to-world Jacobian and the outward
        normal (right-handed); stretch float64 [F, 2] metres per pixel along
        a1 and a2).
    """
    p3 = vertices[faces]
    p2 = pix[faces]
    e3 = np.stack([p3[:, 1] - p3[:, 0], p3[:, 2] - p3[:, 0]], axis=2)  # [F, 3, 2]
    e2 = np.stack([p2[:, 1] - p2[:, 0], p2[:, 2] - p2[:, 0]], axis=2)  # [F, 2, 2]
    det = e2[:, 0, 0] * e2[:, 1, 1] - e2[:, 0, 1] * e2[:, 1, 0]
    det = np.where(np.abs(det) < 1e-12, np.where(det < 0, -1e-12, 1e-12), det)
    inv = np.empty_like(e2)
    inv[:, 0, 0], inv[:, 0, 1] = e2[:, 1, 1] / det, -e2[:, 0, 1] / det
    inv[:, 1, 0], inv[:, 1, 1] = -e2[:, 1, 0] / det, e2[:, 0, 0] / det
    jac = e3 @ inv  # [F, 3, 2] world metres per pixel
    u, s, _ = np.linalg.svd(jac, full_matrices=False)
    a1, a2 = u[:, :, 0], u[:, :, 1]
    normal = np.cross(p3[:, 1] - p3[:, 0], p3[:, 2] - p3[:, 0])
    flip = (np.cross(a1, a2) * normal).sum(1) < 0
    a2[flip] *= -1.0
    n = np.cross(a1, a2)
    frames = np.stack([a1, a2, n], axis=2)
    median = np.median(s[:, 1])
    return frames, np.clip(s, 1e-9, MAX_STRETCH * median)


def _sample_texture(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear lookup of a uint8 texture [H, W, 3] at UVs [N, 2] (origin bottom-left) -> float32 [N, 3] 0..1."""
    h, w = texture.shape[:2]
    n = len(uv)
    cols = 1024
    rows = max(1, -(-n // cols))
    mx = np.zeros(rows * cols, np.float32)
    my = np.zeros(rows * cols, np.float32)
    mx[:n] = uv[:, 0] * w - 0.5
    my[:n] = (1.0 - uv[:, 1]) * h - 0.5
    out = cv2.remap(texture, mx.reshape(rows, cols), my.reshape(rows, cols), cv2.INTER_LINEAR,
                    borderMode=cv2.BORDER_REPLICATE)
    return (out.reshape(-1, texture.shape[2])[:n, :3].astype(np.float32) / 255.0)


def sample_gaussians(shape: Shape3D, motion: Motion3D, view: InputView, fg: Foreground, count: int,
                     seed: int, front_fraction: float = FRONT_FRACTION) -> Gaussians:
    """Sample dynamic Gaussians on the animated surface.

    Args:
        shape: the rest surface (``build_shape``).
        motion: its per-frame vertices float [T, V3, 3] (``lift_motion``).
        view: the input view (working resolution and start-image size).
        fg: the start foreground (working resolution; checked against ``view``).
        count: number of Gaussians N (returned exactly), >= 10.
        seed: random seed (same inputs and seed give the same Gaussians).
        front_fraction: share of Gaussians on the camera-facing sheet.

    Returns:
        ``backend.asset.Gaussians``: means float32 [T, N, 3] (metres, frame 0
        on the rest surface), colors float32 [N, 3] sRGB 0..1 (texture
        sampled at each Gaussian's pixel; back side darkened by 0.9),
        opacities float32 [N], scales float32 [T, N, 3] (standard deviations
        in metres: two tangential from the sample spacing, one normal),
        rotations float32 [T, N, 4] unit quaternions (w, x, y, z) whose local
        z axis is the surface normal, source_pixel int32 [N, 2] (row, column)
        in the start image at its original size. The first
        round(front_fraction * N) Gaussians lie on the front sheet.

    Raises:
        ValueError: ``count`` < 10, or the motion / foreground do not match
            the shape / view.
    """
    if int(count) < 10:
        raise ValueError(f"count must be at least 10, got {count!r}")
    count = int(count)
    verts_t = np.asarray(motion.vertices, dtype=np.float64)
    rest = np.asarray(shape.vertices, dtype=np.float64)
    if verts_t.ndim != 3 or verts_t.shape[1:] != rest.shape:
        raise ValueError(f"motion vertices must be [T, {len(rest)}, 3], got {verts_t.shape}")
    width, height = view.size
    if fg.mask.shape != (height, width):
        raise ValueError("foreground and input view have different working resolutions")
    rng = np.random.default_rng(seed)
    faces = np.asarray(shape.faces, dtype=np.int64)
    pix, _ = view.camera_work.project(rest)
    is_back = (np.asarray(shape.side)[faces] < 0).any(axis=1)
    groups = [np.nonzero(~is_back)[0], np.nonzero(is_back)[0]]
    n_front = int(round(front_fraction * count)) if len(groups[1]) else count
    wanted = [n_front, count - n_front]

    fids, barys, points, spacings, back, rims = [], [], [], [], [], []
    for g_faces, n in zip(groups, wanted):
        if n == 0 or len(g_faces) == 0:
            continue
        fid, bary, pts, spacing, rim = sample_side(pix, faces[g_faces], n, rng, width, height)
        rims.append(rim)
        fids.append(g_faces[fid])
        barys.append(bary)
        points.append(pts)
        spacings.append(np.full(n, spacing))
        back.append(np.full(n, g_faces is groups[1]))
    fid = np.concatenate(fids)
    bary = np.concatenate(barys)
    points = np.concatenate(points)
    spacing = np.concatenate(spacings)
    back = np.concatenate(back)
    rim = np.concatenate(rims)

    frames, stretch = _rest_axes(rest, pix, faces)
    # Footprints near the outline shrink so that they end about at it: the
    # silhouette from the input view stays the start image's (1.5 sigma rule,
    # as ``backend.render.splat.coverage_mask``).
    sigma_px = TANGENTIAL_SIGMA * spacing
    rim_factor = np.clip((rim + RIM_OVERFLOW_PX) / (1.5 * sigma_px), RIM_MIN_FACTOR, 1.0)
    tangential = (sigma_px * rim_factor)[:, None] * stretch[fid]  # [N, 2] metres
    normal_sigma = NORMAL_RATIO * tangential.min(axis=1)
    q_rest_face = quats_from_matrix(frames)  # [F, 4]
    # Rest tangent axes in each face's own (t1, t2) frame, to measure their stretch per frame.
    tri_motion = TriangleMotion(rest, faces)
    axes_local = np.einsum("fki,fkj->fij", tri_motion.rest_frames[:, :, :2], frames[:, :, :2])  # [F, 2, 2]

    frame_count = verts_t.shape[0]
    means = np.empty((frame_count, count, 3), np.float32)
    scales = np.empty((frame_count, count, 3), np.float32)
    rotations = np.empty((frame_count, count, 4), np.float32)
    tri = faces[fid]
    # Means are a fixed sparse blend of the vertices: [N, V3] barycentric rows.
    blend = sp.csr_matrix((bary.ravel(), (np.repeat(np.arange(count), 3), tri.ravel())), shape=(count, len(rest)))
    for t in range(frame_count):
        v = rest if t == 0 else verts_t[t]
        means[t] = blend @ v
        rot, grad = tri_motion.at(v)
        q = multiply(quats_from_matrix(rot), q_rest_face)  # per face
        rotations[t] = (q / np.linalg.norm(q, axis=1, keepdims=True))[fid]
        stretch_t = np.clip(np.linalg.norm(grad @ axes_local, axis=1), 0.05, 20.0)[fid]  # [N, 2] axis stretch
        scales[t, :, :2] = tangential * stretch_t
        scales[t, :, 2] = normal_sigma * np.sqrt(stretch_t[:, 0] * stretch_t[:, 1])

    uv = (np.asarray(shape.uv, dtype=np.float64)[tri] * bary[:, :, None]).sum(axis=1)
    colors = _sample_texture(np.asarray(shape.texture), uv)
    colors[back] *= BACK_SHADE
    image_px = view.to_image_pixels(points)
    iw, ih = view.camera_image.width, view.camera_image.height
    source_pixel = np.stack([np.clip(np.floor(image_px[:, 1]), 0, ih - 1),
                             np.clip(np.floor(image_px[:, 0]), 0, iw - 1)], axis=1).astype(np.int32)
    return Gaussians(
        means=means,
        colors=np.clip(colors, 0.0, 1.0).astype(np.float32),
        opacities=np.full(count, OPACITY, np.float32),
        scales=scales,
        rotations=rotations,
        source_pixel=source_pixel,
    )
