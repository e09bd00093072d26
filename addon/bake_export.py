"""Bake an imported asset's motion to shape keys and export it for game engines.

Game engines do not read Blender's Mesh Cache; they read morph targets (glTF)
or blend shapes (FBX). ``bake_shape_keys`` makes a *copy* of the points or
mesh object (the Mesh Cache original is untouched) whose Basis is asset frame
0 and which has one shape key per further sampled frame, filled from the PC2
file with numpy and ``foreach_set``. Key k is keyed 0 at the previous sampled
frame, 1 at its own, 0 at the next, with LINEAR interpolation: exactly one key
is fully on at each sampled frame, and between two sampled frames the shape
blends linearly from one to the next -- the same linear-in-time playback as
the Mesh Cache modifier's LINEAR interpolation, so thinning frames
(``frame_step`` > 1) still plays smoothly instead of stepping, and glTF
viewers, which interpolate morph weights linearly (glTF 2.0 spec, "Animation
Samplers"), reproduce it exactly.

``export_baked`` writes ``.glb`` (``export_scene.gltf``: morph targets +
morph-weight animation; loose points exported as a POINTS primitive with
``use_mesh_vertices``) and/or ``.fbx`` (``export_scene.fbx``: blend shapes; the
shape-key animation is baked only with NLA strips / all actions off and mesh
modifiers not applied). Options an installed exporter does not know are
dropped, so the code runs on Blender 4.2 .. 5.0.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np

from ..backend.asset import AssetError, read_pc2
from . import importer, splat_nodes
from .keyframes import set_interpolation

ROLE_BAKED = "baked"
FORMATS = ("GLB", "FBX")
_EXTENSIONS = {"GLB": ".glb", "FBX": ".fbx"}


def thin_indices(count: int, max_points: int, seed: int = 0) -> np.ndarray:
    """Deterministic uniform subsample of point indices.

    Args:
        count: number of points N.
        max_points: budget; 0 or >= N keeps all.
        seed: RNG seed (same seed, same subset, so exports are reproducible).

    Returns:
        int64 [M] sorted indices, M = min(N, max_points) (all N when 0).
    """
    if max_points <= 0 or max_points >= count:
        return np.arange(count)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(count, size=max_points, replace=False))


def sample_frames(frame_count: int, frame_step: int) -> np.ndarray:
    """Asset frames kept when baking every ``frame_step``-th frame.

    Returns:
        int64 [K] increasing frame indices: 0, step, 2*step, ... and always
        the last frame T-1 (in two-image mode it reproduces the end image).
    """
    step = max(1, int(frame_step))
    frames = np.arange(0, frame_count, step)
    if frames[-1] != frame_count - 1:
        frames = np.append(frames, frame_count - 1)
    return frames


def _motion_source(obj: bpy.types.Object) -> tuple[str, int]:
    for mod in obj.modifiers:
        if mod.type == "MESH_CACHE" and mod.cache_format == "PC2" and mod.filepath:
            return bpy.path.abspath(mod.filepath), int(round(mod.frame_start))
    raise AssetError(f"{obj.name} has no PC2 Mesh Cache modifier to bake; import the asset with Tween4D first")


def key_shape_keys(shape_keys, key_blocks, scene_frames: np.ndarray) -> None:
    """Key shape keys so exactly one is fully on at each sampled frame (LINEAR between).

    Args:
        shape_keys: the mesh's ``Key`` datablock (``mesh.shape_keys``).
        key_blocks: the K-1 shape keys after Basis, in frame order.
        scene_frames: int [K] scene frames of Basis and of each key.
    """
    for k, kb in enumerate(key_blocks, start=1):
        for f, v in ((scene_frames[k - 1], 0.0), (scene_frames[k], 1.0)):
            kb.value = v
            kb.keyframe_insert("value", frame=float(f))
        if k + 1 < len(scene_frames):
            kb.value = 0.0
            kb.keyframe_insert("value", frame=float(scene_frames[k + 1]))
    set_interpolation(shape_keys, "LINEAR")


def bake_shape_keys(context, source: bpy.types.Object, *, max_points: int = 0, frame_step: int = 1, name: str | None = None) -> bpy.types.Object:
    """Bake a Mesh Cache-animated object to a shape-key-animated copy.

    Args:
        context: Blender context (its scene's collection receives the copy
            when the source has none).
        source: an imported Gaussians or mesh object (Mesh Cache on a PC2).
        max_points: for a vertex-only (points) object, keep at most this many
            points (``thin_indices``); ignored for meshes with faces.
        frame_step: keep every ``frame_step``-th frame (``sample_frames``).
        name: the copy's name; default "<source> Baked".

    Returns:
        A new object in the source's first collection: Basis = asset frame 0,
        one shape key "frame_NNNN" per further sampled frame, keyed on the
        scene frames the Mesh Cache plays them at. Tagged ``tween4d_role`` =
        "baked" and with the source's import id, so a re-import removes it.

    Raises:
        AssetError: no PC2 Mesh Cache, or the PC2 no longer matches the mesh.
    """
    pc2_path, frame_start = _motion_source(source)
    try:
        frames_data = read_pc2(pc2_path)
    except (OSError, ValueError) as exc:
        raise AssetError(f"cannot read the motion cache {pc2_path}: {exc}") from exc
    src_mesh = source.data
    if frames_data.shape[1] != len(src_mesh.vertices):
        raise AssetError(
            f"{Path(pc2_path).name} has {frames_data.shape[1]} points but {source.name} has "
            f"{len(src_mesh.vertices)} vertices; re-import the asset"
        )
    is_points = len(src_mesh.polygons) == 0 and len(src_mesh.edges) == 0
    idx = thin_indices(frames_data.shape[1], max_points if is_points else 0)
    frames = sample_frames(frames_data.shape[0], frame_step)

    mesh = _points_mesh(src_mesh, idx, name or f"{source.name} Baked") if is_points else src_mesh.copy()
    mesh.name = name or f"{source.name} Baked"
    mesh.vertices.foreach_set("co", np.ascontiguousarray(frames_data[0][idx], np.float32).ravel())
    obj = bpy.data.objects.new(mesh.name, mesh)
    obj.matrix_world = source.matrix_world
    obj[importer.ROLE_PROP] = ROLE_BAKED
    if source.get(importer.IMPORT_PROP):
        for block in (obj, mesh):
            block[importer.IMPORT_PROP] = source[importer.IMPORT_PROP]
    target = source.users_collection[0] if source.users_collection else context.scene.collection
    target.objects.link(obj)

    obj.shape_key_add(name="Basis", from_mix=False)
    keys = []
    for f in frames[1:]:
        kb = obj.shape_key_add(name=f"frame_{int(f):04d}", from_mix=False)
        kb.data.foreach_set("co", np.ascontiguousarray(frames_data[f][idx], np.float32).ravel())
        keys.append(kb)
    mesh.shape_keys.use_relative = True
    key_shape_keys(mesh.shape_keys, keys, frames + frame_start)
    return obj


def _points_mesh(src_mesh, idx: np.ndarray, name: str):
    """A vertex-only copy of ``src_mesh`` keeping vertices ``idx`` and the colour attribute."""
    mesh = bpy.data.meshes.new(name)
    mesh.vertices.add(len(idx))
    src_col = src_mesh.attributes.get(splat_nodes.COLOR_ATTR)
    if src_col is not None:
        rgba = np.empty(len(src_mesh.vertices) * 4, np.float32)
        src_col.data.foreach_get("color", rgba)
        col = mesh.attributes.new(splat_nodes.COLOR_ATTR, "FLOAT_COLOR", "POINT")
        col.data.foreach_set("color", rgba.reshape(-1, 4)[idx].ravel())
        mesh.color_attributes.active_color_name = splat_nodes.COLOR_ATTR
    mesh.update()
    return mesh


def _known_options(op, options: dict) -> dict:
    known = set(op.get_rna_type().properties.keys())
    return {k: v for k, v in options.items() if k in known}


def gltf_options(filepath: str, is_points: bool) -> dict:
    """``export_scene.gltf`` options for one shape-key-animated object (GLB)."""
    return {
        "filepath": filepath,
        "export_format": "GLB",
        "use_selection": True,
        "use_mesh_vertices": is_points,  # loose points -> glTF POINTS primitive
        "use_mesh_edges": False,
        "export_apply": False,
        "export_yup": True,
        "export_morph": True,
        "export_morph_normal": False,
        "export_morph_tangent": False,
        "export_morph_animation": True,
        "export_animations": True,
        "export_animation_mode": "ACTIONS",
        "export_force_sampling": True,
        "export_anim_slide_to_zero": True,  # clip time 0 = asset frame 0, as engines expect
        "export_vertex_color": "ACTIVE",
        "export_cameras": False,
        "export_lights": False,
    }


def fbx_options(filepath: str) -> dict:
    """``export_scene.fbx`` options for shape-key (blend shape) animation."""
    return {
        "filepath": filepath,
        "use_selection": True,
        "object_types": {"MESH"},
        "use_mesh_modifiers": False,
        "add_leaf_bones": False,
        "bake_anim": True,
        "bake_anim_use_all_bones": False,
        "bake_anim_use_nla_strips": False,
        "bake_anim_use_all_actions": False,
        "bake_anim_force_startend_keying": True,
        "bake_anim_step": 1.0,
        "bake_anim_simplify_factor": 0.0,  # keep every sample: blend weights change every frame
    }


def output_paths(filepath: str | Path, formats) -> dict[str, Path]:
    """Destination per format: ``filepath`` with .glb / .fbx (an existing one of those is replaced)."""
    base = Path(bpy.path.abspath(str(filepath)))
    if base.suffix.lower() in _EXTENSIONS.values():
        base = base.with_suffix("")
    return {fmt: base.with_name(base.name + _EXTENSIONS[fmt]) for fmt in FORMATS if fmt in formats}


def export_baked(context, obj: bpy.types.Object, filepath: str | Path, formats=("GLB",)) -> list[Path]:
    """Export one baked object as .glb and/or .fbx.

    Args:
        context: Blender context whose view layer holds ``obj``.
        obj: a shape-key-animated object (``bake_shape_keys``).
        filepath: destination without or with a .glb/.fbx extension.
        formats: any of "GLB", "FBX".

    Returns:
        The written files.

    Raises:
        ValueError: no known format requested.
        RuntimeError: an exporter failed (its message is kept).
    """
    paths = output_paths(filepath, formats)
    if not paths:
        raise ValueError(f"choose at least one export format of {FORMATS}")
    is_points = len(obj.data.polygons) == 0
    view_layer = context.view_layer
    selected = [o for o in view_layer.objects if o.select_get()]
    active = view_layer.objects.active
    for o in selected:
        o.select_set(False)
    obj.select_set(True)
    view_layer.objects.active = obj
    try:
        for fmt, path in paths.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            if fmt == "GLB":
                op = bpy.ops.export_scene.gltf
                result = op(**_known_options(op, gltf_options(str(path), is_points)))
            else:
                op = bpy.ops.export_scene.fbx
                result = op(**_known_options(op, fbx_options(str(path))))
            if "FINISHED" not in result or not path.is_file():
                raise RuntimeError(f"the {fmt} exporter did not write {path}")
    finally:
        obj.select_set(False)
        for o in selected:
            if o.name in view_layer.objects:
                o.select_set(True)
        view_layer.objects.active = active
    return list(paths.values())


def remove_baked(obj: bpy.types.Object) -> None:
    """Delete a baked copy with its mesh and shape-key action (no orphans left)."""
    mesh = obj.data
    doomed = [obj, mesh]
    keys = mesh.shape_keys
    if keys is not None and keys.animation_data is not None and keys.animation_data.action is not None:
        doomed.append(keys.animation_data.action)
    bpy.data.batch_remove(doomed)


def bake_target(collection: bpy.types.Collection, target: str) -> bpy.types.Object:
    """The object of an imported asset to bake: "POINTS" (Gaussians) or "MESH".

    Raises:
        AssetError: the collection has no such object.
    """
    role = {"POINTS": importer.ROLE_GAUSSIANS, "MESH": importer.ROLE_MESH}.get(target)
    if role is None:
        raise ValueError(f"target must be POINTS or MESH, got {target!r}")
    found = importer.objects_with_role(collection, role)
    if not found:
        if target == "MESH":
            raise AssetError(f"{collection.name} has no mesh to bake (the asset was generated without one); bake the points")
        raise AssetError(f"{collection.name} has no Gaussians object to bake; re-import the asset")
    return found[0]


def bake_and_export(
    context,
    collection: bpy.types.Collection,
    filepath: str | Path,
    *,
    target: str = "POINTS",
    formats=("GLB",),
    max_points: int = 0,
    frame_step: int = 1,
    keep_baked: bool = False,
) -> list[Path]:
    """Bake an imported asset's points or mesh to shape keys and export them.

    Args:
        context: Blender context.
        collection: a collection made by ``importer.import_asset``.
        filepath: destination (extension added per format).
        target: "POINTS" or "MESH".
        formats: any of "GLB", "FBX".
        max_points: points budget (0 = all); meshes are not thinned.
        frame_step: keep every n-th frame (and the last).
        keep_baked: leave the shape-key copy in the scene (else it is removed).

    Returns:
        The written files.

    Raises:
        AssetError: nothing to bake or the cache is unreadable; ValueError /
        RuntimeError as ``export_baked``. The baked copy is removed on failure.
    """
    source = bake_target(collection, target)
    baked = bake_shape_keys(context, source, max_points=max_points, frame_step=frame_step)
    try:
        paths = export_baked(context, baked, filepath, formats)
    except BaseException:
        remove_baked(baked)
        raise
    if not keep_baked:
        remove_baked(baked)
    return paths
