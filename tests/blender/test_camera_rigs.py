"""Camera rigs are keyed over the asset's range and keep the whole asset in frame."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from assets_fixtures import (  # noqa: E402,F401  (fixtures are used by name)
    addon_module,
    asset_api,
    asset_dir,
    bpy,
    empty_scene,
    tween4d_operators,
    tween4d_pkg,
)

pytestmark = pytest.mark.blender

MOVING = ("ORBIT", "DOLLY_IN", "DOLLY_OUT", "PAN", "CRANE")


@pytest.fixture()
def imported(empty_scene, tween4d_pkg, asset_dir):
    importer = addon_module("importer")
    return importer.import_asset(bpy.context, asset_dir)


def _corners(lo, hi):
    return [np.array(c) for c in itertools.product(*zip(lo, hi))]


def _view(scene, cam, p):
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    return np.array(world_to_camera_view(scene, cam, Vector(p.tolist())))


def _key_frames(obj) -> set[float]:
    keyframes = addon_module("keyframes")
    curves = keyframes.action_fcurves(obj)
    assert {fc.data_path for fc in curves} == {"location", "rotation_euler"}
    return {kp.co[0] for fc in curves for kp in fc.keyframe_points}


@pytest.mark.parametrize("path", MOVING)
def test_moving_rig_is_keyed_over_the_range_and_frames_the_asset(imported, path):
    rigs = addon_module("camera_rigs")
    scene = bpy.context.scene
    cam = rigs.add_camera_rig(bpy.context, imported, path)
    assert scene.camera is cam and cam.name in imported.objects
    first, last = scene.frame_start, scene.frame_end
    assert _key_frames(cam) == set(float(f) for f in range(first, last + 1))
    lo, hi = np.array(imported["tween4d_bounds_min"]), np.array(imported["tween4d_bounds_max"])
    centre = (lo + hi) / 2
    positions, distances = [], []
    for f in (first, (first + last) // 2, last):
        scene.frame_set(f)
        for c in _corners(lo, hi):
            x, y, z = _view(scene, cam, c)
            assert 0.0 < x < 1.0 and 0.0 < y < 1.0 and z > 0.0, (path, f, x, y)
        positions.append(np.array(cam.matrix_world.translation))
        distances.append(np.linalg.norm(positions[-1] - centre))
    moved = np.linalg.norm(positions[-1] - positions[0])
    if path == "DOLLY_IN":
        assert distances[-1] < distances[0] * 0.8
    elif path == "DOLLY_OUT":
        assert distances[-1] > distances[0] * 1.2
    elif path == "CRANE":
        assert positions[-1][2] > positions[0][2] + 0.3
    elif path == "PAN":
        assert moved < 1e-6
        dirs = []
        for f in (first, last):
            scene.frame_set(f)
            dirs.append(np.array(cam.matrix_world.to_3x3().col[2]))
        assert np.degrees(np.arccos(np.clip(np.dot(dirs[0], dirs[1]), -1, 1))) > 1.0  # it turns
    else:  # ORBIT: a quarter of the way round, the camera looks from the side
        scene.frame_set(first + (last - first + 1) // 4)
        side = np.array(cam.matrix_world.translation) - centre
        assert abs(side[0]) > abs(side[1])


def test_orbit_starts_on_the_input_view_side(imported):
    rigs = addon_module("camera_rigs")
    cam = rigs.add_camera_rig(bpy.context, imported, "ORBIT")
    bpy.context.scene.frame_set(bpy.context.scene.frame_start)
    assert cam.matrix_world.translation.y < 0  # the input camera is on -Y


def test_match_input_is_the_stored_camera(imported, asset_dir):
    rigs = addon_module("camera_rigs")
    cam_in = asset_api().load_asset(asset_dir).manifest["camera"]
    cam = rigs.add_camera_rig(bpy.context, imported, "MATCH_INPUT")
    scene = bpy.context.scene
    for f in (scene.frame_start, scene.frame_end):
        scene.frame_set(f)
        np.testing.assert_allclose(np.array(cam.matrix_world), np.array(cam_in["matrix_world"]), atol=1e-5)
    importer = addon_module("importer")
    assert cam.data.lens == pytest.approx(importer.objects_with_role(imported, "input_camera")[0].data.lens)
    assert cam.data.shift_x == pytest.approx((cam_in["width"] / 2 - cam_in["cx"]) / cam_in["width"])


def test_rig_from_bare_bounds_and_explicit_frames(empty_scene, tween4d_pkg):
    rigs = addon_module("camera_rigs")
    lo, hi = np.array([2.0, 1.0, 0.0]), np.array([4.0, 2.0, 3.0])
    cam = rigs.add_camera_rig(bpy.context, (lo, hi), "ORBIT", frames=(5, 20), make_active=False)
    assert empty_scene.camera is None and cam.name in empty_scene.collection.objects
    assert min(_key_frames(cam)) == 5.0 and max(_key_frames(cam)) == 20.0
    for f in (5, 12, 20):
        empty_scene.frame_set(f)
        for c in _corners(lo, hi):
            x, y, z = _view(empty_scene, cam, c)
            assert 0.0 < x < 1.0 and 0.0 < y < 1.0 and z > 0.0
    with pytest.raises(ValueError, match="MATCH_INPUT"):
        rigs.add_camera_rig(bpy.context, (lo, hi), "MATCH_INPUT")
    with pytest.raises(ValueError, match="path"):
        rigs.add_camera_rig(bpy.context, (lo, hi), "SPIRAL")


def test_operator_adds_a_rig(imported, tween4d_operators):
    before = len(bpy.data.cameras)
    assert tween4d_operators.add_camera_rig(path="CRANE") == {"FINISHED"}
    assert len(bpy.data.cameras) == before + 1
    assert bpy.context.scene.camera.get("tween4d_rig_path") == "CRANE"
