"""Lifting the 2D motion to 3D: exact reprojection, rigid motions stay rigid, shrinking does not crumple."""

import threading

import numpy as np
import pytest
from test_geometry3d import ellipse_mask, gradient_foreground, mask_mesh

from backend.errors import Cancelled
from backend.geometry3d.mesh_ops import unique_edges
from backend.progress import Progress
from backend.stages.geometry import build_shape, input_view, surface_pixel_weights
from backend.stages.motion import lift_motion
from backend.types import Motion2D

W, H, T = 96, 80, 13


@pytest.fixture(scope="module")
def scene():
    mask = ellipse_mask(W, H, 48, 40, 36, 24)
    mesh = mask_mesh(mask, 5.0)
    view = input_view(mask, (W, H))
    shape = build_shape(mesh, gradient_foreground(mask), view, inflation=0.7)
    return mesh, view, shape


def motion_of(mesh, fn) -> Motion2D:
    return Motion2D(np.stack([fn(mesh.vertices, t / (T - 1)) for t in range(T)]))


def rotate(p, angle, centre):
    c, s = np.cos(angle), np.sin(angle)
    return (p - centre) @ np.array([[c, -s], [s, c]]).T + centre


def edge_strain(vertices, faces):
    e, _ = unique_edges(faces)
    length = np.linalg.norm(vertices[:, e[:, 0]] - vertices[:, e[:, 1]], axis=-1)
    return np.abs(length / length[0] - 1.0)


def reprojection_error(shape, mesh, motion2d, motion3d, view):
    w = surface_pixel_weights(shape, mesh)
    err = 0.0
    for t in range(len(motion2d.trajectories)):
        uv, _ = view.camera_work.project(motion3d.vertices[t])
        err = max(err, float(np.abs(uv - w @ motion2d.trajectories[t]).max()))
    return err


def test_rotation_in_the_image_plane_is_a_rigid_3d_rotation(scene):
    mesh, view, shape = scene
    centre = np.array([view.camera_work.cx, view.camera_work.cy])  # about the optical axis: exactly rigid
    m2 = motion_of(mesh, lambda p, t: rotate(p, 1.2 * t, centre))
    m3 = lift_motion(shape, mesh, m2, view, [0, 6, 12])
    assert m3.vertices.shape == (T, len(shape.vertices), 3)
    assert np.array_equal(m3.vertices[0], shape.vertices)
    assert reprojection_error(shape, mesh, m2, m3, view) < 1e-6
    assert edge_strain(m3.vertices, shape.faces).max() < 0.01
    # Depth is unchanged by a turn about the viewing axis.
    np.testing.assert_allclose(m3.vertices[:, :, 1], np.broadcast_to(shape.vertices[:, 1], m3.vertices.shape[:2]),
                               atol=1e-3)


def test_translation_and_rotation_stay_nearly_rigid(scene):
    # Under perspective an image-space translation is not exactly a rigid 3D
    # motion (the object is seen from a slightly different angle); the strain
    # stays around the ratio of the shift to the focal length.
    mesh, view, shape = scene
    centre = np.array([40.0, 44.0])
    m2 = motion_of(mesh, lambda p, t: rotate(p, 0.5 * t, centre) + np.array([8.0, -5.0]) * t)
    m3 = lift_motion(shape, mesh, m2, view, [0, 12])
    assert reprojection_error(shape, mesh, m2, m3, view) < 1e-6
    strain = edge_strain(m3.vertices, shape.faces)
    assert strain.mean() < 0.01
    assert np.percentile(strain, 99) < 0.02


def test_uniform_shrink_scales_the_depth_profile_without_crumpling(scene):
    mesh, view, shape = scene
    centre = np.array([50.0, 38.0])
    m2 = motion_of(mesh, lambda p, t: (p - centre) * (1.0 - 0.2 * t) + centre)
    m3 = lift_motion(shape, mesh, m2, view, [0, 6, 12])
    assert reprojection_error(shape, mesh, m2, m3, view) < 1e-6
    y0 = shape.vertices[:, 1]
    for t in range(T):
        s = 1.0 - 0.2 * t / (T - 1)
        # The object is 1 m across: a few % of its size is a few centimetres.
        assert np.abs(m3.vertices[t, :, 1] - s * y0).max() < 0.02
    # No crumpling: front stays in front of the plane, back behind it.
    assert np.all(m3.vertices[-1, shape.side == 1, 1] < 0)
    assert np.all(m3.vertices[-1, shape.side == -1, 1] > 0)


@pytest.fixture(scope="module")
def tube():
    mask = np.zeros((60, 180), bool)
    mask[18:42, 15:165] = True  # a telescope-like strip, 24 px thick
    mesh = mask_mesh(mask, 4.0)
    view = input_view(mask, (180, 60))
    return mesh, view, build_shape(mesh, gradient_foreground(mask), view, inflation=0.7)


@pytest.mark.parametrize("along, across, thickness", [(0.5, 1.0, 1.0), (1.5, 1.0, 1.0), (1.0, 0.6, 0.6)])
def test_depth_follows_the_cross_section_not_the_length(tube, along, across, thickness):
    # Retracting or extending a telescope keeps its round section; squeezing it across thins it.
    mesh, view, shape = tube
    centre = np.array([90.0, 30.0])
    scale = np.array([along, across]) - 1.0
    m2 = motion_of(mesh, lambda p, t: (p - centre) * (1.0 + scale * t) + centre)
    m3 = lift_motion(shape, mesh, m2, view, [0, 6, 12])
    assert reprojection_error(shape, mesh, m2, m3, view) < 1e-6
    y0, y1 = shape.vertices[:, 1], m3.vertices[-1, :, 1]
    ratio = (y1.max() - y1.min()) / (y0.max() - y0.min())
    assert ratio == pytest.approx(thickness, abs=0.06)
    # Smooth, not crumpled: every vertex keeps its side of the plane and its scaled height.
    assert np.all(y1[shape.side == 1] < 0) and np.all(y1[shape.side == -1] > 0)
    middle = np.abs(m2.trajectories[-1] @ np.array([1.0, 0.0]) - 90.0)
    inner = (shape.side != 0) & ((surface_pixel_weights(shape, mesh) @ middle) < 0.3 * 75 * along)
    assert np.abs(y1[inner] - thickness * y0[inner]).max() < 0.1 * (y0.max() - y0.min())


def test_in_between_frames_are_smooth_in_time(scene):
    mesh, view, shape = scene
    centre = np.array([48.0, 40.0])
    m2 = motion_of(mesh, lambda p, t: (p - centre) * (1.0 - 0.3 * t) + centre)
    m3 = lift_motion(shape, mesh, m2, view, [0, 4, 8, 12])
    y = m3.vertices[:, :, 1]
    second = np.abs(y[2:] - 2 * y[1:-1] + y[:-2]).max()
    first = np.abs(np.diff(y, axis=0)).max()
    assert second < 0.25 * first


def test_progress_is_reported_and_cancel_propagates(scene):
    mesh, view, shape = scene
    m2 = motion_of(mesh, lambda p, t: p + np.array([3.0, 0.0]) * t)
    events = []
    progress = Progress([("motion", 1.0)], sink=events.append)
    progress.current = "motion"
    lift_motion(shape, mesh, m2, view, [0, 12], progress)
    fractions = [e["fraction"] for e in events if e["type"] == "progress"]
    assert fractions and fractions[-1] == pytest.approx(1.0)
    assert fractions == sorted(fractions)
    cancel = threading.Event()
    cancel.set()
    stopped = Progress([("motion", 1.0)], cancel=cancel)
    stopped.current = "motion"
    with pytest.raises(Cancelled):
        lift_motion(shape, mesh, m2, view, [0, 12], stopped)


def test_mismatched_motion_is_rejected(scene):
    mesh, view, shape = scene
    with pytest.raises(ValueError):
        lift_motion(shape, mesh, Motion2D(np.zeros((3, 5, 2))), view, [0])
    moved = motion_of(mesh, lambda p, t: p + 5.0)  # frame 0 is not the rest pose
    with pytest.raises(ValueError):
        lift_motion(shape, mesh, moved, view, [0])


def test_cross_section_metric_points_across_strips_and_is_isotropic_in_discs():
    from backend.stages.motion.cross_section import cross_section_metric

    strip = np.zeros((40, 120), bool)
    strip[10:30, 10:110] = True
    mesh = mask_mesh(strip, 3.0)
    shape = build_shape(mesh, gradient_foreground(strip), input_view(strip, (120, 40)))
    n = len(mesh.vertices)
    m = cross_section_metric(mesh.vertices, np.abs(shape.vertices[:n, 1]), mesh.faces)
    np.testing.assert_allclose(m[:, 0, 0] + m[:, 1, 1], 1.0)
    middle = (np.abs(mesh.vertices[:, 0] - 60) < 30) & (np.abs(mesh.vertices[:, 1] - 20) < 6)
    assert np.median(m[middle, 1, 1]) > 0.85  # across the strip = image v
    disc = ellipse_mask(80, 80, 40, 40, 30, 30)
    mesh = mask_mesh(disc, 4.0)
    shape = build_shape(mesh, gradient_foreground(disc), input_view(disc, (80, 80)))
    m = cross_section_metric(mesh.vertices, np.abs(shape.vertices[:len(mesh.vertices), 1]), mesh.faces)
    inner = np.linalg.norm(mesh.vertices - 40, axis=1) < 20
    assert np.abs(m[inner, 0, 0] - 0.5).max() < 0.15
