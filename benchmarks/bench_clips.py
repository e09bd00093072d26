#!/usr/bin/env python3
"""In-betweens against real clips (front view only; not a test: prints figures).

    .venv/bin/python benchmarks/bench_clips.py                       # every clip under ../shared/data/videos
    .venv/bin/python benchmarks/bench_clips.py --frames 13 --quality draft --engine inbetween=arap

Per clip the pair is frame 0 and the middle frame; ``--frames`` frames are
taken evenly between them (the true in-betweens). The in-between stage moves
the start silhouette mesh over as many frames (the asset's input-view
silhouette is this 2D motion exactly: the lift keeps every vertex on its
pixel), each frame's mesh is rasterized and compared with the true frame's
foreground (the pipeline's own foreground extraction). Printed per clip: the
mean silhouette IoU over the inner frames, next to two baselines built from
the true masks: ``snap`` (each frame shows the nearer input) and ``hold``
(the start frame throughout), and the seconds of the stage.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.geometry2d import build_silhouette_mesh  # noqa: E402
from backend.geometry2d.arap_registration import mask_iou  # noqa: E402
from backend.inputs.working import prepare_pair  # noqa: E402
from backend.progress import null_progress  # noqa: E402
from backend.render.rasterize import rasterize  # noqa: E402
from backend.settings import GenerateSettings  # noqa: E402
from backend.stages.foreground import extract_foreground  # noqa: E402
from backend.stages.inbetween import run_inbetween  # noqa: E402
from backend.types import InputImage  # noqa: E402


def as_input(frame: np.ndarray, name: str) -> InputImage:
    rgba = np.concatenate([frame[..., :3].astype(np.float32) / 255.0, np.ones(frame.shape[:2] + (1,), np.float32)], 2)
    return InputImage(path=Path(name), rgba=rgba, has_alpha=False, original_size=(frame.shape[1], frame.shape[0]))


def run_clip(path: Path, frame_count: int, settings: GenerateSettings, engine: str) -> dict:
    video = iio.imread(path)
    mid = len(video) // 2
    index = np.unique(np.round(np.linspace(0, mid, min(frame_count, mid + 1))).astype(int))
    images = [as_input(video[i], f"{path.stem}_{i}") for i in index]
    side = settings.preset.working_max_side
    masks, fgs = [], []
    for img in images:
        rgba, _ = prepare_pair(img, img, side)
        fg = extract_foreground(img, rgba, settings.engine("foreground"), null_progress("fg"))
        fgs.append(fg)
        masks.append(fg.mask)
    mesh = build_silhouette_mesh(fgs[0].mask, settings.preset.mesh_edge_px)
    t0 = time.perf_counter()
    motion = run_inbetween(mesh, fgs[0], fgs[-1], len(index), settings, null_progress("inbetween"), engine)
    seconds = time.perf_counter() - t0
    h, w = masks[0].shape
    t_count = len(index)
    ours, snap, hold = [], [], []
    for t in range(1, t_count - 1):
        pred = rasterize(motion.trajectories[t], mesh.faces, w, h).mask
        ours.append(mask_iou(pred, masks[t]))
        snap.append(mask_iou(masks[0] if t < (t_count - 1) / 2 else masks[-1], masks[t]))
        hold.append(mask_iou(masks[0], masks[t]))
    return {"clip": path.stem, "ours": float(np.mean(ours)), "snap": float(np.mean(snap)),
            "hold": float(np.mean(hold)), "seconds": seconds, "frames": t_count}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=Path, default=ROOT.parent / "shared" / "data" / "videos")
    p.add_argument("--frames", type=int, default=13, help="frames from 0 to mid-clip, both inputs included")
    p.add_argument("--quality", default="draft", choices=("draft", "standard", "high"))
    p.add_argument("--engine", default="arap", help="in-between engine")
    args = p.parse_args(argv)
    settings = GenerateSettings(quality=args.quality)
    rows = [run_clip(c, args.frames, settings, args.engine) for c in sorted(args.videos.glob("*.mp4"))]
    print("| clip | in-between IoU | snap | hold | ours - snap | s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['clip']} | {r['ours']:.3f} | {r['snap']:.3f} | {r['hold']:.3f} | {r['ours'] - r['snap']:+.3f} "
              f"| {r['seconds']:.1f} |")
    wins = sum(r["ours"] > r["snap"] for r in rows)
    mean = {k: float(np.mean([r[k] for r in rows])) for k in ("ours", "snap", "hold")}
    print(f"| **mean** | {mean['ours']:.3f} | {mean['snap']:.3f} | {mean['hold']:.3f} | "
          f"{mean['ours'] - mean['snap']:+.3f} | |")
    print(f"above snap on {wins} of {len(rows)} clips")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
