"""Silhouette mesh, ARAP interpolation, correspondences and warps of backend.geometry2d."""

import cv2
import numpy as np
import pytest

from backend.errors import ForegroundError
from backend.geometry2d import arap_interpolate, build_silhouette_mesh, dense_flow, group_matches, mask_iou, warp_maps
from backend.geometry2d.arap_operator import TriangleGradient, closest_rotations
from backend.geometry2d.contour_matching import contour_correspondences, match_outlines
from backend.geometry2d.mesh_ops import boundary_edges, face_adjacency, signed_areas
from backend.render.rasterize import rasterize


def _blob_mask(h=100, w=140):
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (60, 50), (40, 28), 20, 0, 360, 1, -1)
    cv2.rectangle(m, (85, 40), (130, 52), 1, -1)  # an arm sticking out
    return m.astype(bool)


def _ring_mask(size=120):
    m = np.zeros((size, size), np.uint8)
    cv2.circle(m, (60, 60), 45, 1, -1)
    cv2.circle(m, (60, 60), 18, 0, -1)
    return m.astype(bool)


def _face_components(faces):
    pairs = face_adjacency(faces)
    label = np.arange(len(faces))
    for _ in range(len(faces)):
        changed = False
        for a, b in pairs:
            lo = min(label[a], label[b])
            if label[a] != lo or label[b] != lo:
                label[a] = label[b] = lo
                changed = True
        if not changed:
            break
    return len(np.unique(label))


def _covers(mesh, mask):
    h, w = mask.shape
    return rasterize(mesh.vertices, mesh.faces, w, h).mask


def test_mesh_covers_mask_counter_clockwise():
    mask = _blob_mask()
    mesh = build_silhouette_mesh(mask, 6.0)
    assert mesh.vertices.dtype == np.float64 and mesh.faces.dtype == np.int32
    assert mask_iou(_covers(mesh, mask), mask) >= 0.97
    assert (signed_areas(mesh.vertices, mesh.faces) > 0).all()  # counter-clockwise in (u, -v)
    # Outline vertices sit on the mask's edge: within a pixel of an object pixel, never deep outside.
    b = mesh.vertices[mesh.boundary]
    dist_out = cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, 5)
    col, row = np.floor(b[:, 0]).astype(int), np.floor(b[:, 1]).astype(int)
    assert dist_out[row.clip(0, mask.shape[0] - 1), col.clip(0, mask.shape[1] - 1)].max() <= 1.5
    # Edges no longer than asked on the outline (triangle may split them further).
    e = boundary_edges(mesh.faces)
    assert np.linalg.norm(mesh.vertices[e[:, 0]] - mesh.vertices[e[:, 1]], axis=1).max() <= 6.0 + 1e-6


def test_mesh_keeps_holes_open():
    mask = _ring_mask()
    mesh = build_silhouette_mesh(mask, 6.0)
    cover = _covers(mesh, mask)
    assert mask_iou(cover, mask) >= 0.97
    assert not cover[55:66, 55:66].any()  # the hole stays empty
    # Outline edges form the outer circle and the hole: vertices within 3 px of r=18 exist.
    r = np.linalg.norm(mesh.vertices[mesh.boundary] - 60.0, axis=1)
    assert (np.abs(r - 18.0) < 3.0).sum() >= 10 and (np.abs(r - 45.5) < 3.0).sum() >= 10


def test_mesh_several_parts_and_specks():
    m = np.zeros((80, 160), np.uint8)
    cv2.circle(m, (40, 40), 25, 1, -1)
    cv2.rectangle(m, (90, 20), (140, 60), 1, -1)
    m[5:7, 150:152] = 1  # a 4-pixel speck
    mesh = build_silhouette_mesh(m.astype(bool), 8.0)
    assert _face_components(mesh.faces) == 2
    assert not _covers(mesh, m.astype(bool))[5:7, 150:152].any()


def test_mesh_on_real_mask(shared_data):
    from backend.inputs import load_image, prepare_pair
    from backend.stages.foreground import extract_foreground
    pair = shared_data / "pairs" / "in24d_robot_arm"
    a, b = load_image(pair / "start.png"), load_image(pair / "end.png")
    ra, _ = prepare_pair(a, b, 512)
    fg = extract_foreground(a, ra)
    mesh = build_silhouette_mesh(fg.mask, 10.0)
    assert mask_iou(_covers(mesh, fg.mask), fg.mask) >= 0.97
    assert (signed_areas(mesh.vertices, mesh.faces) > 0).all()


def test_empty_mask_is_a_foreground_error():
    with pytest.raises(ForegroundError):
        build_silhouette_mesh(np.zeros((40, 40), bool), 5.0)


def _rotate(v, degrees, centre):
    a = np.deg2rad(degrees)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return (v - centre) @ r.T + centre


def test_arap_interpolation_reproduces_both_poses():
    mesh = build_silhouette_mesh(_blob_mask(), 8.0)
    rng = np.random.default_rng(0)
    target = _rotate(mesh.vertices, 35.0, np.array([70.0, 50.0])) + rng.normal(0, 0.8, mesh.vertices.shape)
    traj = arap_interpolate(mesh.vertices, target, mesh.faces, np.linspace(0, 1, 7))
    assert traj.shape == (7, len(mesh.vertices), 2)
    np.testing.assert_allclose(traj[0], mesh.vertices, atol=1e-6)
    np.testing.assert_allclose(traj[-1], target, atol=1e-6)
    # The least-squares solve itself is consistent at the ends (not only the snapped frames).
    near = arap_interpolate(mesh.vertices, target, mesh.faces, np.array([1e-9, 1.0 - 1e-9]))
    np.testing.assert_allclose(near[0], mesh.vertices, atol=1e-5)
    np.testing.assert_allclose(near[1], target, atol=1e-5)


def test_arap_interpolation_keeps_a_rigid_turn_rigid():
    mesh = build_silhouette_mesh(_blob_mask(), 8.0)
    target = _rotate(mesh.vertices, 90.0, np.array([70.0, 50.0]))
    mid = arap_interpolate(mesh.vertices, target, mesh.faces, np.array([0.5]))[0]
    a0 = signed_areas(mesh.vertices, mesh.faces)
    ratio = signed_areas(mid, mesh.faces) / a0
    assert np.abs(ratio - 1.0).max() < 0.02
    linear = signed_areas(0.5 * (mesh.vertices + target), mesh.faces) / a0
    assert linear.mean() < 0.6  # linear blending shrinks a turning shape


def test_large_turns_agree_across_triangles():
    mesh = build_silhouette_mesh(_blob_mask(), 8.0)
    target = _rotate(mesh.vertices, 170.0, np.array([70.0, 50.0]))
    mid = arap_interpolate(mesh.vertices, target, mesh.faces, np.array([0.5]))[0]
    grad = TriangleGradient(mesh.vertices, mesh.faces)
    _, theta = closest_rotations(grad.jacobians(mid))
    np.testing.assert_allclose(np.rad2deg(theta), 85.0, atol=0.5)  # every triangle half way, same direction
    assert (signed_areas(mid, mesh.faces) > 0).all()


def _strip_faces(count: int) -> np.ndarray:
    """``count`` triangles in a row, each sharing an edge with the next (a strip over two rows of vertices)."""
    faces = []
    for k in range(count):
        a, b = k // 2, k // 2 + 1
        faces.append((a, b, a + 100) if k % 2 == 0 else (b, b + 100, a + 100))
    return np.array(faces, np.int64)


def test_a_sheared_joint_does_not_pass_a_wrong_turning_direction_on():
    from backend.geometry2d.arap_interpolation import unwrap_face_angles

    # Body at 0 deg, a sheared joint at 100 deg, a limb turned -160 deg. Chaining through the joint
    # (steps of 100 and 100 deg) would send the limb round the long way (+200 deg).
    theta = np.deg2rad([0.0] * 8 + [100.0] + [-160.0] * 4)
    out = np.rad2deg(unwrap_face_angles(theta, _strip_faces(len(theta))))
    np.testing.assert_allclose(out[:8], 0.0, atol=1e-9)
    np.testing.assert_allclose(out[9:], -160.0, atol=1e-9)


def test_a_part_turning_through_180_degrees_keeps_one_direction():
    from backend.geometry2d.arap_interpolation import unwrap_face_angles

    # Principal values flip sign across +-180 inside one smoothly turning part: one branch for all.
    theta = np.deg2rad([0.0] * 6 + [150.0, 170.0, 179.0, -178.0, -170.0, -160.0])
    out = np.rad2deg(unwrap_face_angles(theta, _strip_faces(len(theta))))
    np.testing.assert_allclose(out[:6], 0.0, atol=1e-9)
    np.testing.assert_allclose(out[6:], [150.0, 170.0, 179.0, 182.0, 190.0, 200.0], atol=1e-9)


def test_group_matches_separates_rigid_parts_and_drops_outliers():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 60, (30, 2))
    b = rng.uniform(100, 160, (25, 2))
    turn = np.deg2rad(25.0)
    r = np.array([[np.cos(turn), -np.sin(turn)], [np.sin(turn), np.cos(turn)]])
    start = np.vstack([a, b, rng.uniform(0, 160, (6, 2))])
    end = np.vstack([a + [5.0, 2.0], b @ r.T + [-20.0, 40.0], rng.uniform(0, 160, (6, 2))])
    m = group_matches(start, end, threshold_px=2.0)
    assert len(m.models) == 2
    assert len(m) >= 55 - 2 and len(m) <= 57  # the random outliers are (almost all) dropped
    np.testing.assert_allclose(m.models[0][:, 2], [5.0, 2.0], atol=0.5)


def test_dense_flow_measures_a_shift():
    rng = np.random.default_rng(2)
    tex = cv2.GaussianBlur((rng.random((120, 160)) * 255).astype(np.uint8), (0, 0), 2.0)
    tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)
    moved = np.roll(tex, (-2, 3), axis=(0, 1))  # content moves right 3, up 2
    flow, reliable = dense_flow(tex, moved)
    inner = reliable[20:-20, 20:-20]
    assert inner.mean() > 0.8
    med = np.median(flow[20:-20, 20:-20][inner], axis=0)
    np.testing.assert_allclose(med, [3.0, -2.0], atol=0.3)


def test_warp_maps_of_an_undeformed_mesh_are_the_identity():
    mask = _blob_mask()
    mesh = build_silhouette_mesh(mask, 8.0)
    h, w = mask.shape
    for scale in (1.0, 0.5):
        maps = warp_maps(mesh.vertices, mesh.faces, mesh.vertices, w, h, scale=scale)
        inside = maps.coverage > 0.99
        rows, cols = np.nonzero(inside)
        got = maps.attributes[inside]
        np.testing.assert_allclose(got, np.stack([cols + 0.5, rows + 0.5], 1), atol=0.05 if scale == 1 else 0.6)


def _figure(arm_deg, h=150, w=170):
    """A plain body with an arm hinged at (95, 75) pointing ``arm_deg`` degrees (image axes): mask, arm tip."""
    m = np.zeros((h, w), np.uint8)
    cv2.ellipse(m, (68, 80), (32, 44), 0, 0, 360, 1, -1)
    hinge = np.array([92.0, 75.0])
    d = np.array([np.cos(np.deg2rad(arm_deg)), np.sin(np.deg2rad(arm_deg))])
    n = np.array([-d[1], d[0]])
    tip = hinge + 55.0 * d
    cv2.fillPoly(m, [np.round(np.array([hinge + 7 * n, tip + 7 * n, tip - 7 * n, hinge - 7 * n])).astype(np.int32)], 1)
    return m.astype(bool), tip


def test_outline_dp_recovers_a_cyclic_shift():
    n = 40
    cost = np.ones((n, n))
    cost[np.arange(n), (np.arange(n) + 7) % n] = 0.0
    pairs, total = match_outlines(cost, skip=0.3)
    assert total == pytest.approx(0.0)
    np.testing.assert_array_equal(pairs[:, 1], (pairs[:, 0] + 7) % n)
    assert len(pairs) == n


def test_contour_correspondences_of_identical_masks_are_the_identity():
    mask, _ = _figure(0.0)
    cm = contour_correspondences(mask, mask)
    assert len(cm) >= 90
    assert np.abs(cm.end - cm.start).max() < 1.5
    assert cm.cost.max() < 0.05


def test_contour_correspondences_follow_a_turned_arm():
    start, tip0 = _figure(0.0)     # arm pointing right
    end, tip1 = _figure(-65.0)     # arm raised up and to the right
    cm = contour_correspondences(start, end)
    at_tip = np.linalg.norm(cm.start - tip0, axis=1) < 9.0
    assert at_tip.sum() >= 2
    # The arm's end goes to the raised arm's end (inner distances do not change when it turns).
    assert np.linalg.norm(cm.end[at_tip] - tip1, axis=1).max() < 12.0
    # The body's far side stays where it is.
    far = cm.start[:, 0] < 50
    assert far.sum() >= 10
    assert np.median(np.linalg.norm(cm.end[far] - cm.start[far], axis=1)) < 4.0


def test_contour_correspondences_refuse_an_outline_turned_over():
    start, _ = _figure(0.0)
    assert len(contour_correspondences(start, start[::-1, ::-1].copy())) == 0
    assert len(contour_correspondences(start, np.zeros_like(start))) == 0
