"""Blender side of scripts/demo.py (runs in a Python with ``bpy``).

    python demo_blender.py PAIR_DIR OUT_DIR QUALITY FRAMES

Drives the add-on exactly as an artist would, through its operators: pick the
two images, Generate (the blocking path: background Blender runs no modal
timers), add an orbit camera, bake + export .glb, save the .blend.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import bpy  # noqa: E402

from blender_dev import enable_working_tree  # noqa: E402


def fail(message: str) -> None:
    print(f"error: {message}", file=sys.stderr, flush=True)
    os._exit(1)


def main(pair: Path, out: Path, quality: str, frames: int) -> None:
    t0 = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    package = enable_working_tree()
    prefs = bpy.context.preferences.addons[package].preferences
    prefs.backend_python = str(ROOT / ".venv" / "bin" / "python")

    scene = bpy.context.scene
    settings = scene.tween4d
    settings.start.filepath = str(pair / "start.png")
    settings.end.filepath = str(pair / "end.png")
    settings.quality = quality
    settings.frames = frames
    settings.output_dir = str(out)
    settings.asset_name = pair.name
    print(f"Generating {pair.name} ({quality}, {frames} frames) through the Tween4D add-on ...", flush=True)
    if bpy.ops.tween4d.generate() != {"FINISHED"}:
        job = bpy.context.window_manager.tween4d_job
        fail(f"{job.error_message} {job.error_hint}".strip() or "generation failed")
    asset_dir = Path(bpy.context.window_manager.tween4d_job.last_asset)
    if bpy.ops.tween4d.add_camera_rig(path="ORBIT") != {"FINISHED"}:
        fail("could not add the orbit camera")
    glb = out / f"{pair.name}.glb"
    if bpy.ops.tween4d.bake_export(filepath=str(out / pair.name), formats={"GLB"}) != {"FINISHED"} or not glb.is_file():
        fail("the glTF export did not write a file")
    blend = out / f"{pair.name}.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    print(f"\nDone in {time.perf_counter() - t0:.1f} s:")
    print(f"  asset   {asset_dir}  (preview: {asset_dir / 'preview.mp4'})")
    print(f"  blend   {blend}  (open it in Blender 4.2+ and press play)")
    print(f"  glb     {glb}  (morph-target animation for game engines)", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
    sys.stdout.flush()
    os._exit(0)  # skip teardown: some Blender builds crash at exit after the glTF exporter ran
