#!/usr/bin/env python3
"""The deformation motion engine against the weight-free lift it starts from (not a test: it prints figures).

    .venv/bin/python benchmarks/bench_deformation.py                          # examples/robot_arm, draft, CPU
    .venv/bin/python benchmarks/bench_deformation.py --pair ../shared/data/pairs/NAME --quality standard --device cuda

Runs the two-image pipeline twice on one pair, ``--engine motion=lift`` and
``motion=deformation``, and prints per run the motion-stage time, the whole time, and the
silhouette IoU of frame 0 against the start image and of the last frame against the end image
(``bench_pairs.silhouette_ious``: the Gaussians projected through the stored camera).
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
    args = p.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="tween4d-bench-def-") as tmp:
        for engine in ("lift", "deformation"):
            rows.append(run(args.pair, Path(tmp) / engine, engine, args.quality, args.frames, args.device))
    print(f"pair {args.pair.name}, {args.quality}, {args.frames} frames, device {args.device}")
    print(f"{'engine':<12} {'motion s':>9} {'total s':>8} {'IoU start':>10} {'IoU end':>8}")
    for r in rows:
        print(f"{r['engine']:<12} {r['motion_s']:>9.2f} {r['total_s']:>8.2f} {r['iou_start']:>10.3f} {r['iou_end']:>8.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
