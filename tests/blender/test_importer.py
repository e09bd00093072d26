"""The importer turns an asset into a collection that plays the asset's motion in real Blender."""

from __future__ import annotations

import json
import shutil
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
    datablock_counts,
    empty_scene,
    evaluated_vertices,
    make_test_asset,
    tween4d_operators,
    tween4d_pkg,
)
from splat_instances import instance_transforms  # noqa: E402  (after assets_fixtures: bpy may be missing)

_api = asset_api()
AssetError, Camera, load_asset = _api.AssetError, _api.Camera, _api.load_asset

pytestmark = pytest.mark.blender


@pytest.fixture()
def importer(tween4d_pkg):
    return addon_module("importer")


def _quat_to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = np.moveaxis(q.astype(np.float64), -1, 0)
    return np.stack(
        [
            np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
            np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
            np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
        ],
        -2,
    )




def test_import_builds_one_collection_with_points_mesh_camera(empty_scene, importer, asset_dir):
    asset = load_asset(asset_dir)
    handlers = (len(bpy.app.handlers.frame_change_pre), len(bpy.app.handlers.frame_change_post))
    coll = importer.import_asset(bpy.context, asset_dir)
    scene = empty_scene
    # Playback runs no Python: the Mesh Cache modifier reads the PC2 itself.
    assert (len(bpy.app.handlers.frame_change_pre), len(bpy.app.handlers.frame_change_post)) == handlers
    assert coll.name == asset_dir.name and coll.name in scene.collection.children
    roles = sorted(o.get("tween4d_role") for o in coll.objects)
    assert roles == ["gaussians", "input_camera", "mesh"]

    pts = importer.objects_with_role(coll, "gaussians")[0]
    assert len(pts.data.vertices) == 500 and len(pts.data.polygons) == 0
    assert [m.type for m in pts.modifiers] == ["MESH_CACHE", "NODES"]
    cache = pts.modifiers[0]
    assert cache.cache_format == "PC2" and Path(cache.filepath) == asset_dir / "gaussians.pc2"
    assert (cache.forward_axis, cache.up_axis) == ("POS_Y", "POS_Z") and not any(cache.flip_axis)
    attrs = pts.data.attributes
    assert (attrs["Col"].data_type, attrs["rotation"].data_type) == ("FLOAT_COLOR", "QUATERNION")
    assert (attrs["scale"].data_type, attrs["opacity"].data_type) == ("FLOAT_VECTOR", "FLOAT")
    col = np.empty(500 * 4, np.float32)
    attrs["Col"].data.foreach_get("color", col)
    srgb = asset.gaussians.colors.astype(np.float64)
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    np.testing.assert_allclose(col.reshape(-1, 4)[:, :3], linear, atol=1e-5)
    np.testing.assert_allclose(col.reshape(-1, 4)[:, 3], asset.gaussians.opacities, atol=1e-6)
    quat = np.empty(500 * 4, np.float32)
    attrs["rotation"].data.foreach_get("value", quat)
    np.testing.assert_allclose(quat.reshape(-1, 4), asset.gaussians.rotations, atol=1e-6)
    mat = pts.modifiers[1].node_group.nodes
    assert any(n.bl_idname == "GeometryNodeInstanceOnPoints" for n in mat)

    mesh_obj = importer.objects_with_role(coll, "mesh")[0]
    assert len(mesh_obj.data.polygons) == len(asset.mesh.faces)
    assert mesh_obj.modifiers[0].type == "MESH_CACHE" and Path(mesh_obj.modifiers[0].filepath).name == "mesh.pc2"
    tex_nodes = [n for n in mesh_obj.active_material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"]
    assert tex_nodes and Path(tex_nodes[0].image.filepath).name == "mesh_texture.png"
    assert tex_nodes[0].image.size[0] == 8
    uv = np.empty(len(mesh_obj.data.loops) * 2, np.float32)
    mesh_obj.data.uv_layers["UVMap"].data.foreach_get("uv", uv)
    np.testing.assert_allclose(uv.reshape(-1, 2), asset.mesh.uv[asset.mesh.faces.ravel()], atol=1e-6)

    assert scene.render.fps / scene.render.fps_base == pytest.approx(24.0)
    assert (scene.frame_start, scene.frame_end) == (1, 8)
    assert scene.camera is importer.objects_with_role(coll, "input_camera")[0]
    assert (scene.render.resolution_x, scene.render.resolution_y) == (160, 120)
    assert coll["tween4d_asset_dir"] == str(asset_dir) and coll["tween4d_frame_count"] == 8
    lo, hi = np.array(coll["tween4d_bounds_min"]), np.array(coll["tween4d_bounds_max"])
    means = np.asarray(asset.gaussians.means)
    assert np.all(lo <= means.min(axis=(0, 1)) + 1e-6) and np.all(hi >= means.max(axis=(0, 1)) - 1e-6)


@pytest.mark.parametrize("frame_start", [1, 10])
def test_positions_per_frame_follow_the_cache_without_axis_change(empty_scene, importer, asset_dir, frame_start):
    asset = load_asset(asset_dir)
    scene = empty_scene
    scene.frame_start = frame_start
    coll = importer.import_asset(bpy.context, asset_dir)
    pts = importer.objects_with_role(coll, "gaussians")[0]
    mesh_obj = importer.objects_with_role(coll, "mesh")[0]
    g = asset.gaussians
    for f in (0, 3, 7):
        m = instance_transforms(pts, scene, frame_start + f)
        assert m.shape[0] == g.count  # every test Gaussian is above the opacity threshold
        np.testing.assert_allclose(m[:, :3, 3], g.means[f], atol=1e-5)
        np.testing.assert_allclose(evaluated_vertices(mesh_obj, scene, frame_start + f), asset.mesh.vertices[f], atol=1e-5)
    # Splats are oriented by the quaternion and sized by sigma_scale * scale.
    lin = m[:, :3, :3].astype(np.float64)
    lengths = np.linalg.norm(lin, axis=1)
    np.testing.assert_allclose(lengths, 1.5 * g.scales, rtol=1e-4)
    np.testing.assert_allclose(lin / lengths[:, None, :], _quat_to_matrix(g.rotations), atol=1e-4)


def test_input_camera_reproduces_the_asset_projection(empty_scene, importer, asset_dir):
    from bpy_extras.object_utils import world_to_camera_view

    asset = load_asset(asset_dir)
    coll = importer.import_asset(bpy.context, asset_dir)
    scene = empty_scene
    cam_obj = importer.objects_with_role(coll, "input_camera")[0]
    cam = Camera.from_dict(asset.manifest["camera"])
    assert cam.cx != cam.width / 2  # the fixture's camera is off-centre: lens shift is exercised
    pts = np.asarray(asset.gaussians.means[0])[::10]
    expected, _ = cam.project(pts)
    got = np.array([world_to_camera_view(scene, cam_obj, _vec(p))[:2] for p in pts])
    got_px = np.stack([got[:, 0] * cam.width, (1.0 - got[:, 1]) * cam.height], axis=1)
    assert np.abs(got_px - expected).max() < 0.5


def _vec(p):
    from mathutils import Vector

    return Vector(p.tolist())


def test_non_square_pixels_and_portrait_image_still_project(empty_scene, importer, tmp_path):
    from bpy_extras.object_utils import world_to_camera_view

    cam = Camera.looking_along_y(90, 140, 150.0, (0.2, -2.5, 0.1))
    cam.fy, cam.cx, cam.cy = 120.0, 40.0, 75.0
    d = make_test_asset(tmp_path / "tall", n=60, t=2, with_mesh=False, camera=cam)
    coll = importer.import_asset(bpy.context, d)
    cam_obj = importer.objects_with_role(coll, "input_camera")[0]
    pts = np.asarray(load_asset(d).gaussians.means[0])
    expected, _ = cam.project(pts)
    got = np.array([world_to_camera_view(empty_scene, cam_obj, _vec(p))[:2] for p in pts])
    got_px = np.stack([got[:, 0] * cam.width, (1.0 - got[:, 1]) * cam.height], axis=1)
    assert np.abs(got_px - expected).max() < 0.5


def test_fractional_fps_uses_fps_base(empty_scene, importer, tmp_path):
    d = make_test_asset(tmp_path / "ntsc", n=20, t=3, with_mesh=False, fps=23.976)
    importer.import_asset(bpy.context, d)
    r = empty_scene.render
    assert r.fps == 24 and r.fps / r.fps_base == pytest.approx(23.976, abs=1e-6)


def test_reimport_replaces_without_growth_and_keeps_artist_objects(empty_scene, importer, asset_dir):
    first = importer.import_asset(bpy.context, asset_dir)
    added = bpy.data.objects.new("artist empty", None)
    first.objects.link(added)
    before = datablock_counts()
    again = importer.import_asset(bpy.context, asset_dir)
    assert datablock_counts() == before
    assert again.name == asset_dir.name
    assert [c.name for c in importer.find_asset_collections(asset_dir)] == [again.name]
    assert "artist empty" in again.objects
    assert empty_scene.camera is importer.objects_with_role(again, "input_camera")[0]
    for _ in range(2):
        importer.import_asset(bpy.context, asset_dir)
    assert datablock_counts() == before


def test_auto_keeps_an_artists_scene_camera(empty_scene, importer, asset_dir):
    own = bpy.data.objects.new("shot cam", bpy.data.cameras.new("shot cam"))
    empty_scene.collection.objects.link(own)
    empty_scene.camera = own
    empty_scene.render.resolution_x = 1920
    importer.import_asset(bpy.context, asset_dir)
    assert empty_scene.camera is own and empty_scene.render.resolution_x == 1920
    coll = importer.import_asset(bpy.context, asset_dir, make_active_camera="ALWAYS")
    assert empty_scene.camera is importer.objects_with_role(coll, "input_camera")[0]


def _break_no_manifest(d: Path):
    (d / "asset.json").unlink()


def _break_truncated_pc2(d: Path):
    p = d / "gaussians.pc2"
    p.write_bytes(p.read_bytes()[:-100])


def _break_wrong_shapes(d: Path):
    with np.load(d / "gaussians.npz") as z:
        arrays = {k: z[k] for k in z.files}
    arrays["colors"] = arrays["colors"][:-1]
    np.savez(d / "gaussians.npz", **arrays)


def _break_manifest_count(d: Path):
    man = json.loads((d / "asset.json").read_text())
    man["gaussian_count"] += 1
    (d / "asset.json").write_text(json.dumps(man))


@pytest.mark.parametrize(
    "breaker, words",
    [
        (_break_no_manifest, "asset.json"),
        (_break_truncated_pc2, "truncated"),
        (_break_wrong_shapes, "colors"),
        (_break_manifest_count, "gaussians.pc2"),
    ],
)
def test_bad_asset_is_refused_and_leaves_nothing(empty_scene, importer, asset_dir, tmp_path, breaker, words):
    bad = tmp_path / "bad"
    shutil.copytree(asset_dir, bad)
    breaker(bad)
    before = datablock_counts()
    with pytest.raises(AssetError, match=words):
        importer.import_asset(bpy.context, bad)
    assert datablock_counts() == before


def test_failure_while_building_rolls_back(empty_scene, importer, asset_dir, monkeypatch):
    importer.import_asset(bpy.context, asset_dir)
    before = datablock_counts()
    splat_nodes = addon_module("splat_nodes")

    def explode(*args, **kwargs):
        raise RuntimeError("simulated failure after the mesh and material were made")

    monkeypatch.setattr(splat_nodes, "build_splat_node_group", explode)
    with pytest.raises(RuntimeError, match="simulated"):
        importer.import_asset(bpy.context, asset_dir)
    assert datablock_counts() == before
    assert len(importer.find_asset_collections(asset_dir)) == 1  # the earlier import is intact


def test_operator_imports_and_reports_bad_folders(empty_scene, tween4d_operators, asset_dir, tmp_path):
    assert tween4d_operators.import_asset(directory=str(asset_dir)) == {"FINISHED"}
    assert bpy.data.collections.get(asset_dir.name) is not None
    (tmp_path / "empty").mkdir()
    before = datablock_counts()
    with pytest.raises(RuntimeError, match="asset.json"):
        tween4d_operators.import_asset(directory=str(tmp_path / "empty"))
    assert datablock_counts() == before
