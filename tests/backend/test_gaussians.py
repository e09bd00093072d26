"""Gaussians on the lifted surface: count, coverage of the start silhouette, motion along the surface."""

import cv2
import numpy as np
import pytest
from scipy.spatial import cKDTree
from test_geometry3d import ellipse_mask, gradient_foreground, mask_mesh

from backend.gaussians import sample_gaussians
from backend.geometry3d.quaternions import matrix_from_quats
from backend.render.rasterize import rasterize
from backend.render.splat import coverage_mask
from backend.stages.geometry import build_shape, input_view
from backend.stages.motion import lift_motion
from backend.types import Motion2D

W, H, T, N = 120, 96, 5, 6000
IMAGE = (240, 192)  # the start image is twice the working resolution


def iou(a, b):
    return float((a & b).sum() / (a | b).sum())


@pytest.fixture(scope="module")
def scene():
    mask = ellipse_mask(W, H, 56, 50, 40, 30)
    mask[8:30, 70:76] = True  # a chimney: a narrow part with a corner
    mesh = mask_mesh(mask, 5.0)
    view = input_view(mask, IMAGE)
    fg = gradient_foreground(mask)
    shape = build_shape(mesh, fg, view)
    centre = np.array([view.camera_work.cx, view.camera_work.cy])
    angles = np.linspace(0.0, 0.6, T)
    c, s = np.cos(angles), np.sin(angles)
    rot = np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)  # [T, 2, 2]
    traj = np.einsum("tij,vj->tvi", rot, mesh.vertices - centre) + centre
    traj[:, :, 0] += np.linspace(0, 6, T)[:, None]
    motion2d = Motion2D(traj)
    motion3d = lift_motion(shape, mesh, motion2d, view, [0, T - 1])
    gaussians = sample_gaussians(shape, motion3d, view, fg, N, seed=3)
    return mask, mesh, view, fg, shape, motion2d, motion3d, gaussians


def test_layout_count_and_dtypes(scene):
    *_, g = scene
    assert g.means.shape == (T, N, 3) and g.means.dtype == np.float32
    assert g.colors.shape == (N, 3) and g.colors.dtype == np.float32
    assert g.opacities.shape == (N,) and np.all((g.opacities > 0.85) & (g.opacities <= 1.0))
    assert g.scales.shape == (T, N, 3) and np.all(g.scales > 0)
    assert g.rotations.shape == (T, N, 4)
    np.testing.assert_allclose(np.linalg.norm(g.rotations, axis=-1), 1.0, atol=1e-5)
    assert g.source_pixel.dtype == np.int32 and g.source_pixel.shape == (N, 2)
    assert np.all(g.source_pixel >= 0)
    assert np.all(g.source_pixel[:, 0] < IMAGE[1]) and np.all(g.source_pixel[:, 1] < IMAGE[0])
    # Flat discs: the normal axis (local z) is the thin one.
    assert np.all(g.scales[0, :, 2] < 0.5 * g.scales[0, :, :2].min(axis=1))


def test_frame_zero_covers_the_start_silhouette(scene):
    mask, mesh, view, fg, shape, m2, m3, g = scene
    target = cv2.resize(mask.astype(np.uint8), IMAGE, interpolation=cv2.INTER_NEAREST).astype(bool)
    ellipses = coverage_mask(g.means[0], g.scales[0], view.camera_image, rotations=g.rotations[0])
    discs = coverage_mask(g.means[0], g.scales[0], view.camera_image)
    assert iou(ellipses, target) >= 0.95
    assert iou(discs, target) >= 0.95
    # The front sheet alone has no holes.
    front = coverage_mask(g.means[0], g.scales[0], view.camera_image, front_only=True, rotations=g.rotations[0])
    assert iou(front, target) >= 0.95


def test_later_frames_follow_the_2d_motion(scene):
    mask, mesh, view, fg, shape, m2, m3, g = scene
    scale = np.array([IMAGE[0] / W, IMAGE[1] / H])
    for t in (2, T - 1):
        target = rasterize(m2.trajectories[t] * scale, mesh.faces, *IMAGE).mask
        cover = coverage_mask(g.means[t], g.scales[t], view.camera_image, rotations=g.rotations[t])
        assert iou(cover, target) >= 0.9


def test_gaussians_ride_on_their_triangles(scene):
    mask, mesh, view, fg, shape, m2, m3, g = scene
    # Every mean lies on the surface of its frame: it projects inside the moved 2D mesh ...
    t = T - 1
    inside = rasterize(m2.trajectories[t], mesh.faces, W, H).mask
    # Rim points sit on the outline: allow one pixel.
    inside = cv2.dilate(inside.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    uv, _ = view.camera_work.project(g.means[t].astype(np.float64))
    px = np.clip(np.floor(uv).astype(int), 0, [W - 1, H - 1])
    assert inside[px[:, 1], px[:, 0]].all()
    # ... and, for this rigid turn about the optical axis, keeps its distances to the others.
    i = np.random.default_rng(0).choice(N, 300, replace=False)
    d0 = np.linalg.norm(g.means[0, i, None] - g.means[0, None, i], axis=-1)
    dt = np.linalg.norm(g.means[t, i, None] - g.means[t, None, i], axis=-1)
    assert np.abs(dt - d0).max() < 0.03  # metres, on a 1 m object moved 6 px sideways


def test_rotations_turn_with_the_surface(scene):
    *_, g = scene
    # The object turns (nearly) rigidly: the Gaussians' normals turn like their means.
    p0 = g.means[0].astype(np.float64)
    p1 = g.means[-1].astype(np.float64)
    u, _, vt = np.linalg.svd((p1 - p1.mean(0)).T @ (p0 - p0.mean(0)))
    turn = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt  # Kabsch: p1 ~ turn p0
    assert np.degrees(np.arccos((np.trace(turn) - 1) / 2)) > 25.0
    n0 = matrix_from_quats(g.rotations[0])[:, :, 2]
    n1 = matrix_from_quats(g.rotations[-1])[:, :, 2]
    agree = (n1 * (n0 @ turn.T)).sum(axis=1)
    assert np.median(agree) > 0.99
    assert np.percentile(agree, 5) > 0.95
    # Rest orientation: local z is the outward normal (front discs face the camera, -Y).
    front = p0[:, 1] < -0.05
    assert np.all(n0[front, 1] < 0)


def test_front_is_denser_and_sampling_has_no_clumps(scene):
    mask, mesh, view, fg, shape, m2, m3, g = scene
    y = g.means[0, :, 1]
    front = y < 0
    assert 0.55 < front.mean() < 0.65
    # Stratified: nearest neighbours on the front sheet are never much closer than the grid spacing.
    uv, _ = view.camera_work.project(g.means[0, front].astype(np.float64))
    spacing = np.sqrt(mask.sum() / front.sum())
    nearest = cKDTree(uv).query(uv, k=2)[0][:, 1]
    assert np.percentile(nearest, 1) > 0.15 * spacing
    assert np.median(nearest) > 0.6 * spacing


def test_colours_and_source_pixels_come_from_the_start_image(scene):
    mask, mesh, view, fg, shape, m2, m3, g = scene
    front = g.means[0, :, 1] < 0
    row, col = g.source_pixel[:, 0], g.source_pixel[:, 1]
    # The gradient image encodes the column in red and the row in green (at working resolution).
    red = (col[front] + 0.5) / IMAGE[0]
    green = (row[front] + 0.5) / IMAGE[1]
    assert np.abs(g.colors[front, 0] - red).mean() < 0.02
    assert np.abs(g.colors[front, 1] - green).mean() < 0.02
    # The back is the mirrored front, slightly darker.
    assert g.colors[~front].mean() < g.colors[front].mean()


def test_seed_makes_it_reproducible(scene):
    mask, mesh, view, fg, shape, m2, m3, g = scene
    again = sample_gaussians(shape, m3, view, fg, N, seed=3)
    other = sample_gaussians(shape, m3, view, fg, N, seed=4)
    assert np.array_equal(again.means, g.means)
    assert not np.array_equal(other.means, g.means)
    with pytest.raises(ValueError):
        sample_gaussians(shape, m3, view, fg, 5, seed=0)
