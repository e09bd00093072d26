"""Blender-side speed figures: import, per-frame evaluation, bake + glb export, peak memory.

Not a test: it prints figures. Run with the venv's Python (bpy as a module):

    .venv/bin/python benchmarks/bench_blender.py [--gaussians 100000 --frames 120]
        [--bake-points 20000 --bake-frames 48] [--eval-frames 24]

Targets: import of 100,000 Gaussians x 120 frames <= 1 s (the Mesh Cache
modifier streams positions from the PC2 file, so import does no per-frame
work and playback runs no Python); bake + .glb export of 20,000 points x 48
frames <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("BLENDER_USER_RESOURCES", tempfile.mkdtemp(prefix="tween4d-bench-blender-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(ROOT / "tests" / "blender"))

from assets_fixtures import addon_module, bpy, load_package, make_test_asset  # noqa: E402


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _eval_per_frame(obj, frames: range) -> float:
    scene = bpy.context.scene
    t0 = time.perf_counter()
    for f in frames:
        scene.frame_set(f)
        obj.evaluated_get(bpy.context.evaluated_depsgraph_get())
    return (time.perf_counter() - t0) / len(frames)


def main() -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gaussians", type=int, default=100_000)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--bake-points", type=int, default=20_000)
    ap.add_argument("--bake-frames", type=int, default=48)
    ap.add_argument("--eval-frames", type=int, default=24)
    args = ap.parse_args()

    load_package()
    importer = addon_module("importer")
    bake_export = addon_module("bake_export")
    work = Path(tempfile.mkdtemp(prefix="tween4d-bench-"))
    figures: dict[str, float | int | str] = {"blender": bpy.app.version_string}

    t0 = time.perf_counter()
    big = make_test_asset(work / "big", n=args.gaussians, t=args.frames, with_mesh=False)
    figures["write_asset_s"] = time.perf_counter() - t0

    bpy.ops.wm.read_factory_settings(use_empty=True)
    t0 = time.perf_counter()
    coll = importer.import_asset(bpy.context, big)
    figures["import_s"] = time.perf_counter() - t0
    figures["import_what"] = f"{args.gaussians} Gaussians x {args.frames} frames"

    t0 = time.perf_counter()
    importer.import_asset(bpy.context, big)
    figures["reimport_s"] = time.perf_counter() - t0
    coll = importer.find_asset_collections(big)[0]
    pts = importer.objects_with_role(coll, "gaussians")[0]
    start = bpy.context.scene.frame_start
    frames = range(start + 1, start + 1 + min(args.eval_frames, args.frames - 1))
    figures["eval_per_frame_splats_s"] = _eval_per_frame(pts, frames)
    pts.modifiers[importer.SPLAT_MODIFIER].show_viewport = False
    figures["eval_per_frame_cache_only_s"] = _eval_per_frame(pts, frames)
    pts.modifiers[importer.SPLAT_MODIFIER].show_viewport = True

    bake_dir = make_test_asset(work / "bake", n=args.bake_points, t=args.bake_frames, with_mesh=False)
    bpy.ops.wm.read_factory_settings(use_empty=True)
    coll = importer.import_asset(bpy.context, bake_dir)
    src = bake_export.bake_target(coll, "POINTS")
    t0 = time.perf_counter()
    baked = bake_export.bake_shape_keys(bpy.context, src)
    figures["bake_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    (glb,) = bake_export.export_baked(bpy.context, baked, work / "bake_out", ("GLB",))
    figures["glb_export_s"] = time.perf_counter() - t0
    figures["bake_plus_glb_s"] = figures["bake_s"] + figures["glb_export_s"]
    figures["bake_what"] = f"{args.bake_points} points x {args.bake_frames} frames"
    figures["glb_mib"] = glb.stat().st_size / 2**20
    figures["peak_rss_mib"] = _peak_rss_mib()
    return figures


if __name__ == "__main__":
    result = main()
    for k, v in result.items():
        print(f"{k:28s} {v:.4f}" if isinstance(v, float) else f"{k:28s} {v}")
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # Blender 4.2 may crash at interpreter exit after the glTF exporter ran
