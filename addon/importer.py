"""Turn a Tween4D asset directory into scene content.

One asset becomes one collection named after it, holding:

* ``<name> Gaussians``: a vertex-only mesh (one vertex per Gaussian at its
  frame-0 mean) with point attributes ``Col`` (FLOAT_COLOR, scene-linear RGB,
  opacity in alpha), ``opacity`` (FLOAT), ``scale`` (FLOAT_VECTOR, metres),
  ``rotation`` (QUATERNION w, x, y, z), and for one-image assets ``filled``
  (INT8, 1 = a Gaussian filled in behind what the image shows: the hidden
  layer, the back); a Mesh Cache modifier streaming
  ``gaussians.pc2`` and, after it, the splat Geometry Nodes modifier
  (``addon.splat_nodes``). Time-varying scales/rotations ([T, N, ...]) are
  shown at frame 0; only the means move (the Mesh Cache carries positions).
* ``<name> Mesh`` (when the asset has ``mesh.npz``/``mesh.pc2``): a textured
  triangle mesh with its own Mesh Cache modifier.
* ``<name> Input Camera``: the camera that saw the input image(s): through it,
  frame 0 reproduces the start image.

One-image assets (``mode`` "single_image") import the same way: the animated
point cloud is the Gaussians object (splat size from the Gaussians' scales),
the mesh is optional. The collection also records the subject ("object" or
"scene"), the depth range (near, far metres along the input camera's
axis: the manifest's ``scene.depth_range_m``, else the 2nd and 98th
percentile of the seen Gaussians' frame-0 depths) and the point rigs aim at
(``scene.centre``, when recorded) so camera rigs frame a scene on its
contents, not on its bounding box.

The motion costs no Python per frame: the Mesh Cache modifier reads the frame's
positions from the PC2 file itself (Blender manual, "Mesh Cache Modifier").
Asset frame 0 plays at the scene's ``frame_start``; the scene's fps and frame
range are set to the asset's.

Scene camera rule (what an artist expects): the input camera becomes the
scene camera, and the render resolution becomes the input image size, when
the scene has no camera or its camera came from an earlier Tween4D import
(``make_active_camera="AUTO"``); a camera the artist set up is left alone
(then look through the input camera with Numpad 0 after making it active).
"ALWAYS" and "NEVER" override the rule.

Every datablock one import creates is tagged with the custom property
``tween4d_import`` = that import's id, so a failed import is rolled back and a
re-import removes exactly the old import's data (objects, meshes, cameras,
materials, images, node groups); objects the artist added to the collection
(e.g. camera rigs) are moved into the new collection instead of deleted.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..backend.asset import GAUSSIANS_PC2, MESH_PC2, Asset, AssetError, Camera, load_asset, texture_path
from . import splat_nodes

# Custom properties (on IDs). Bake/export and camera rigs read them.
IMPORT_PROP = "tween4d_import"  # every ID an import creates: the import's id
ROLE_PROP = "tween4d_role"  # objects: gaussians | mesh | input_camera | baked | rig
ASSET_DIR_PROP = "tween4d_asset_dir"  # collection: absolute asset directory
FRAME_START_PROP = "tween4d_frame_start"  # collection: scene frame that shows asset frame 0
FRAME_COUNT_PROP = "tween4d_frame_count"
FPS_PROP = "tween4d_fps"
GAUSSIAN_COUNT_PROP = "tween4d_gaussian_count"
MODE_PROP = "tween4d_mode"
HAS_MESH_PROP = "tween4d_has_mesh"
CAMERA_PROP = "tween4d_camera"  # collection: asset.json's camera entry as JSON text
BOUNDS_MIN_PROP = "tween4d_bounds_min"  # collection: [3] metres, over all frames
BOUNDS_MAX_PROP = "tween4d_bounds_max"
SUBJECT_PROP = "tween4d_subject"  # collection: "object" | "scene"
DEPTH_RANGE_PROP = "tween4d_depth_range"  # collection: [near, far] metres along the input camera's view axis
TARGET_PROP = "tween4d_target"  # collection: [3] world point rigs aim at (asset.json scene.centre), if recorded
FILLED_COUNT_PROP = "tween4d_filled_count"  # collection: Gaussians flagged as filled in

ROLE_GAUSSIANS = "gaussians"
ROLE_MESH = "mesh"
ROLE_INPUT_CAMERA = "input_camera"

MOTION_MODIFIER = "Tween4D Motion"
SPLAT_MODIFIER = "Tween4D Splats"
UV_MAP = "UVMap"
SENSOR_WIDTH_MM = 36.0

# Datablock collections an import may add to; searched when removing one.
_ID_COLLECTIONS = ("objects", "meshes", "cameras", "materials", "images", "node_groups", "collections")


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded 0..1 values to scene-linear (IEC 61966-2-1 EOTF).

    Args:
        c: float array of any shape, sRGB 0..1.

    Returns:
        float32 array of the same shape, linear 0..1.
    """
    c = np.clip(np.asarray(c, dtype=np.float32), 0.0, 1.0)
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


def fps_settings(fps: float) -> tuple[int, float]:
    """Blender's (fps, fps_base) for a frame rate: fps / fps_base == ``fps``.

    Non-integer rates (e.g. 23.976) become the nearest integer fps with a
    fps_base slightly above 1, as Blender's own frame-rate presets do.
    """
    whole = max(1, int(round(float(fps))))
    return whole, whole / float(fps)


def camera_settings(cam: Camera) -> dict:
    """Blender camera + render settings that reproduce pinhole intrinsics.

    With ``sensor_fit = HORIZONTAL`` the sensor width spans the image width,
    so ``lens = fx * sensor_width / width``. Blender measures lens shift in
    units of the fitted dimension (the width here) and scales rows by the
    pixel aspect ``ycor = pixel_aspect_y / pixel_aspect_x``
    (``BKE_camera_params_compute_viewplane``), which gives
    ``shift_x = (width / 2 - cx) / width``, ``shift_y = (cy - height / 2) * ycor / width``
    and ``ycor = fx / fy`` for non-square pixels.

    Args:
        cam: the asset's input camera (pixels).

    Returns:
        dict with lens, sensor_width, sensor_fit, shift_x, shift_y (Camera
        data), resolution_x, resolution_y, pixel_aspect_x, pixel_aspect_y
        (render settings; both aspects >= 1 as Blender requires).
    """
    ycor = cam.fx / cam.fy
    aspect_x, aspect_y = (1.0, ycor) if ycor >= 1.0 else (1.0 / ycor, 1.0)
    return {
        "lens": cam.fx * SENSOR_WIDTH_MM / cam.width,
        "sensor_width": SENSOR_WIDTH_MM,
        "sensor_fit": "HORIZONTAL",
        "shift_x": (cam.width / 2.0 - cam.cx) / cam.width,
        "shift_y": (cam.cy - cam.height / 2.0) * ycor / cam.width,
        "resolution_x": int(cam.width),
        "resolution_y": int(cam.height),
        "pixel_aspect_x": aspect_x,
        "pixel_aspect_y": aspect_y,
    }


def asset_bounds(means: np.ndarray, max_frames: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned bounds of the Gaussian means over time.

    Args:
        means: float32 [T, N, 3] (a memory map is fine), metres.
        max_frames: at most this many evenly spaced frames are read (first
            and last always), so large caches stay cheap to open.

    Returns:
        (lo, hi): float64 [3] each, world metres.
    """
    t = means.shape[0]
    frames = np.unique(np.linspace(0, t - 1, min(t, max_frames)).round().astype(int))
    sample = np.asarray(means[frames], dtype=np.float32)
    return sample.min(axis=(0, 1)).astype(np.float64), sample.max(axis=(0, 1)).astype(np.float64)


def _tag(id_block, import_id: str):
    id_block[IMPORT_PROP] = import_id
    return id_block


def remove_import_data(import_id: str) -> int:
    """Delete every datablock tagged with ``import_id``.

    Returns:
        How many datablocks were removed.
    """
    doomed = []
    for attr in _ID_COLLECTIONS:
        doomed.extend(i for i in getattr(bpy.data, attr) if i.get(IMPORT_PROP) == import_id)
    if doomed:
        bpy.data.batch_remove(doomed)
    return len(doomed)


def _set_flip_axis_none(mod) -> None:
    # flip_axis is a boolean[3] in Blender 5.0 and an enum flag set in older releases.
    try:
        mod.flip_axis = (False, False, False)
    except (TypeError, ValueError):
        mod.flip_axis = set()


def add_mesh_cache(obj: bpy.types.Object, pc2_path: str | Path, frame_start: int) -> bpy.types.Modifier:
    """Add a Mesh Cache modifier that plays ``pc2_path`` with asset frame 0 at ``frame_start``.

    Axes are set explicitly to forward +Y / up +Z with no flips, the
    modifier's identity (no axis conversion): the asset is already in
    Blender's frame. Fractional frames interpolate linearly.
    """
    mod = obj.modifiers.new(MOTION_MODIFIER, "MESH_CACHE")
    mod.cache_format = "PC2"
    mod.filepath = str(pc2_path)
    mod.forward_axis = "POS_Y"
    mod.up_axis = "POS_Z"
    _set_flip_axis_none(mod)
    mod.deform_mode = "OVERWRITE"
    mod.interpolation = "LINEAR"
    mod.time_mode = "FRAME"
    mod.play_mode = "SCENE"
    mod.frame_start = float(frame_start)
    mod.frame_scale = 1.0
    mod.factor = 1.0
    return mod


def _foreach_set(seq, prop: str, values: np.ndarray) -> None:
    dtype = np.int32 if np.issubdtype(np.asarray(values).dtype, np.integer) else np.float32
    seq.foreach_set(prop, np.ascontiguousarray(values, dtype=dtype).ravel())


def filled_flags(asset: Asset) -> np.ndarray | None:
    """The asset's per-Gaussian "filled in" flags, int8 [N] (0 = seen in the image, 1 = filled in), or None.

    ``Gaussians.filled`` (gaussians.npz ``filled``; asset-format.md, single-image
    assets), checked by the reader: shape [N], values 0 and 1.
    """
    flags = asset.gaussians.filled
    return None if flags is None else np.asarray(flags).astype(np.int8)


def depth_range_of(asset: Asset, filled: np.ndarray | None = None) -> tuple[float, float] | None:
    """(near, far) metres along the input camera's view axis that the asset's subject spans.

    The manifest's ``scene.depth_range_m`` (or a top-level ``depth_range``)
    when it has one; else the 2nd and 98th percentiles of the frame-0 depths of the
    Gaussians seen in the image (all of them when no flags). None when no
    Gaussian is in front of the camera.
    """
    man = asset.manifest
    stored = (man.get("scene") or {}).get("depth_range_m") or man.get("depth_range")
    if stored is not None:
        near, far = (float(v) for v in stored)
        if 0.0 < near <= far:
            return near, far
    means = np.asarray(asset.gaussians.means[0], np.float64)
    if filled is not None and (filled == 0).any():
        means = means[filled == 0]
    _, depth = Camera.from_dict(man["camera"]).project(means)
    depth = depth[depth > 0]
    if depth.size == 0:
        return None
    near, far = np.percentile(depth, [2.0, 98.0])
    return float(near), float(max(far, near))


FILLED_DISPLAYS = ("SHOW", "TINT", "HIDE")


def set_filled_display(collection: bpy.types.Collection, display: str) -> int:
    """Show, tint or hide the filled-in Gaussians of an imported one-image asset.

    Sets the splat modifier's Show Filled and Filled Tint inputs
    (``splat_nodes``) on the collection's Gaussians objects: SHOW (as
    generated), TINT (pulled 70 % toward magenta), HIDE (not drawn).

    Returns:
        How many Gaussians objects were changed.

    Raises:
        ValueError: unknown ``display``.
    """
    if display not in FILLED_DISPLAYS:
        raise ValueError(f"display must be one of {FILLED_DISPLAYS}, got {display!r}")
    changed = 0
    for obj in objects_with_role(collection, ROLE_GAUSSIANS):
        mod = obj.modifiers.get(SPLAT_MODIFIER)
        if mod is None or mod.node_group is None:
            continue
        splat_nodes.set_group_input(mod, splat_nodes.SHOW_FILLED, display != "HIDE")
        splat_nodes.set_group_input(mod, splat_nodes.FILLED_TINT, 0.7 if display == "TINT" else 0.0)
        changed += 1
    return changed


def filled_display(collection: bpy.types.Collection) -> str:
    """The current SHOW / TINT / HIDE state of a collection's filled-in Gaussians (SHOW when unknown)."""
    for obj in objects_with_role(collection, ROLE_GAUSSIANS):
        mod = obj.modifiers.get(SPLAT_MODIFIER)
        if mod is None or mod.node_group is None:
            continue
        try:
            if not splat_nodes.get_group_input(mod, splat_nodes.SHOW_FILLED):
                return "HIDE"
            return "TINT" if splat_nodes.get_group_input(mod, splat_nodes.FILLED_TINT) > 0 else "SHOW"
        except KeyError:
            return "SHOW"
    return "SHOW"


def stored_depth_range(collection: bpy.types.Collection) -> tuple[float, float] | None:
    """The (near, far) depth range stored on an imported asset's collection, or None."""
    value = collection.get(DEPTH_RANGE_PROP)
    if value is None or len(value) != 2:
        return None
    return float(value[0]), float(value[1])


def _point_attribute(mesh, name: str, data_type: str, prop: str, values: np.ndarray):
    attr = mesh.attributes.new(name, data_type, "POINT")
    _foreach_set(attr.data, prop, values)
    return attr


def _build_points_object(asset: Asset, name: str, import_id: str, frame_start: int) -> bpy.types.Object:
    g = asset.gaussians
    mesh = _tag(bpy.data.meshes.new(f"{name} Gaussians"), import_id)
    mesh.vertices.add(g.count)
    _foreach_set(mesh.vertices, "co", g.means[0])
    rgba = np.empty((g.count, 4), np.float32)
    rgba[:, :3] = srgb_to_linear(g.colors)
    rgba[:, 3] = g.opacities
    _point_attribute(mesh, splat_nodes.COLOR_ATTR, "FLOAT_COLOR", "color", rgba)
    _point_attribute(mesh, splat_nodes.OPACITY_ATTR, "FLOAT", "value", g.opacities)
    _point_attribute(mesh, splat_nodes.SCALE_ATTR, "FLOAT_VECTOR", "vector", g.scales_at(0))
    _point_attribute(mesh, splat_nodes.ROTATION_ATTR, "QUATERNION", "value", g.rotations_at(0))
    filled = filled_flags(asset)
    if filled is not None:
        _point_attribute(mesh, splat_nodes.FILLED_ATTR, "INT8", "value", filled)
    mesh.color_attributes.active_color_name = splat_nodes.COLOR_ATTR
    mesh.color_attributes.render_color_index = mesh.color_attributes.active_color_index
    mesh.update()

    obj = _tag(bpy.data.objects.new(f"{name} Gaussians", mesh), import_id)
    obj[ROLE_PROP] = ROLE_GAUSSIANS
    add_mesh_cache(obj, Path(asset.path) / GAUSSIANS_PC2, frame_start)
    material = _tag(splat_nodes.build_splat_material(f"{name} Splats"), import_id)
    group = _tag(splat_nodes.build_splat_node_group(f"{splat_nodes.GROUP_PREFIX} {name}", material), import_id)
    mod = obj.modifiers.new(SPLAT_MODIFIER, "NODES")
    mod.node_group = group
    obj.data.materials.append(material)  # so exporters and the material panel see it
    return obj


def _build_mesh_object(asset: Asset, name: str, import_id: str, frame_start: int) -> bpy.types.Object:
    m = asset.mesh
    faces = np.asarray(m.faces, dtype=np.int32)
    mesh = _tag(bpy.data.meshes.new(f"{name} Mesh"), import_id)
    mesh.vertices.add(m.vertices.shape[1])
    _foreach_set(mesh.vertices, "co", m.vertices[0])
    mesh.loops.add(faces.size)
    mesh.polygons.add(faces.shape[0])
    mesh.loops.foreach_set("vertex_index", faces.ravel())
    mesh.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    uv_layer = mesh.uv_layers.new(name=UV_MAP)
    _foreach_set(uv_layer.data, "uv", np.asarray(m.uv, np.float32)[faces.ravel()])
    if m.vertex_colors is not None:
        rgba = np.ones((m.vertex_colors.shape[0], 4), np.float32)
        rgba[:, :3] = srgb_to_linear(m.vertex_colors)
        _point_attribute(mesh, splat_nodes.COLOR_ATTR, "FLOAT_COLOR", "color", rgba)
    mesh.update()
    if mesh.validate(verbose=False):
        raise AssetError("mesh.npz holds invalid faces (degenerate or repeated vertex indices)")
    if hasattr(mesh, "shade_smooth"):
        mesh.shade_smooth()

    image = None
    tex = texture_path(asset)
    if tex is not None:
        try:
            image = _tag(bpy.data.images.load(str(tex), check_existing=False), import_id)
        except RuntimeError as exc:
            raise AssetError(f"{tex.name} cannot be read as an image: {exc}") from exc
    material = _tag(
        splat_nodes.build_mesh_material(f"{name} Mesh", image, UV_MAP, m.vertex_colors is not None), import_id
    )
    mesh.materials.append(material)

    obj = _tag(bpy.data.objects.new(f"{name} Mesh", mesh), import_id)
    obj[ROLE_PROP] = ROLE_MESH
    add_mesh_cache(obj, Path(asset.path) / MESH_PC2, frame_start)
    return obj


def _build_camera_object(cam: Camera, name: str, import_id: str) -> bpy.types.Object:
    data = _tag(bpy.data.cameras.new(f"{name} Input Camera"), import_id)
    s = camera_settings(cam)
    data.lens_unit = "MILLIMETERS"
    data.sensor_fit = s["sensor_fit"]
    data.sensor_width = s["sensor_width"]
    data.lens = s["lens"]
    data.shift_x = s["shift_x"]
    data.shift_y = s["shift_y"]
    data.clip_start = 0.01
    data.clip_end = 1000.0
    obj = _tag(bpy.data.objects.new(f"{name} Input Camera", data), import_id)
    obj[ROLE_PROP] = ROLE_INPUT_CAMERA
    obj.matrix_world = Matrix(np.asarray(cam.matrix_world, dtype=np.float64).tolist())
    return obj


def apply_camera_render_settings(scene: bpy.types.Scene, cam: Camera) -> None:
    """Set the render resolution and pixel aspect that ``cam``'s intrinsics need."""
    s = camera_settings(cam)
    r = scene.render
    r.resolution_x = s["resolution_x"]
    r.resolution_y = s["resolution_y"]
    r.resolution_percentage = 100
    r.pixel_aspect_x = s["pixel_aspect_x"]
    r.pixel_aspect_y = s["pixel_aspect_y"]


def find_asset_collections(asset_dir: str | Path | None = None) -> list[bpy.types.Collection]:
    """Collections made by ``import_asset`` (of ``asset_dir`` only, when given)."""
    want = None if asset_dir is None else str(Path(bpy.path.abspath(str(asset_dir))).resolve())
    return [
        c
        for c in bpy.data.collections
        if c.get(IMPORT_PROP) and c.get(ASSET_DIR_PROP) and (want is None or c.get(ASSET_DIR_PROP) == want)
    ]


def objects_with_role(collection: bpy.types.Collection, role: str) -> list[bpy.types.Object]:
    """Objects of ``collection`` whose ``tween4d_role`` is ``role``."""
    return [o for o in collection.objects if o.get(ROLE_PROP) == role]


def asset_collection_of(context) -> bpy.types.Collection | None:
    """The Tween4D collection the artist means: the active object's, else the only one.

    Returns:
        The collection, or None when there is none or the choice is ambiguous.
    """
    obj = getattr(context, "active_object", None)
    if obj is not None:
        for c in obj.users_collection:
            if c.get(IMPORT_PROP) and c.get(ASSET_DIR_PROP):
                return c
    found = find_asset_collections()
    return found[0] if len(found) == 1 else None


def stored_camera(collection: bpy.types.Collection) -> Camera:
    """The input camera stored on an imported asset's collection.

    Raises:
        AssetError: the collection holds no camera entry.
    """
    text = collection.get(CAMERA_PROP)
    if not text:
        raise AssetError(f"collection {collection.name!r} holds no Tween4D camera; re-import the asset")
    return Camera.from_dict(json.loads(text))


def _store_facts(coll, asset: Asset, asset_dir: Path, frame_start: int) -> None:
    man = asset.manifest
    lo, hi = asset_bounds(asset.gaussians.means)
    if asset.mesh is not None:
        mlo, mhi = asset_bounds(asset.mesh.vertices)
        lo, hi = np.minimum(lo, mlo), np.maximum(hi, mhi)
    coll[ASSET_DIR_PROP] = str(asset_dir)
    coll[FRAME_START_PROP] = int(frame_start)
    coll[FRAME_COUNT_PROP] = int(man["frame_count"])
    coll[FPS_PROP] = float(man["fps"])
    coll[GAUSSIAN_COUNT_PROP] = int(man["gaussian_count"])
    coll[MODE_PROP] = str(man["mode"])
    coll[HAS_MESH_PROP] = asset.mesh is not None
    coll[CAMERA_PROP] = json.dumps(man["camera"])
    coll[BOUNDS_MIN_PROP] = [float(v) for v in lo]
    coll[BOUNDS_MAX_PROP] = [float(v) for v in hi]
    filled = filled_flags(asset)
    coll[SUBJECT_PROP] = str(man.get("subject") or "object")
    coll[FILLED_COUNT_PROP] = int(filled.sum()) if filled is not None else 0
    depth_range = depth_range_of(asset, filled)
    if depth_range is not None:
        coll[DEPTH_RANGE_PROP] = list(depth_range)
    centre = (man.get("scene") or {}).get("centre")
    if centre is not None and len(centre) == 3 and np.all(np.isfinite(np.asarray(centre, np.float64))):
        coll[TARGET_PROP] = [float(v) for v in centre]


def _build(scene, asset: Asset, asset_dir: Path, name: str, import_id: str) -> bpy.types.Collection:
    frame_start = int(scene.frame_start)
    coll = _tag(bpy.data.collections.new(name), import_id)
    scene.collection.children.link(coll)
    _store_facts(coll, asset, asset_dir, frame_start)
    coll.objects.link(_build_points_object(asset, name, import_id, frame_start))
    if asset.mesh is not None:
        coll.objects.link(_build_mesh_object(asset, name, import_id, frame_start))
    coll.objects.link(_build_camera_object(Camera.from_dict(asset.manifest["camera"]), name, import_id))
    return coll


def _replace_old(old: list, new: bpy.types.Collection) -> None:
    for coll in old:
        old_id = coll.get(IMPORT_PROP)
        for obj in list(coll.objects):
            if obj.get(IMPORT_PROP) != old_id and obj.name not in new.objects:
                new.objects.link(obj)  # artist's additions (rigs, lights) survive the re-import
        remove_import_data(old_id)


def _choose_scene_camera(scene, camera_obj, cam: Camera, make_active_camera: str) -> None:
    current = scene.camera
    if make_active_camera == "NEVER":
        return
    if make_active_camera == "AUTO" and current is not None and not current.get(IMPORT_PROP):
        return
    scene.camera = camera_obj
    apply_camera_render_settings(scene, cam)


def import_asset(context, asset_dir, *, name: str | None = None, make_active_camera: str = "AUTO") -> bpy.types.Collection:
    """Import a Tween4D asset directory as one collection (see module doc).

    Args:
        context: a Blender context with a scene.
        asset_dir: the asset folder (holding asset.json); ``//``-relative
            paths are resolved against the .blend file.
        name: collection/object name prefix; default the folder's name.
        make_active_camera: "AUTO" (scene camera if none or from an earlier
            Tween4D import), "ALWAYS" or "NEVER".

    Returns:
        The new collection, linked to the scene's master collection. It
        carries the ``tween4d_*`` custom properties listed at the top of this
        module; an earlier import of the same folder is replaced.

    Raises:
        AssetError: the folder is not a complete, valid asset; nothing is left
            in the file (the reader validates first, and any failure while
            building removes everything built so far).
    """
    if make_active_camera not in ("AUTO", "ALWAYS", "NEVER"):
        raise ValueError(f"make_active_camera must be AUTO, ALWAYS or NEVER, got {make_active_camera!r}")
    asset_dir = Path(bpy.path.abspath(str(asset_dir))).resolve()
    asset = load_asset(asset_dir)
    name = name or asset_dir.name
    scene = context.scene
    import_id = uuid.uuid4().hex
    old = find_asset_collections(asset_dir)
    try:
        coll = _build(scene, asset, asset_dir, name, import_id)
    except BaseException:
        remove_import_data(import_id)
        raise
    _replace_old(old, coll)
    coll.name = name  # takes the old collection's name once that one is gone

    fps, fps_base = fps_settings(asset.manifest["fps"])
    scene.render.fps = fps
    scene.render.fps_base = fps_base
    scene.frame_end = scene.frame_start + int(asset.manifest["frame_count"]) - 1
    scene.frame_set(scene.frame_start)
    cam_obj = objects_with_role(coll, ROLE_INPUT_CAMERA)[0]
    _choose_scene_camera(scene, cam_obj, Camera.from_dict(asset.manifest["camera"]), make_active_camera)
    return coll
