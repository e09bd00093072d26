"""One-image assets in Blender: import (filled-in flags, subject, depth range) and MoRe4D camera rigs."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from assets_fixtures import (  # noqa: E402,F401  (fixtures are used by name)
    SCENE_DEPTH_RANGE,
    addon_module,
    asset_api,
    bpy,
    empty_scene,
    make_single_image_asset,
    tween4d_operators,
    tween4d_pkg,
)
from splat_instances import instance_colors  # noqa: E402  (after assets_fixtures: bpy may be missing)

pytestmark = pytest.mark.blender

MORE4D = ("DOLLY", "CIRCLE", "ARC", "ROTATE")


@pytest.fixture(scope="module")
def scene_dir(tmp_path_factory) -> Path:
    return make_single_image_asset(tmp_path_factory.mktemp("single") / "street")


@pytest.fixture(scope="module")
def object_dir(tmp_path_factory) -> Path:
    return make_single_image_asset(tmp_path_factory.mktemp("single") / "statue", subject="object")


def _seen_and_filled(asset_dir):
    asset = asset_api().load_asset(asset_dir)
    with np.load(Path(asset_dir) / "gaussians.npz") as data:
        filled = data["filled"]
    return asset, filled


def test_scene_imports_as_points_with_flags_subject_and_depth_range(empty_scene, tween4d_pkg, scene_dir):
    importer = addon_module("importer")
    coll = importer.import_asset(bpy.context, scene_dir)
    asset, filled = _seen_and_filled(scene_dir)
    assert coll["tween4d_mode"] == "single_image" and coll["tween4d_subject"] == "scene"
    assert not coll["tween4d_has_mesh"] and not importer.objects_with_role(coll, "mesh")
    assert tuple(coll["tween4d_depth_range"]) == pytest.approx(SCENE_DEPTH_RANGE)
    assert coll["tween4d_filled_count"] == int(filled.sum()) > 0
    (points,) = importer.objects_with_role(coll, "gaussians")
    attr = points.data.attributes["filled"]
    got = np.empty(len(attr.data), np.int32)
    attr.data.foreach_get("value", got)
    np.testing.assert_array_equal(got, filled)
    scale = points.data.attributes["scale"]
    sc = np.empty(len(scale.data) * 3, np.float32)
    scale.data.foreach_get("vector", sc)
    np.testing.assert_allclose(sc.reshape(-1, 3), asset.gaussians.scales, rtol=1e-6)  # splat size from the scales


def test_depth_range_without_a_recorded_one_comes_from_the_seen_points(empty_scene, tween4d_pkg, tmp_path):
    importer = addon_module("importer")
    asset_dir = make_single_image_asset(tmp_path / "norange", record_depth_range=False)
    coll = importer.import_asset(bpy.context, asset_dir)
    near, far = coll["tween4d_depth_range"]
    # seen depths run 2..8 m (the hidden layer at 4 m and the 60 m outlier aside): percentiles stay inside
    assert 2.0 <= near < 2.5 and 7.5 < far <= 8.0
    assert "tween4d_target" not in coll
    # without a recorded centre, a scene's rig turns about the middle of its depth range on the optical axis
    camera_paths = importlib.import_module("tween4d.backend.asset.camera_paths")
    pivot = camera_paths.scene_target(importer.stored_camera(coll).matrix_world, (near, far))
    cam = addon_module("camera_rigs").add_camera_rig(bpy.context, coll, "ROTATE")
    scene = bpy.context.scene
    dist = []
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        dist.append(np.linalg.norm(np.array(cam.matrix_world.translation) - pivot))
    np.testing.assert_allclose(dist, dist[0], rtol=1e-4)


def test_filled_in_gaussians_can_be_hidden_and_tinted(empty_scene, tween4d_pkg, tween4d_operators, scene_dir):
    importer = addon_module("importer")
    coll = importer.import_asset(bpy.context, scene_dir)
    (points,) = importer.objects_with_role(coll, "gaussians")
    bpy.context.view_layer.objects.active = points
    _, filled = _seen_and_filled(scene_dir)
    shown, shown_rgba = instance_colors(points)
    assert shown == len(filled) and importer.filled_display(coll) == "SHOW"
    assert tween4d_operators.filled_display(display="HIDE") == {"FINISHED"}
    hidden, _ = instance_colors(points)
    assert hidden == len(filled) - int(filled.sum()) and importer.filled_display(coll) == "HIDE"
    assert tween4d_operators.filled_display(display="TINT") == {"FINISHED"}
    count, tinted = instance_colors(points)
    assert count == len(filled) and importer.filled_display(coll) == "TINT"
    changed = np.any(np.abs(tinted[:, :3] - shown_rgba[:, :3]) > 1e-4, axis=1)
    np.testing.assert_array_equal(changed, filled == 1)  # only the filled-in ones change colour


def _project(scene, cam, points):
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    return np.array([tuple(world_to_camera_view(scene, cam, Vector(p))) for p in points])


def _keyed_frames(obj):
    curves = addon_module("keyframes").action_fcurves(obj)
    return {kp.co[0] for fc in curves for kp in fc.keyframe_points}


@pytest.mark.parametrize("path", MORE4D + ("ORBIT",))
def test_scene_rigs_start_at_the_input_view_and_keep_the_scene_in_view(empty_scene, tween4d_pkg, scene_dir, path):
    importer, rigs = addon_module("importer"), addon_module("camera_rigs")
    camera_paths = importlib.import_module("tween4d.backend.asset.camera_paths")
    coll = importer.import_asset(bpy.context, scene_dir)
    cam = rigs.add_camera_rig(bpy.context, coll, path)
    scene = bpy.context.scene
    first, last = scene.frame_start, scene.frame_end
    assert _keyed_frames(cam) == {float(f) for f in range(first, last + 1)}
    stored = importer.stored_camera(coll)
    target = camera_paths.scene_target(stored.matrix_world, SCENE_DEPTH_RANGE)  # not the 60 m-stretched box
    asset, filled = _seen_and_filled(scene_dir)
    seen = np.asarray(asset.gaussians.means[0])[:np.argmax(filled)]  # the pixels' own Gaussians (before the hidden layer)
    scene.frame_set(first)
    if path != "CIRCLE":
        np.testing.assert_allclose(np.array(cam.matrix_world), stored.matrix_world, atol=1e-5)
    target_view0 = _project(scene, cam, [target])[0]
    distances = []
    for f in range(first, last + 1):
        scene.frame_set(f)
        np.testing.assert_allclose(_project(scene, cam, [target])[0][:2], target_view0[:2], atol=1e-4)
        xyz = _project(scene, cam, seen)
        in_view = np.mean((xyz[:, 0] > 0) & (xyz[:, 0] < 1) & (xyz[:, 1] > 0) & (xyz[:, 1] < 1) & (xyz[:, 2] > 0))
        assert in_view > (0.3 if path == "ORBIT" else 0.6), (path, f, in_view)
        distances.append(np.linalg.norm(np.array(cam.matrix_world.translation) - target))
    if path in ("ARC", "ROTATE", "ORBIT"):  # turning about the scene's mid-depth point, not the box centre
        np.testing.assert_allclose(distances, distances[0], rtol=1e-4)
    if path == "ROTATE":  # a scene turns half as far as an object: +-15 degrees
        yaw = []
        for f in range(first, last + 1):
            scene.frame_set(f)
            rel = np.array(cam.matrix_world.translation) - target
            yaw.append(np.degrees(np.arctan2(rel[0], -rel[1])))
        assert max(np.abs(yaw)) == pytest.approx(30.0 * rigs.SCENE_ANGLE_SCALE, abs=2.5)
    if path == "DOLLY":
        near = SCENE_DEPTH_RANGE[0]
        assert min(distances) > distances[0] - near  # never reaches the nearest surface
        assert max(distances) - min(distances) > 0.2 * near


def test_object_rigs_frame_the_bounds_centre(empty_scene, tween4d_pkg, tween4d_operators, object_dir):
    importer = addon_module("importer")
    coll = importer.import_asset(bpy.context, object_dir)
    assert coll["tween4d_subject"] == "object"
    bpy.context.view_layer.objects.active = importer.objects_with_role(coll, "gaussians")[0]
    assert tween4d_operators.add_camera_rig(path="ROTATE", strength=0.5) == {"FINISHED"}
    cam = bpy.context.scene.camera
    assert cam.get("tween4d_rig_path") == "ROTATE"
    centre = (np.array(coll["tween4d_bounds_min"]) + np.array(coll["tween4d_bounds_max"])) / 2
    scene = bpy.context.scene
    yaw = []
    for f in range(scene.frame_start, scene.frame_end + 1):
        scene.frame_set(f)
        rel = np.array(cam.matrix_world.translation) - centre
        yaw.append(np.degrees(np.arctan2(rel[0], -rel[1])))
    assert max(yaw) == pytest.approx(15.0, abs=2.0) and min(yaw) == pytest.approx(-15.0, abs=2.0)  # +-30 * 0.5
