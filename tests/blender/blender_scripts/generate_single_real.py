"""Blender side of test_generate_single_real: a real one-image drag job through the add-on's blocking generate path.

Run by conftest.run_blender as ``python generate_single_real.py WORK_DIR IMAGE DRAG_JSON``: enables this
working tree as an extension, points the backend interpreter at this Python (the real backend), sets One
Image mode with the drag arrow and pin of DRAG_JSON ({"drag": [u0, v0, u1, v1], "pin": [u, v]}, input-image
pixels) through the add-on's drag list, the ROTATE camera rig, draft quality, and presses Generate. Reports
what was imported, and where the imported Gaussians nearest the drag's start and the pin are, on the first
and last frame, seen through the imported input camera (input-image pixels).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bpy  # noqa: E402  (first Blender import: puts addon_utils on sys.path)
import numpy as np  # noqa: E402
from blender_helpers import emit, enable_working_tree  # noqa: E402
from splat_instances import instance_positions  # noqa: E402


def to_pixels(scene, cam, points) -> np.ndarray:
    """World points [N, 3] -> input-image pixels [N, 2] (u right, v down) through ``cam``."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    w, h = scene.render.resolution_x, scene.render.resolution_y
    xy = np.array([tuple(world_to_camera_view(scene, cam, Vector(p.tolist())))[:2] for p in points])
    return np.stack([xy[:, 0] * w, (1.0 - xy[:, 1]) * h], axis=1)


def main(work_dir: str, image: str, drag_json: str) -> None:
    spec = json.loads(drag_json)
    context = bpy.context
    package = enable_working_tree()
    drags = sys.modules[f"{package}.addon.drags"]
    importer = sys.modules[f"{package}.addon.importer"]
    prefs = context.preferences.addons[package].preferences
    prefs.backend_python = sys.executable
    prefs.default_quality = "draft"
    settings = context.scene.tween4d
    settings.mode = "ONE_IMAGE"
    settings.image.filepath = image
    settings.frames = 7
    settings.preview = False
    settings.output_dir = str(Path(work_dir) / "out")
    settings.asset_name = "cat_drag"
    settings.motion_source = "drag"
    drags.add_entry(settings.drags, "DRAG", spec["drag"])
    drags.add_entry(settings.drags, "PIN", spec["pin"])
    settings.camera_path = "ROTATE"
    try:
        status = sorted(bpy.ops.tween4d.generate())
    except RuntimeError as exc:
        status = [f"error: {exc}"]
    job = context.window_manager.tween4d_job
    result = {"status": status, "error": job.error_message, "asset": job.last_asset}
    coll = next(iter(importer.find_asset_collections()), None)
    if coll is not None:
        scene = context.scene
        (points,) = importer.objects_with_role(coll, "gaussians")
        cam = importer.objects_with_role(coll, "input_camera")[0]
        first, last = scene.frame_start, scene.frame_end
        p0, p1 = instance_positions(points, scene, first), instance_positions(points, scene, last)
        attr = points.data.attributes.get("filled")
        filled = np.zeros(len(p0), np.int32)
        if attr is not None:
            attr.data.foreach_get("value", filled)
        seen = np.nonzero(filled == 0)[0]
        uv0 = to_pixels(scene, cam, p0[seen])
        picks = {}
        for name, (u, v) in (("drag", spec["drag"][:2]), ("pin", spec["pin"])):
            i = seen[np.argmin(np.hypot(uv0[:, 0] - u, uv0[:, 1] - v))]
            picks[name] = {"first": to_pixels(scene, cam, p0[[i]])[0].tolist(),
                           "last": to_pixels(scene, cam, p1[[i]])[0].tolist()}
        rig = scene.camera
        result.update({
            "mode": coll["tween4d_mode"], "subject": coll["tween4d_subject"],
            "filled_count": coll["tween4d_filled_count"], "gaussians": len(p0), "frames": last - first + 1,
            "has_target": "tween4d_target" in coll, "depth_range": list(coll.get("tween4d_depth_range", [])),
            "rig_path": rig.get("tween4d_rig_path") if rig else None,
            "resolution": [scene.render.resolution_x, scene.render.resolution_y],
            "picks": picks,
        })
    emit(result)


if __name__ == "__main__":
    main(*sys.argv[1:4])
