#!/usr/bin/env python3
"""The deformation motion engine against the weight-free lift it starts from (not a test: it prints figures).

    .venv/bin/python benchmarks/bench_deformation.py                          # examples/robot_arm, draft, CPU
    .venv/bin/python benchmarks/bench_deformation.py --pair ../shared/data/pairs/NAME --quality standard --device cuda
    .venv/bin/python benchmarks/bench_deformation.py --video ../shared/data/videos/cat_king_fg.mp4   # + in-between IoU

Runs the two-image pipeline twice on one pair, ``--engine motion=lift`` and
``motion=deformation``, and prints per run the motion-stage time, the whole time, and the
silhouette IoU of frame 0 against the start image and of the last frame against the end image
(``bench_pairs.silhouette_ious``: the Gaussians projected through the stored camera).
With ``--video`` the pair is frame 0 and the frame at ``--span`` of a real clip, and the mean
silhouette IoU of the in-between frames against the clip's own frames at the same times is
printed too (the clip's foreground by the same extraction as the inputs).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def inbetween_iou(asset_dir: Path, frame_files: list[Path], samples: int = 5) -> float:
    """Mean silhouette IoU of projected in-between frames vs the clip's frames (files) at the same times."""
    import cv2
    import numpy as np

    from backend.asset import Camera, load_asset
    from backend.inputs import load_image, prepare_single
    from backend.render.splat import coverage_mask
    from backend.stages.foreground import extract_foreground

    asset = load_asset(asset_dir)
    cam = Camera.from_dict(asset.manifest["camera"])
    g = asset.gaussians
    ious = []
    for x in np.linspace(0.0, 1.0, samples + 2)[1:-1]:
        t = int(round(x * (g.frame_count - 1)))
        img = load_image(frame_files[int(round(x * (len(frame_files) - 1)))])
        fg = extract_foreground(img, prepare_single(img, max(cam.width, cam.height)))
        mask = cv2.resize(fg.mask.astype(np.uint8), (cam.width, cam.height), interpolation=cv2.INTER_NEAREST) > 0
        cov = coverage_mask(np.asarray(g.means[t]), g.scales_at(t), cam)
        ious.append(float((cov & mask).sum() / max((cov | mask).sum(), 1)))
    return float(np.mean(ious))


def clip_pair(clip: Path, dest: Path, span: float) -> tuple[Path, list[Path]]:
    """Frames 0..span of a clip as PNGs; start.png / end.png are the first and last of them."""
    import shutil

    import imageio.v3 as iio

    frames = iio.imread(clip)
    last = max(1, int(round(span * (len(frames) - 1))))
    dest.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(last + 1):
        files.append(dest / f"frame{k:04d}.png")
        iio.imwrite(files[-1], frames[k])
    shutil.copy(files[0], dest / "start.png")
    shutil.copy(files[-1], dest / "end.png")
    return dest, files


def run(pair: Path, out: Path, engine: str, quality: str, frames: int, device: str) -> dict:
    from bench_pairs import silhouette_ious

    from backend.pipeline import generate_two_image
    from backend.settings import GenerateSettings

    start, end = next(pair.glob("start.*")), next(pair.glob("end.*"))
    settings = GenerateSettings(quality=quality, frames=frames, device=device, engines={"motion": engine})
    t0 = time.perf_counter()
    result = generate_two_image(start, end, out, settings)
    total = time.perf_counter() - t0
    iou0, iou1 = silhouette_ious(result.asset_dir, start, end)
    return {"engine": engine, "motion_s": result.summary["timings_s"].get("motion", float("nan")), "total_s": total,
            "iou_start": iou0, "iou_end": iou1}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", type=Path, default=ROOT / "examples" / "robot_arm")
    p.add_argument("--quality", default="draft", choices=("draft", "standard", "high"))
    p.add_argument("--frames", type=int, default=25)
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--video", type=Path, help="a clip: the pair is frame 0 and the frame at --span; in-between IoU too")
    p.add_argument("--span", type=float, default=0.5)
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tween4d-bench-def-") as tmp:
        pair, files = args.pair, None
        if args.video:
            pair, files = clip_pair(args.video, Path(tmp) / "clip", args.span)
        for engine in ("lift", "deformation"):
            row = run(pair, Path(tmp) / engine, engine, args.quality, args.frames, args.device)
            if files:
                row["iou_inbetween"] = inbetween_iou(Path(tmp) / engine, files)
            rows.append(row)
    name = args.video.stem if args.video else args.pair.name
    print(f"pair {name}, {args.quality}, {args.frames} frames, device {args.device}")
    print(f"{'engine':<12} {'motion s':>9} {'total s':>8} {'IoU start':>10} {'IoU end':>8} {'IoU between':>12}")
    for r in rows:
        between = f"{r['iou_inbetween']:>12.3f}" if "iou_inbetween" in r else f"{'-':>12}"
        print(f"{r['engine']:<12} {r['motion_s']:>9.2f} {r['total_s']:>8.2f} {r['iou_start']:>10.3f} "
              f"{r['iou_end']:>8.3f} {between}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
