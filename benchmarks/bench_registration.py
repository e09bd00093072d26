"""Registration quality and speed of the weight-free in-between engine on the real pairs.

For every pair under shared/data/pairs: load and prepare the pair, extract the
foregrounds, mesh the start silhouette, register it onto the end image and
print the IoU of the rasterized registered mesh against the end mask, the
number of feature matches, swung limbs and the time taken. Then time the
whole ``run_inbetween`` (standard quality, 49 frames) on a pair enlarged to
512x512.

Usage:
    .venv/bin/python benchmarks/bench_registration.py [--quality standard] [--pairs a,b]
        [--viz /tmp/registration] [--data ../shared/data]

``--viz DIR`` writes, per pair, a side-by-side PNG: start with its mesh |
start warped onto the end | end with the registered mesh.
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

from backend.geometry2d import build_silhouette_mesh  # noqa: E402
from backend.geometry2d.arap_registration import register_mesh  # noqa: E402
from backend.geometry2d.inbetween_frames import overlay_mesh  # noqa: E402
from backend.geometry2d.warp import remap_image, warp_maps  # noqa: E402
from backend.inputs import load_image, prepare_pair  # noqa: E402
from backend.progress import null_progress  # noqa: E402
from backend.settings import GenerateSettings  # noqa: E402
from backend.stages.foreground import extract_foreground  # noqa: E402
from backend.stages.inbetween import run_inbetween  # noqa: E402
from backend.types import Foreground  # noqa: E402


def find_image(folder: Path, stem: str) -> Path:
    for ext in (".png", ".jpg", ".jpeg", ".webp"):
        p = folder / f"{stem}{ext}"
        if p.exists():
            return p
    raise FileNotFoundError(folder / stem)


def load_pair(folder: Path, max_side: int) -> tuple[Foreground, Foreground]:
    a, b = load_image(find_image(folder, "start")), load_image(find_image(folder, "end"))
    ra, rb = prepare_pair(a, b, max_side)
    return extract_foreground(a, ra), extract_foreground(b, rb)


def to_bgr8(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)


def side_by_side(mesh, start: Foreground, end: Foreground, x: np.ndarray) -> np.ndarray:
    h, w = end.mask.shape
    maps = warp_maps(x, mesh.faces, mesh.vertices, w, h)
    warped = remap_image(start.rgb, maps.attributes)
    comp = warped * maps.coverage[..., None] + (1.0 - maps.coverage[..., None])
    left = overlay_mesh(to_bgr8(start.rgb), mesh.vertices, mesh.faces, (0, 0, 255))
    mid = cv2.resize(to_bgr8(comp), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    outline, _ = cv2.findContours(cv2.resize(end.mask.astype(np.uint8), None, fx=2, fy=2,
                                             interpolation=cv2.INTER_NEAREST), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    cv2.drawContours(mid, outline, -1, (0, 180, 0), 1)
    right = overlay_mesh(to_bgr8(end.rgb), x, mesh.faces, (255, 0, 0))
    return np.concatenate([left, mid, right], axis=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quality", default="standard")
    ap.add_argument("--pairs", default="", help="comma-separated pair folder names (default: all)")
    ap.add_argument("--viz", default="", help="folder for side-by-side PNGs")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    ap.add_argument("--no-speed", action="store_true", help="skip the 512x512 run_inbetween timing")
    args = ap.parse_args()
    settings = GenerateSettings(quality=args.quality)
    preset = settings.preset
    pairs_dir = Path(args.data) / "pairs"
    if not pairs_dir.is_dir():
        print(f"no pairs folder at {pairs_dir}")
        return 1
    names = args.pairs.split(",") if args.pairs else sorted(p.name for p in pairs_dir.iterdir() if p.is_dir())
    viz = Path(args.viz) if args.viz else None
    if viz:
        viz.mkdir(parents=True, exist_ok=True)
    print(f"quality {args.quality}: mesh edge {preset.mesh_edge_px} px, {preset.registration_iterations} iterations")
    print(f"{'pair':24s} {'size':>9s} {'V':>5s} {'IoU':>6s} {'matches':>7s} {'groups':>6s} {'regions':>7s} {'limbs':>12s} "
          f"{'flips':>5s} {'reg s':>6s}")
    ious = []
    for name in names:
        try:
            start, end = load_pair(pairs_dir / name, preset.working_max_side)
            mesh = build_silhouette_mesh(start.mask, preset.mesh_edge_px)
        except Exception as exc:  # a pair the placeholder stages cannot handle yet
            print(f"{name:24s} skipped: {exc}")
            continue
        t0 = time.perf_counter()
        reg = register_mesh(mesh, start, end, preset.registration_iterations, seed=settings.seed)
        dt = time.perf_counter() - t0
        d = reg.diagnostics
        ious.append(d["end_iou"])
        h, w = start.mask.shape
        limbs = ",".join(d["limbs_moved"]) or "-"
        print(f"{name:24s} {w:4d}x{h:<4d} {len(mesh.vertices):5d} {d['end_iou']:6.3f} {d['feature_matches']:7d} "
              f"{d['feature_groups']:6d} {d['regions_moved']:7d} {limbs:>12s} {d['flipped_triangles']:5d} {dt:6.2f}")
        if viz:
            cv2.imwrite(str(viz / f"{name}.png"), side_by_side(mesh, start, end, reg.positions))
    if ious:
        print(f"mean IoU {np.mean(ious):.3f} over {len(ious)} pairs")

    if not args.no_speed:
        name = "in24d_robot_arm" if "in24d_robot_arm" in names else names[0]
        start, end = load_pair(pairs_dir / name, 4096)
        big = []
        for fg in (start, end):
            size = (512, 512)
            big.append(Foreground(rgb=cv2.resize(fg.rgb, size, interpolation=cv2.INTER_LINEAR),
                                  alpha=cv2.resize(fg.alpha, size, interpolation=cv2.INTER_LINEAR),
                                  mask=cv2.resize(fg.mask.astype(np.uint8), size,
                                                  interpolation=cv2.INTER_NEAREST).astype(bool),
                                  method=fg.method))
        std = GenerateSettings(quality="standard", frames=49)
        t0 = time.perf_counter()
        mesh = build_silhouette_mesh(big[0].mask, std.preset.mesh_edge_px)
        t_mesh = time.perf_counter() - t0
        t0 = time.perf_counter()
        motion = run_inbetween(mesh, big[0], big[1], 49, std, null_progress("inbetween"))
        dt = time.perf_counter() - t0
        st = motion.diagnostics["stage_timings_s"]
        print(f"\n512x512 {name} (standard, 49 frames): mesh {len(mesh.vertices)} vertices in {t_mesh:.2f} s; "
              f"run_inbetween {dt:.2f} s (registration {st['registration']:.2f}, interpolation "
              f"{st['interpolation']:.2f}, frames {st['frames']:.2f}); IoU {motion.diagnostics['end_iou']:.3f}")
        print("registration parts:", motion.diagnostics["timings_s"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
