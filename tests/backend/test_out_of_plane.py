"""Out-of-plane turns: 3D rotation from a part's 2D foreshortening, its depth sign, arcs about the hinge."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation
from test_geometry3d import gradient_foreground, mask_mesh

from backend.geometry2d.arap_interpolation import arap_interpolate
from backend.geometry3d.weak_perspective import out_of_plane_angle, pick_sign, rotations_from_affine
from backend.stages.geometry import build_shape, input_view, surface_pixel_weights
from backend.stages.motion import lift_motion
from backend.types import Motion2D


@pytest.mark.parametrize("degrees", [25.0, -50.0, 75.0])
def test_rotation_about_the_vertical_axis_is_recovered_up_to_its_depth_sign(degrees):
    # Axes (right, up, view): the vertical axis is the second one; plus an in-plane turn and a scale.
    truth = Rotation.from_euler("zy", [15.0, degrees], degrees=True).as_matrix()
    f = 1.3 * truth[:2, :2]
    s, r_plus, r_minus = rotations_from_affine(f)
    assert s == pytest.approx(1.3)
    for r in (r_plus, r_minus):
        np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-9)
        assert np.linalg.det(r) == pytest.approx(1.0)
        np.testing.assert_allclose(s * r[:2, :2], f, atol=1e-9)  # both project like the truth
        assert np.degrees(out_of_plane_angle(r)) == pytest.approx(abs(degrees), abs=1e-6)
    # Exactly one candidate is the truth; the continuity rule (agree with a reference depth gradient) picks it.
    errors = sorted(np.abs(r - truth).max() for r in (r_plus, r_minus))
    assert errors[0] < 1e-9 and errors[1] > 0.1
    picked = pick_sign(r_plus[None], r_minus[None], truth[2, :2][None])[0]
    np.testing.assert_allclose(picked, truth, atol=1e-9)


W, H, T = 120, 64, 9
HINGE_U = 56.0  # the arm hangs on the body at this column
TURN = np.radians(60.0)


@pytest.fixture(scope="module")
def arm_scene():
    mask = np.zeros((H, W), bool)
    mask[10:54, 12:56] = True   # body
    mask[26:38, 56:110] = True  # arm, 54 px long, to the right
    mesh = mask_mesh(mask, 4.0)
    view = input_view(mask, (W, H))
    shape = build_shape(mesh, gradient_foreground(mask), view, inflation=0.7)
    # The arm swings about the vertical axis through the hinge: in the image it foreshortens by cos.
    traj = []
    for t in np.linspace(0.0, 1.0, T):
        p = mesh.vertices.copy()
        arm = p[:, 0] > HINGE_U
        p[arm, 0] = HINGE_U + (p[arm, 0] - HINGE_U) * np.cos(TURN * t)
        traj.append(p)
    return mesh, view, shape, Motion2D(np.stack(traj))


def test_a_swivelling_arm_turns_toward_the_camera_on_an_arc_about_its_hinge(arm_scene):
    mesh, view, shape, m2 = arm_scene
    m3 = lift_motion(shape, mesh, m2, view, [0, 4, 8])
    assert m3.diagnostics["lift_turning_parts"] == 1
    pix = surface_pixel_weights(shape, mesh) @ mesh.vertices
    tip = np.nonzero((pix[:, 0] > 104) & (np.abs(pix[:, 1] - 32) < 4))[0]
    hinge = np.nonzero((np.abs(pix[:, 0] - HINGE_U) < 3) & (np.abs(pix[:, 1] - 32) < 4))[0]
    assert len(tip) and len(hinge)
    length0 = np.linalg.norm(m3.vertices[0, tip].mean(0) - m3.vertices[0, hinge].mean(0))
    mpp = view.metres_per_pixel
    for t in range(T):
        v = m3.vertices[t]
        # On the arc: the tip keeps its distance to the hinge (a chord or a squash would shorten it).
        assert np.linalg.norm(v[tip].mean(0) - v[hinge].mean(0)) == pytest.approx(length0, rel=0.08)
    # Toward the camera (which looks along +Y): the tip comes forward by about L sin(60 deg).
    forward = (m3.vertices[0, tip, 1] - m3.vertices[-1, tip, 1]).mean()
    assert forward == pytest.approx(50.0 * mpp * np.sin(TURN), rel=0.25)
    # The squash of the earlier behaviour leaves the tip where it was in depth.
    flat = lift_motion(shape, mesh, m2, view, [0, 4, 8], out_of_plane=False)
    assert abs((flat.vertices[0, tip, 1] - flat.vertices[-1, tip, 1]).mean()) < 0.3 * forward


def _body_and_arm():
    mask = np.zeros((H, W), bool)
    mask[10:54, 12:56] = True
    mask[26:38, 56:110] = True
    return mask_mesh(mask, 4.0)


def test_a_hinged_part_in_betweens_on_the_arc_about_its_hinge_not_the_chord():
    mesh = _body_and_arm()
    hinge = np.array([HINGE_U, 32.0])
    p = mesh.vertices
    arm = p[:, 0] > HINGE_U + 6  # rotate the arm rigidly by 100 degrees about the hinge (the joint bends)
    a = np.radians(-100.0)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    target = p.copy()
    target[arm] = (p[arm] - hinge) @ rot.T + hinge
    traj = arap_interpolate(p, target, mesh.faces, np.linspace(0.0, 1.0, 9))
    tip = np.nonzero(arm & (p[:, 0] > 104))[0]
    radius = np.linalg.norm(traj[:, tip].mean(1) - hinge, axis=1)
    # A chord would pass at cos(50 deg) = 0.64 of the radius at mid-time.
    assert radius.min() > 0.93 * radius[0]
