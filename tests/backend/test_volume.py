"""Part-aware volume: parts of synthetic silhouettes, their cross-sections, and the back texture.

Every expected figure follows from the shape's known 3D answer: a round tube
is as deep as it is wide, a ball as deep as its diameter, a disc-shaped base
as deep as its width; a dumbbell has two balls and a bar.
"""

import numpy as np
import pytest
from test_geometry3d import ellipse_mask, gradient_foreground, mask_mesh, signed_volume

from backend.geometry3d.mesh_ops import euler_characteristic, is_closed_manifold
from backend.stages.geometry import build_shape, input_view
from backend.stages.geometry.back_texture import back_texture
from backend.stages.geometry.cross_sections import (
    REVOLUTION,
    ROUND,
    describe_parts,
    estimate_ground,
    find_base,
)
from backend.stages.geometry.parts import ball_union, medial_balls, segment_parts

W = H = 200


def dumbbell() -> np.ndarray:
    m = ellipse_mask(W, H, 50, 100, 36, 36) | ellipse_mask(W, H, 150, 100, 36, 36)
    m[88:112, 50:150] = True  # bar 24 px thick between two balls of radius 36
    return m


def tube() -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[90:110, 20:180] = True  # 20 px wide, 160 px long
    return m


def lamp() -> np.ndarray:
    m = ellipse_mask(W, H, 100, 165, 80, 18)  # a disc foot seen from a little above
    m[40:165, 92:108] = True                  # a pole
    return m | ellipse_mask(W, H, 100, 40, 24, 24)  # a round shade


def depth_extent_px(mask: np.ndarray, select=None, inflation: float = 1.0):
    mesh = mask_mesh(mask, 4.0)
    view = input_view(mask, (W, H))
    shape = build_shape(mesh, gradient_foreground(mask), view, inflation=inflation)
    y = shape.vertices[:, 1] / view.metres_per_pixel
    uv, _ = view.camera_work.project(shape.vertices)
    keep = np.ones(len(y), bool) if select is None else select(uv)
    return y[keep].max() - y[keep].min(), shape


@pytest.mark.parametrize("make, count", [(dumbbell, 3), (tube, 1), (lambda: ellipse_mask(W, H, 100, 100, 80, 25), 1),
                                         (lambda: ellipse_mask(W, H, 100, 100, 60, 60), 1), (lamp, 3)])
def test_parts_split_where_the_local_thickness_jumps(make, count):
    mask = make()
    parts = segment_parts(mask)
    assert parts.count == count
    labels = parts.labels
    assert np.all((labels >= 0) == (labels >= 0) & (labels < count))
    if make is dumbbell:
        # Left ball, bar, right ball: the centres of the three pieces carry three different labels.
        s = parts.scale
        ids = {int(labels[int(100 * s), int(x * s)]) for x in (50, 100, 150)}
        assert len(ids) == 3


def test_medial_balls_of_a_disc_and_a_strip():
    disc = medial_balls(ellipse_mask(W, H, 100, 100, 60, 60))
    assert disc.radii.max() == pytest.approx(60, rel=0.05)
    strip = medial_balls(tube())
    # The strip's axis: centres on v = 100, radius half the width.
    core = strip.radii > 8
    assert np.abs(strip.centres[core, 1] - 100).max() < 2.5  # within two analysis pixels (192 px raster)
    assert np.median(strip.radii[core]) == pytest.approx(10, abs=1.0)
    height, owner = ball_union(np.array([[100.0, 100.0], [100.0, 95.0], [100.0, 150.0]]), strip)
    assert height[0] == pytest.approx(10, abs=1.0)
    assert height[1] == pytest.approx(np.sqrt(10 ** 2 - 5 ** 2), abs=1.0)
    assert height[2] == 0.0


def test_a_tube_is_as_deep_as_it_is_wide():
    depth, shape = depth_extent_px(tube())
    assert depth == pytest.approx(20.0, rel=0.12)
    assert is_closed_manifold(shape.faces) and euler_characteristic(shape.faces) == 2
    assert signed_volume(shape.vertices, shape.faces) > 0


def test_a_ball_is_as_deep_as_its_diameter():
    # The Poisson inflation gave a disc sqrt(1/2) of a sphere's depth; the ball union gives the sphere.
    depth, _ = depth_extent_px(ellipse_mask(W, H, 100, 100, 60, 60))
    assert depth == pytest.approx(120.0, rel=0.08)


def test_dumbbell_balls_are_round_and_the_bar_is_a_tube():
    _, shape = depth_extent_px(dumbbell())
    view = input_view(dumbbell(), (W, H))
    y = shape.vertices[:, 1] / view.metres_per_pixel
    uv, _ = view.camera_work.project(shape.vertices)
    ball = np.abs(uv[:, 0] - 50) < 4
    bar = np.abs(uv[:, 0] - 100) < 4
    assert y[ball].max() - y[ball].min() == pytest.approx(72.0, rel=0.1)
    assert y[bar].max() - y[bar].min() == pytest.approx(24.0, rel=0.15)
    assert len(np.unique(shape.part)) == 3


def test_a_disc_shaped_base_keeps_its_width_in_depth():
    mask = lamp()
    infos = describe_parts(segment_parts(mask))
    base = max(infos, key=lambda p: p.centroid[1])
    assert base.kind == REVOLUTION
    assert all(p.kind == ROUND for p in infos if p is not base)
    depth, _ = depth_extent_px(mask, lambda uv: uv[:, 1] > 150)
    assert depth > 0.75 * 160  # about as deep as the 160 px wide foot (2 r cos e), not a 36 px blade
    pole, _ = depth_extent_px(mask, lambda uv: np.abs(uv[:, 1] - 100) < 3)  # one height: the pole leans (shear)
    assert pole == pytest.approx(16.0, rel=0.2)


def test_a_lone_flat_ellipse_is_not_taken_for_a_base():
    infos = describe_parts(segment_parts(ellipse_mask(W, H, 100, 100, 80, 20)))
    assert [p.kind for p in infos] == [ROUND]


def test_back_texture_drops_front_features_but_keeps_colours_and_the_rim():
    mask = ellipse_mask(W, H, 100, 100, 80, 80)
    tex = np.zeros((H, W, 3), np.uint8)
    tex[mask] = (200, 40, 40)      # a red object
    tex[95:105, 95:105] = (0, 0, 0)  # with a black eye in the middle
    back = back_texture(tex, mask)
    assert back[100, 100, 0] > 150  # no eye on the back
    assert np.abs(back[100, 60].astype(int) - (200, 40, 40)).max() <= 3  # the body's colour stays
    rim = mask & ~np.pad(mask[1:-1, 1:-1] & mask[:-2, 1:-1] & mask[2:, 1:-1] & mask[1:-1, :-2] & mask[1:-1, 2:], 1)
    assert np.abs(back[rim].astype(int) - tex[rim].astype(int)).max() <= 60  # the shared rim matches
    np.testing.assert_array_equal(back[~mask], tex[~mask])
    with pytest.raises(ValueError):
        back_texture(tex, mask[:-1])


def test_shape_carries_parts_and_a_back_texture():
    mask = dumbbell()
    _, shape = depth_extent_px(mask)
    assert shape.part.shape == shape.side.shape and shape.part.dtype == np.int32
    assert shape.back_texture.shape == shape.texture.shape and shape.back_texture.dtype == np.uint8
    # Front and back copies of a vertex belong to the same part.
    front = {int(s): int(p) for s, p, d in zip(shape.source_vertex, shape.part, shape.side) if d >= 0}
    assert all(front[int(s)] == int(p) for s, p, d in zip(shape.source_vertex, shape.part, shape.side) if d < 0)


def test_ground_elevation_from_the_base_ellipse():
    # A disc of radius 80 px and thickness 12 px seen from 30 degrees above: two half-ellipses of half-height
    # 80 sin 30 joined by sides 12 cos 30 px long; the pole stands on its centre.
    e = np.radians(30.0)
    side = 6 * np.cos(e)
    mask = ellipse_mask(W, H, 100, 150 - side, 80, 80 * np.sin(e)) | ellipse_mask(W, H, 100, 150 + side, 80, 80 * np.sin(e))
    mask[int(150 - side):int(150 + side), 20:180] = True
    mask[30:150, 94:106] = True
    ground = estimate_ground(segment_parts(mask))
    assert np.degrees(ground.elevation) == pytest.approx(30.0, abs=4.0)
    assert ground.radius == pytest.approx(80.0, rel=0.05)
    assert ground.thickness == pytest.approx(12.0, abs=5.0)
    # Seen from above, an upright pole's upper point stands nearer to the camera than a lower one by 55 tan(e_cam)
    # px, with e_cam the camera's own elevation: 30 degrees less the ray to the disc's centre (perspective).
    view = input_view(mask, (W, H))
    e_cam = e - np.arctan2(ground.centre_v - view.camera_work.cy, view.camera_work.fy)
    shape = build_shape(mask_mesh(mask, 4.0), gradient_foreground(mask), view, inflation=1.0)
    uv, _ = view.camera_work.project(shape.vertices)
    y = shape.vertices[:, 1] / view.metres_per_pixel
    top, foot = (np.abs(uv[:, 1] - 40) < 4), (np.abs(uv[:, 1] - 95) < 4)
    pole = np.abs(uv[:, 0] - 100) < 3
    lean = y[foot & pole].mean() - y[top & pole].mean()
    assert lean == pytest.approx(55 * np.tan(e_cam), rel=0.2)


def test_no_base_under_a_head_as_wide_as_the_body():
    # A sitting animal: body and head of similar width are not a disc foot and its pole.
    mask = ellipse_mask(W, H, 100, 140, 70, 40) | ellipse_mask(W, H, 100, 70, 45, 40)
    assert find_base(segment_parts(mask)) is None
    assert find_base(segment_parts(lamp())) is not None


def test_a_flat_bottomed_pot_is_seen_edge_on():
    # A pot (trapezoid, flat bottom) under a stem: a solid of revolution seen edge-on, no camera elevation, each
    # row as deep as it is wide.
    mask = np.zeros((H, W), bool)
    for r in range(150, 190):
        half = 40 - 0.25 * (r - 150)  # 40 px at the rim, 30 px at the bottom
        mask[r, int(100 - half):int(100 + half)] = True
    mask[40:150, 96:104] = True
    ground = estimate_ground(segment_parts(mask))
    assert ground.elevation == 0.0 and ground.camera_elevation == 0.0
    top, _ = depth_extent_px(mask, lambda uv: np.abs(uv[:, 1] - 153) < 2)
    bottom, _ = depth_extent_px(mask, lambda uv: np.abs(uv[:, 1] - 186) < 2)
    assert top == pytest.approx(2 * 39, rel=0.15)
    assert bottom == pytest.approx(2 * 31, rel=0.15)
