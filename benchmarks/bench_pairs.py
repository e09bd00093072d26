#!/usr/bin/env python3
"""Benchmark the two-image pipeline on every real pair (not a test: it prints figures).

    .venv/bin/python benchmarks/bench_pairs.py                       # ../shared/data/pairs, standard quality
    .venv/bin/python benchmarks/bench_pairs.py --quality draft --pairs examples
    .venv/bin/python benchmarks/bench_pairs.py --videos ../shared/data/videos   # 512x512 pairs cut from clips

Each pair runs in its own process so its peak memory (max RSS) is its own.
Per pair it prints the time per stage, the total, peak memory, the Gaussian
count, and two silhouette IoUs: frame 0 projected through the stored camera
against the start image's foreground, and the last frame against the end's.
Two in-between figures need no truth (the 3D-truth scores are in
benchmarks/bench_3d.py and benchmarks/bench_clips.py):
``step``, the largest frame-to-frame step of the Gaussian means over the mean
step (1 = uniform speed; a pop between two frames shows as a large value),
and ``mid area``, the area of the middle frame's projected silhouette over
the mean area of the first and last frames' (1 = neither collapses nor
bloats half-way; an arm that folds up or a part squashed in the image plane
shows below 1, though a part turning toward the camera may honestly change it).
Target (issue 2): a 512 x 512 pair at standard quality in 20 s or less on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def silhouette_ious(asset_dir: Path, start: Path, end: Path) -> tuple[float, float]:
    """IoU of projected first/last-frame Gaussians vs the input foregrounds at image size."""
    import cv2
    import numpy as np

    from backend.asset import Camera, load_asset
    from backend.inputs import load_image, prepare_single
    from backend.render.splat import coverage_mask
    from backend.stages.foreground import extract_foreground

    asset = load_asset(asset_dir)
    cam = Camera.from_dict(asset.manifest["camera"])
    g = asset.gaussians
    out = []
    for frame, path in ((0, start), (g.frame_count - 1, end)):
        img = load_image(path)
        fg = extract_foreground(img, prepare_single(img, max(cam.width, cam.height)))
        mask = cv2.resize(fg.mask.astype(np.uint8), (cam.width, cam.height), interpolation=cv2.INTER_NEAREST) > 0
        cov = coverage_mask(np.asarray(g.means[frame]), g.scales_at(frame), cam)
        out.append(float((cov & mask).sum() / max((cov | mask).sum(), 1)))
    return out[0], out[1]


def inbetween_figures(asset_dir: Path) -> tuple[float, float]:
    """(step, mid area) of an asset, see the module docstring; NaN step when nothing moves."""
    import numpy as np

    from backend.asset import Camera, load_asset
    from backend.render.splat import coverage_mask

    asset = load_asset(asset_dir)
    cam = Camera.from_dict(asset.manifest["camera"])
    g = asset.gaussians
    means = np.asarray(g.means, np.float64)
    steps = np.linalg.norm(np.diff(means, axis=0), axis=2).mean(axis=1)
    step = float(steps.max() / steps.mean()) if steps.mean() > 1e-12 else float("nan")
    area = [coverage_mask(means[f], np.asarray(g.scales_at(f)), cam).sum()
            for f in (0, g.frame_count // 2, g.frame_count - 1)]
    return step, float(area[1] / max(0.5 * (area[0] + area[2]), 1))


def pairs_from_videos(videos: Path, dest: Path, span: float) -> list[Path]:
    """Cut a start/end pair from each clip: frame 0 and the frame at ``span`` of its length."""
    import imageio.v3 as iio

    out = []
    for clip in sorted(videos.glob("*.mp4")):
        frames = iio.imread(clip)
        end = max(1, int(round(span * (len(frames) - 1))))
        d = dest / clip.stem
        d.mkdir(parents=True, exist_ok=True)
        iio.imwrite(d / "start.png", frames[0])
        iio.imwrite(d / "end.png", frames[end])
        out.append(d)
    return out


def run_one(pair: Path, out: Path, quality: str, frames: int) -> dict:
    from backend.pipeline import generate_two_image
    from backend.settings import GenerateSettings

    start = next(pair.glob("start.*"))
    end = next(pair.glob("end.*"))
    result = generate_two_image(start, end, out, GenerateSettings(quality=quality, frames=frames))
    iou0, iou1 = silhouette_ious(result.asset_dir, start, end)
    step, mid_area = inbetween_figures(result.asset_dir)
    from PIL import Image

    with Image.open(start) as im:
        size = im.size
    return {"pair": pair.name, "size": f"{size[0]}x{size[1]}", "gaussians": result.summary["gaussians"],
            "timings_s": result.summary["timings_s"], "total_s": result.summary["total_s"],
            "iou_start": iou0, "iou_end": iou1, "step": step, "mid_area": mid_area, "diagnostics": result.summary.get("diagnostics", {})}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=Path, default=ROOT.parent / "shared" / "data" / "pairs",
                   help="folder of <pair>/start.*, end.* (default ../shared/data/pairs)")
    p.add_argument("--quality", default="standard", choices=("draft", "standard", "high"))
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--only", nargs="*", help="pair names to run (default: all)")
    p.add_argument("--videos", type=Path, help="instead of --pairs: cut pairs from the clips in this folder")
    p.add_argument("--span", type=float, default=0.5, help="with --videos: end frame at this fraction of the clip")
    p.add_argument("--one", nargs=2, metavar=("PAIR_DIR", "OUT"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.one:
        print(json.dumps(run_one(Path(args.one[0]), Path(args.one[1]), args.quality, args.frames)))
        return 0

    rows = []
    with tempfile.TemporaryDirectory(prefix="tween4d-bench-") as tmp:
        if args.videos:
            pairs = pairs_from_videos(args.videos, Path(tmp) / "pairs", args.span)
        else:
            pairs = sorted(d for d in args.pairs.iterdir() if d.is_dir() and any(d.glob("start.*")))
        if args.only:
            pairs = [d for d in pairs if d.name in args.only]
        for pair in pairs:
            cmd = [sys.executable, __file__, "--quality", args.quality, "--frames", str(args.frames),
                   "--one", str(pair), str(Path(tmp) / "assets" / pair.name)]
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
            _, status, usage = os.wait4(proc.pid, 0)
            stdout, stderr = proc.stdout.read(), proc.stderr.read()
            if os.waitstatus_to_exitcode(status) != 0:
                last = stderr.strip().splitlines()[-1] if stderr.strip() else "failed"
                print(f"{pair.name:<22} FAILED: {last}")
                continue
            row = json.loads(stdout.strip().splitlines()[-1])
            row["peak_mb"] = usage.ru_maxrss / 1024
            rows.append(row)
            stages = " ".join(f"{k}={v:.2f}" for k, v in row["timings_s"].items())
            print(f"{row['pair']:<22} {row['size']:>9}  total {row['total_s']:6.2f}s  peak {row['peak_mb']:6.0f} MB  "
                  f"G {row['gaussians']:>6}  IoU start {row['iou_start']:.3f} end {row['iou_end']:.3f}  "
                  f"step {row['step']:.2f} mid area {row['mid_area']:.2f}  | {stages}",
                  flush=True)
    if rows:
        stage_names = list(rows[0]["timings_s"])
        print("\n| pair | size | " + " | ".join(stage_names) + " | total s | peak MB | Gaussians | IoU start | IoU end | step | mid area |")
        print("|" + " --- |" * (len(stage_names) + 9))
        for r in rows:
            print(f"| {r['pair']} | {r['size']} | " + " | ".join(f"{r['timings_s'].get(s, 0):.2f}" for s in stage_names)
                  + f" | {r['total_s']:.2f} | {r['peak_mb']:.0f} | {r['gaussians']} | {r['iou_start']:.3f} | {r['iou_end']:.3f}"
                  f" | {r['step']:.2f} | {r['mid_area']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
