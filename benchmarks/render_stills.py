#!/usr/bin/env python3
"""Stills of an asset along MoRe4D's camera paths, as an artist would see them (not a test: it writes a PNG).

    .venv/bin/python benchmarks/render_stills.py out/bear --paths arc dolly --columns 5 -o out/bear_stills.png

One row per camera path (``backend.asset.camera_paths``), ``--columns`` frames
from the first to the last: the asset's time and the camera move together, as
on Blender's timeline with the rig of that path. The Gaussians are rendered
with the CPU splatting renderer (``backend.render.gaussian_views``) at the
stored camera's size (``--max-side`` scales it down). The paths are framed on
the asset's recorded centre (``asset.json['scene']['centre']``) when it has
one, else on the middle of its frame-0 depth range on the view axis.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def path_target(asset, cam) -> np.ndarray:
    """float64 [3]: the world point the camera paths are framed on."""
    from backend.asset.camera_paths import scene_target

    centre = (asset.manifest.get("scene") or {}).get("centre")
    if centre is not None:
        return np.asarray(centre, dtype=np.float64)
    local = cam.world_to_camera(np.asarray(asset.gaussians.means[0], dtype=np.float64))
    depth = -local[:, 2]
    near, far = np.percentile(depth[depth > 0], [5, 95])
    return scene_target(cam.matrix_world, (float(near), float(far)))


def render_stills(asset_dir: Path, paths: list[str], columns: int, max_side: int) -> np.ndarray:
    """uint8 [rows * H, columns * W, 3]: one row per camera path, frames first to last."""
    from backend.asset import Camera, load_asset
    from backend.asset.camera_paths import camera_path
    from backend.render.gaussian_views import render_view

    asset = load_asset(asset_dir, mmap=False)
    cam = Camera.from_dict(asset.manifest["camera"])
    k = min(1.0, max_side / max(cam.width, cam.height))
    cam = replace(cam, width=int(round(cam.width * k)), height=int(round(cam.height * k)),
                  fx=cam.fx * k, fy=cam.fy * k, cx=cam.cx * k, cy=cam.cy * k)
    g = asset.gaussians
    frames = np.linspace(0, g.frame_count - 1, columns).round().astype(int)
    target = path_target(asset, cam)
    rows = []
    for kind in paths:
        poses = camera_path(kind, cam.matrix_world, target, g.frame_count)
        panels = []
        for f in frames:
            scales = g.scales[f] if np.ndim(g.scales) == 3 else g.scales
            rots = g.rotations[f] if np.ndim(g.rotations) == 3 else g.rotations
            rgb, _ = render_view(np.asarray(g.means[f]), g.colors, g.opacities, scales, rots,
                                 replace(cam, matrix_world=poses[f]))
            panel = (rgb * 255).astype(np.uint8)
            panel[0, :] = panel[:, 0] = 128
            panels.append(panel)
        rows.append(np.concatenate(panels, axis=1))
    return np.concatenate(rows, axis=0)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("asset", type=Path, help="an asset folder")
    p.add_argument("--paths", nargs="+", default=["arc", "dolly"],
                   help="camera paths: static, dolly, circle, arc, rotate, orbit (default: arc dolly)")
    p.add_argument("--columns", type=int, default=5, help="frames per row (default 5)")
    p.add_argument("--max-side", type=int, default=256, help="longest side of each still in pixels (default 256)")
    p.add_argument("-o", "--out", type=Path, required=True, help="PNG to write")
    args = p.parse_args(argv)
    from backend.asset.camera_paths import CAMERA_PATHS
    from backend.asset.png import encode_png

    bad = [k for k in args.paths if k not in CAMERA_PATHS]
    if bad:
        p.error(f"unknown camera path(s) {', '.join(bad)}; choose from {', '.join(CAMERA_PATHS)}")
    if args.columns < 1:
        p.error("--columns must be at least 1")
    sheet = render_stills(args.asset, args.paths, args.columns, args.max_side)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(encode_png(sheet))
    print(f"wrote {args.out} ({sheet.shape[1]} x {sheet.shape[0]}: {', '.join(args.paths)} x {args.columns} frames)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
