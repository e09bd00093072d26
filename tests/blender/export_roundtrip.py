"""Bake + export an asset, re-import the files, and write what Blender sees as JSON.

Run by tests/blender/test_export.py in a subprocess (Blender 4.2 can crash at
exit after the glTF exporter ran, so the test judges the JSON, and this script
leaves with ``os._exit`` once the JSON is written):

    python export_roundtrip.py ASSET_DIR OUT_DIR RESULT.json
"""

from __future__ import annotations

import json
import os
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from assets_fixtures import OPERATOR_MODULES, addon_module, bpy, datablock_counts, evaluated_vertices, load_package  # noqa: E402

import numpy as np  # noqa: E402

CASES = {
    # name: (target, max_points, frame_step)
    "points": ("POINTS", 200, 1),
    "mesh": ("MESH", 0, 3),
}


def _fresh():
    bpy.ops.wm.read_factory_settings(use_empty=True)




def _glb_summary(path: Path) -> dict:
    """Primitive mode, attribute names and animation interpolation from a .glb's JSON chunk."""
    raw = path.read_bytes()
    length = struct.unpack("<I", raw[12:16])[0]
    doc = json.loads(raw[20 : 20 + length])
    prim = doc["meshes"][0]["primitives"][0]
    return {
        "mode": prim.get("mode", 4),
        "attributes": sorted(prim["attributes"]),
        "targets": len(prim.get("targets", [])),
        "interpolations": sorted({s["interpolation"] for a in doc.get("animations", []) for s in a["samplers"]}),
    }


def _reimport(path: Path, frame_count: int) -> dict:
    _fresh()
    if path.suffix == ".glb":
        bpy.ops.import_scene.gltf(filepath=str(path))
    else:
        bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0.0)
    meshes = [o for o in bpy.data.objects if o.type == "MESH"]
    obj = meshes[0]
    keys = obj.data.shape_keys
    action = keys.animation_data.action if keys and keys.animation_data else None
    first = int(round(action.frame_range[0])) if action else bpy.context.scene.frame_start
    return {
        "objects": len(meshes),
        "vertex_count": len(obj.data.vertices),
        "face_count": len(obj.data.polygons),
        "shape_keys": len(keys.key_blocks) if keys else 0,
        "first_frame": first,
        "positions": [evaluated_vertices(obj, bpy.context.scene, first + f, world=True).tolist() for f in range(frame_count)],
    }


def main(asset_dir: Path, out_dir: Path, result_path: Path) -> None:
    load_package()
    importer = addon_module("importer")
    bake_export = addon_module("bake_export")
    result = {}
    for name, (target, max_points, step) in CASES.items():
        _fresh()
        coll = importer.import_asset(bpy.context, asset_dir)
        frame_count = int(coll[importer.FRAME_COUNT_PROP])
        source = bake_export.bake_target(coll, target)
        before = datablock_counts()
        paths = bake_export.bake_and_export(
            bpy.context, coll, out_dir / name, target=target, formats=("GLB", "FBX"), max_points=max_points, frame_step=step
        )
        entry = {
            "files": [str(p) for p in paths],
            "leftovers": {k: v - before[k] for k, v in datablock_counts().items() if v != before[k]},
            "source_modifiers": [m.type for m in source.modifiers],
        }
        for p in paths:
            entry[p.suffix[1:]] = _reimport(p, frame_count)
            if p.suffix == ".glb":
                entry["glb_file"] = _glb_summary(p)
        result[name] = entry

    # The operator path, as the panel calls it.
    _fresh()
    for mod in OPERATOR_MODULES:
        for cls in importlib_module(mod).classes:
            if not hasattr(bpy.types, cls.__name__):
                bpy.utils.register_class(cls)
    bpy.ops.tween4d.import_asset(directory=str(asset_dir))
    ret = bpy.ops.tween4d.bake_export(filepath=str(out_dir / "operator"), formats={"GLB"}, max_points=50, frame_step=2)
    result["operator"] = {"return": sorted(ret), "glb_exists": (out_dir / "operator.glb").is_file()}

    result_path.write_text(json.dumps(result))


def importlib_module(name: str):
    import importlib

    return importlib.import_module(f"tween4d.addon.operators.{name}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown (Blender 4.2 may segfault there after glTF export)
