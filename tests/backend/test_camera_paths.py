"""Camera paths (MoRe4D's five + orbit): frame 0, look-at, loop closure, distances, levelness."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend.asset import Camera
from backend.asset.camera_paths import CAMERA_PATHS, LOOPING_PATHS, camera_path, path_amplitude, scene_target

T = 24


def _base(position=(0.3, -3.0, 0.4), tilt_deg=-5.0):
    """A level input-view camera looking toward +Y, pitched down a little (no roll)."""
    cam = Camera.looking_along_y(64, 48, 60.0, position)
    m = cam.matrix_world.copy()
    a = math.radians(tilt_deg)
    pitch = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    m[:3, :3] = pitch @ m[:3, :3]
    return m


TARGET = np.array([0.0, 0.2, 0.1])  # off the base's optical axis on purpose


def _camera_dir_to_target(poses, target):
    """Direction to the target in each camera's local frame [T, 3] (unit)."""
    local = np.einsum("tji,tj->ti", poses[:, :3, :3], target[None] - poses[:, :3, 3])
    return local / np.linalg.norm(local, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", CAMERA_PATHS)
def test_every_path_is_rigid_keeps_the_target_on_its_pixel_and_stays_level(kind):
    base = _base()
    poses = camera_path(kind, base, TARGET, T)
    assert poses.shape == (T, 4, 4)
    rot = poses[:, :3, :3]
    np.testing.assert_allclose(rot @ np.transpose(rot, (0, 2, 1)), np.broadcast_to(np.eye(3), (T, 3, 3)), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-9)
    np.testing.assert_allclose(poses[:, 3], np.broadcast_to([0, 0, 0, 1.0], (T, 4)))
    d = _camera_dir_to_target(poses, TARGET)
    np.testing.assert_allclose(d, np.broadcast_to(d[0], d.shape), atol=1e-9)
    d_base = _camera_dir_to_target(base[None], TARGET)[0]
    np.testing.assert_allclose(d[0], d_base, atol=1e-9)
    # The base has no roll (image right is horizontal): no frame rolls.
    np.testing.assert_allclose(poses[:, 2, 0], 0.0, atol=1e-9)


@pytest.mark.parametrize("kind", [k for k in CAMERA_PATHS if k != "circle"])
def test_frame_zero_is_the_base_pose(kind):
    base = _base()
    np.testing.assert_array_equal(camera_path(kind, base, TARGET, T)[0], base)


def test_circle_is_centred_on_the_base_in_its_image_plane():
    base = _base()
    poses = camera_path("circle", base, TARGET, T)
    offsets = poses[:, :3, 3] - base[:3, 3]
    radius = path_amplitude("circle", float(np.linalg.norm(TARGET - base[:3, 3])))
    np.testing.assert_allclose(np.linalg.norm(offsets, axis=1), radius, rtol=1e-9)
    np.testing.assert_allclose(offsets @ base[:3, 2], 0.0, atol=1e-12)  # no motion along the view axis
    np.testing.assert_allclose(offsets.mean(axis=0), 0.0, atol=1e-12)  # centred on the base
    np.testing.assert_allclose(offsets[0], radius * base[:3, 0], atol=1e-12)  # documented start: image right


@pytest.mark.parametrize("kind", sorted(LOOPING_PATHS - {"static"}))
def test_loops_close_with_an_ordinary_step(kind):
    poses = camera_path(kind, _base(), TARGET, T)
    pos = poses[:, :3, 3]
    steps = np.linalg.norm(np.diff(pos, axis=0), axis=1)
    wrap = np.linalg.norm(pos[0] - pos[-1])
    assert wrap > 0
    assert wrap <= steps.max() + 1e-12


def test_orbit_and_yaw_paths_keep_their_distance_and_cover_their_angles():
    base = _base()
    c0 = base[:3, 3]
    dist = np.linalg.norm(TARGET - c0)
    for kind, expected_span in (("orbit", 360.0 * (T - 1) / T), ("rotate", 60.0), ("arc", 45.0)):
        pos = camera_path(kind, base, TARGET, T)[:, :3, 3]
        np.testing.assert_allclose(np.linalg.norm(pos - TARGET, axis=1), dist, rtol=1e-9)
        rel = pos - TARGET
        az = np.degrees(np.unwrap(np.arctan2(rel[:, 1], rel[:, 0])))
        span = az.max() - az.min()
        # rotate: sin at T samples may miss the exact peaks by a fraction of a step
        assert span == pytest.approx(expected_span, abs=360.0 / T)
    arc = camera_path("arc", base, TARGET, T)[:, :3, 3]
    assert arc[-1, 2] > arc[0, 2]  # the arc rises


def test_dolly_moves_along_the_ray_and_never_reaches_the_nearest_surface():
    base = _base()
    c0 = base[:3, 3]
    near = 1.5
    poses = camera_path("dolly", base, TARGET, T, strength=5.0, depth_range=(near, 4.0))
    pos = poses[:, :3, 3]
    ray = (TARGET - c0) / np.linalg.norm(TARGET - c0)
    along = (pos - c0) @ ray
    np.testing.assert_allclose(pos - c0, along[:, None] * ray[None], atol=1e-12)
    assert along.max() > 0 and along.min() < 0  # in and out
    assert along.max() <= 0.9 * near + 1e-12  # strength is clamped before the surface
    np.testing.assert_allclose(poses[:, :3, :3], np.broadcast_to(base[:3, :3], (T, 3, 3)))


def test_strength_scales_and_zero_is_static():
    base = _base()
    for kind in ("dolly", "circle", "rotate", "arc"):
        small = camera_path(kind, base, TARGET, T, strength=0.5)[:, :3, 3] - base[:3, 3]
        big = camera_path(kind, base, TARGET, T, strength=1.0)[:, :3, 3] - base[:3, 3]
        assert np.abs(big).max() > np.abs(small).max() > 0
        if kind != "circle":
            np.testing.assert_allclose(camera_path(kind, base, TARGET, T, strength=0.0), np.broadcast_to(base, (T, 4, 4)), atol=1e-12)


def test_scene_target_is_mid_depth_on_the_view_axis():
    base = _base()
    cam = Camera(64, 48, 60.0, 60.0, 32.0, 24.0, base)
    p = scene_target(base, (2.0, 6.0))
    uv, depth = cam.project(p[None])
    np.testing.assert_allclose(uv[0], (32.0, 24.0), atol=1e-9)
    assert depth[0] == pytest.approx(4.0)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kind": "spiral"}, "must be one of"),
        ({"frame_count": 1}, ">= 2"),
        ({"strength": -1.0}, "strength"),
        ({"target": (0.3, -3.0, 0.4)}, "at the camera"),
        ({"target": (0.3, -5.0, 0.4)}, "behind the camera"),
        ({"base": np.eye(4), "target": (0.0, 0.0, -3.0)}, "straight up or down"),
        ({"base": np.diag([2.0, 2.0, 2.0, 1.0])}, "rigid"),
        ({"depth_range": (3.0, 1.0)}, "near <= far"),
    ],
)
def test_bad_input_is_refused_clearly(kwargs, message):
    args = {"kind": "rotate", "base": _base(tilt_deg=0.0), "target": TARGET, "frame_count": T}
    args.update(kwargs)
    extra = {"depth_range": args.pop("depth_range")} if "depth_range" in args else {}
    strength = args.pop("strength", 1.0)
    with pytest.raises(ValueError, match=message):
        camera_path(args["kind"], args["base"], args["target"], args["frame_count"], strength=strength, **extra)


def test_a_rolled_base_keeps_its_roll_and_the_target_pixel():
    base = _base()
    a = math.radians(12.0)
    roll = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1.0]])
    base[:3, :3] = base[:3, :3] @ roll  # about the local view axis
    for kind in ("circle", "arc", "orbit"):
        poses = camera_path(kind, base, TARGET, T)
        d = _camera_dir_to_target(poses, TARGET)
        np.testing.assert_allclose(d, np.broadcast_to(_camera_dir_to_target(base[None], TARGET)[0], d.shape), atol=1e-9)
        # roll = angle of image right above the horizontal plane, constant along the path
        right = poses[:, :3, 0]
        up = poses[:, :3, 1]
        roll_angle = np.arctan2(right[:, 2], up[:, 2])
        np.testing.assert_allclose(roll_angle, roll_angle[0], atol=1e-9)
        assert abs(roll_angle[0]) > 0.1
