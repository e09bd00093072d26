"""The 3D-truth benchmark's metrics on hand-made cases with known answers (numpy only, no bpy)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from backend.asset import Camera  # noqa: E402
from backend.asset.camera import LOOK_ALONG_PLUS_Y  # noqa: E402
from benchmarks.truth3d.metrics import (  # noqa: E402
    MovingShape,
    camera_frame_map,
    fit_scale_translation,
    fit_view_scale,
    iou,
    references,
    score,
    step_ratio,
    surface_distance,
    trajectory_error,
)
from benchmarks.truth3d.truth import (  # noqa: E402
    CAMERA_NAMES,
    TruthCase,
    build_truth,
    carry_points,
    load_truth,
    look_at,
    mesh_silhouette,
    save_truth,
)


def cube_mesh(size: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """A closed axis-aligned cube centred at the origin: vertices [8, 3], outward triangles [12, 3]."""
    h = size / 2
    v = np.array([[x, y, z] for x in (-h, h) for y in (-h, h) for z in (-h, h)], np.float64)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    faces = np.array([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))], np.int32)
    return v, faces


def translating_cube(frames: int, distance: float) -> tuple[np.ndarray, np.ndarray]:
    """A unit cube moving at constant speed along +X by ``distance`` metres over ``frames`` frames."""
    v, f = cube_mesh()
    offsets = np.linspace(0.0, distance, frames)[:, None, None] * np.array([1.0, 0.0, 0.0])
    return v[None] + offsets, f


def truth_case(vertices, faces, size=64, points=600) -> TruthCase:
    t = build_truth(vertices, faces, size, point_count=points)
    return TruthCase("cube", t["vertices"], t["faces"], t["points"], t["moving"], t["silhouettes"], t["cameras"])


def test_iou_of_hand_made_masks():
    a = np.zeros((20, 20), bool)
    b = np.zeros((20, 20), bool)
    a[0:10, 0:10] = True
    b[0:10, 5:15] = True  # half of a, shifted: 50 shared of 150 covered
    assert iou(a, a) == 1.0
    assert iou(a, b) == pytest.approx(50 / 150)
    assert iou(a, ~a) == 0.0
    assert iou(np.zeros_like(a), np.zeros_like(a)) == 1.0


def test_silhouette_of_a_square_plate_has_its_projected_area_and_shifted_iou():
    # A 1 m square facing a 100 px-focal camera from 2.5 m spans exactly 40 x 40 pixels.
    cam = Camera(100, 100, 100.0, 100.0, 50.0, 50.0, look_at((0, -2.5, 0), (0, 0, 0), (0, 0, 1)))
    v = np.array([[-0.5, 0, -0.5], [0.5, 0, -0.5], [0.5, 0, 0.5], [-0.5, 0, 0.5]])
    f = np.array([[0, 1, 2], [0, 2, 3]])
    m0 = mesh_silhouette(v, f, cam)
    assert m0.sum() == 40 * 40
    # Shifted by half its width (20 px): IoU = 20*40 / (60*40) = 1/3.
    m1 = mesh_silhouette(v + [0.5, 0, 0], f, cam)
    assert iou(m0, m1) == pytest.approx(1 / 3, abs=1e-9)


def test_look_at_follows_blender_camera_convention():
    m = look_at((0, -5, 0), (0, 0, 0), (0, 0, 1))
    # The camera looks down its local -Z (world +Y here), local +Y is world up: the pipeline's input camera.
    np.testing.assert_allclose(m[:3, :3], LOOK_ALONG_PLUS_Y, atol=1e-12)
    np.testing.assert_allclose(m[:3, 3], [0, -5, 0])
    with pytest.raises(ValueError):
        look_at((0, 0, 5), (0, 0, 0), (0, 0, 1))


def test_alignment_recovers_a_known_scale_and_translation():
    rng = np.random.default_rng(3)
    src = rng.normal(size=(400, 3)) * [1.0, 0.6, 0.3]
    dst = 2.5 * src + np.array([1.0, -2.0, 3.0])
    for iterations in (0, 10):
        s, t = fit_scale_translation(src, dst, icp_iterations=iterations)
        assert s == pytest.approx(2.5, rel=1e-6)
        np.testing.assert_allclose(t, [1.0, -2.0, 3.0], atol=1e-6)
    # Only a subset of the target: ICP (nearest neighbours both ways) still lands on the true map.
    s, t = fit_scale_translation(src, dst[:300], icp_iterations=30)
    assert s == pytest.approx(2.5, rel=0.05)
    with pytest.raises(ValueError):
        fit_scale_translation(src[:1], dst)


def test_view_alignment_keeps_the_input_projection():
    cam_a = Camera(64, 64, 150.0, 150.0, 32.0, 32.0, look_at((0, -3, 0), (0, 0, 0), (0, 0, 1)))
    cam_t = Camera(64, 64, 150.0, 150.0, 32.0, 32.0, look_at((1, -7, 2), (1, 0, 2), (0, 0, 1)))
    rng = np.random.default_rng(0)
    pts = rng.normal(scale=0.3, size=(200, 3))
    local_a = cam_a.world_to_camera(pts)
    truth_local = 7.0 / 3.0 * local_a  # the same object, 7/3 times larger and further away
    s, t = fit_view_scale(local_a, truth_local)
    assert s == pytest.approx(7.0 / 3.0)
    mapped = camera_frame_map(cam_a, cam_t, s, t)(pts)
    np.testing.assert_allclose(cam_t.project(mapped)[0], cam_a.project(pts)[0], atol=1e-9)


def test_step_ratio_of_uniform_jump_and_still_motions():
    T = 9
    line = np.linspace(0, 1, T)[:, None, None] * np.ones((1, 5, 3))
    jump = (np.arange(T) >= 4)[:, None, None] * np.ones((1, 5, 3))
    assert step_ratio(line) == pytest.approx(1.0)
    assert step_ratio(jump) == pytest.approx(T - 1)
    assert np.isnan(step_ratio(np.zeros((T, 5, 3))))


def test_identical_shapes_score_perfectly():
    v, f = translating_cube(7, 0.8)
    truth = truth_case(v, f)
    same = MovingShape(truth.points, truth.vertices, truth.faces)
    row = score(truth, same)
    assert row["front_inbetween_iou"] == 1.0 and row["side_iou"] == 1.0
    assert row["surface_dist"] == 0.0 and row["trajectory_err"] == 0.0
    assert row["smoothness"] == pytest.approx(1.0)


def test_references_of_a_translating_cube_have_known_errors():
    T, D = 9, 0.8
    v, f = translating_cube(T, D)
    truth = truth_case(v, f)
    diag = np.sqrt((1 + D) ** 2 + 1 + 1)
    assert truth.diagonal == pytest.approx(diag, rel=1e-6)
    assert truth.moving.all()
    frac = np.arange(T) / (T - 1)
    refs = references(truth)
    rows = {name: score(truth, shape) for name, shape in refs.items()}
    # The truth itself moves in straight lines at constant speed: the linear reference is exact.
    assert rows["linear"]["trajectory_err"] == pytest.approx(0.0, abs=1e-6)
    assert rows["linear"]["side_iou"] == pytest.approx(1.0)
    # An unmoving copy lags by frac * D at every frame.
    assert rows["static"]["trajectory_err"] == pytest.approx(np.mean(frac * D) / diag, rel=1e-5)
    assert rows["static"]["motion_err"] == pytest.approx(rows["static"]["trajectory_err"], rel=1e-6)
    # A jump at T // 2 is frac * D behind before, (1 - frac) * D ahead after.
    jump_err = np.where(np.arange(T) >= T // 2, 1 - frac, frac) * D
    assert rows["jump"]["trajectory_err"] == pytest.approx(np.mean(jump_err) / diag, rel=1e-5)
    assert rows["jump"]["smoothness"] == pytest.approx(T - 1)
    assert rows["static"]["front_first_iou"] == 1.0 and rows["static"]["front_last_iou"] < 0.7
    # Seen from the top the static copy overlaps the last frame by (1 - D) / (1 + D) of a unit square.
    top = CAMERA_NAMES.index("top")
    assert iou(refs["static"].silhouette(T - 1, truth.cameras["top"]), truth.silhouettes[top, T - 1]) == \
        pytest.approx((1 - D) / (1 + D), abs=0.06)


def test_distances_to_a_shifted_copy():
    v, f = translating_cube(5, 0.5)
    truth = truth_case(v, f)
    shift = np.array([0.0, 0.0, 0.05])
    # Truth points -> the same points moved 5 cm: every nearest distance is at most 5 cm.
    d = surface_distance(truth.points, truth.points + shift)
    assert 0.0 < d <= 0.05 + 1e-6
    # Both move by the same translation, so each pair keeps its frame-0 distance: the error is the mean
    # frame-0 nearest-neighbour distance (brute force here), at most the 5 cm shift.
    p0 = truth.points[0].astype(np.float64)
    nearest = np.sqrt(((p0[:, None] - (p0 + shift)[None]) ** 2).sum(axis=2)).min(axis=1)
    err = trajectory_error(truth.points, truth.points + shift)
    assert err == pytest.approx(nearest.mean(), rel=1e-6)
    assert 0.0 < err <= 0.05 + 1e-6
    # The displacements are identical, so the motion-only error is zero.
    assert trajectory_error(truth.points, truth.points + shift, displacement=True) == pytest.approx(0.0, abs=1e-6)


def test_carried_points_follow_their_triangles():
    v, f = translating_cube(4, 1.0)
    face = np.array([0, 5, 11], np.int32)
    bary = np.array([[1, 0, 0], [0.2, 0.3, 0.5], [1 / 3, 1 / 3, 1 / 3]], np.float32)
    pts = carry_points(v, f, face, bary)
    assert pts.shape == (4, 3, 3)
    np.testing.assert_allclose(pts[:, 0], v[:, f[0, 0]], atol=1e-6)
    np.testing.assert_allclose(pts[-1] - pts[0], np.tile([1.0, 0, 0], (3, 1)), atol=1e-6)


def test_cameras_frame_every_frame_and_save_roundtrip(tmp_path):
    v, f = translating_cube(5, 1.5)
    t = build_truth(v, f, 48, point_count=100)
    for c, name in enumerate(CAMERA_NAMES):
        sil = t["silhouettes"][c]
        assert sil.any(axis=(1, 2)).all(), name
        border = sil[:, 0].any() or sil[:, -1].any() or sil[:, :, 0].any() or sil[:, :, -1].any()
        assert not border, f"{name} camera cuts the object off"
    save_truth(tmp_path / "cube", t, {"case": "cube", "description": "test", "tags": []})
    back = load_truth(tmp_path / "cube")
    np.testing.assert_array_equal(back.silhouettes, t["silhouettes"])
    np.testing.assert_allclose(back.cameras["front"].matrix_world, t["cameras"]["front"].matrix_world)
    with pytest.raises(FileNotFoundError, match="generate.py"):
        load_truth(tmp_path / "missing")
