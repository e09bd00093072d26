#!/usr/bin/env python3
"""Cancel latency during a big asset write (not a test: it prints figures).

    .venv/bin/python benchmarks/bench_cancel_write.py                      # high quality, 200 frames, frame PLYs
    .venv/bin/python benchmarks/bench_cancel_write.py --frames 60 --gaussians 30000

Builds a synthetic asset the size the pipeline makes at the given counts
(per-frame means, scales and rotations, as the lift engine writes them) and
writes it with ``backend.asset.write_asset`` into a temporary folder:

1. once to the end, recording the longest gap between two cancel checks;
2. once per ``--cancel-after`` delay, setting the cancel event after that many
   seconds and timing how long ``write_asset`` takes to return (raising, and
   removing its hidden partial folder) after the event was set.

It also says whether anything was left behind. The add-on's client waits
``cancel_grace_s`` after a cancel before it terminates the backend; the
latency printed here must stay below that.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class _Stop(Exception):
    pass


def synthetic_asset(frames: int, gaussians: int):
    from backend.asset import AnimatedMesh, Asset, Camera, Gaussians

    rng = np.random.default_rng(0)
    q = rng.normal(size=(frames, gaussians, 4)).astype(np.float32)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    g = Gaussians(
        means=rng.normal(size=(frames, gaussians, 3)).astype(np.float32),
        colors=rng.uniform(size=(gaussians, 3)).astype(np.float32),
        opacities=rng.uniform(0.1, 1, size=gaussians).astype(np.float32),
        scales=rng.uniform(0.001, 0.01, size=(frames, gaussians, 3)).astype(np.float32),
        rotations=q,
    )
    v = max(3, gaussians // 10)
    mesh = AnimatedMesh(vertices=rng.normal(size=(frames, v, 3)).astype(np.float32),
                        faces=rng.integers(0, v, size=(2 * v, 3)).astype(np.int32),
                        uv=rng.uniform(size=(v, 2)).astype(np.float32))
    cam = Camera.looking_along_y(512, 512, 800.0, (0, -3, 0))
    manifest = {"mode": "two_image", "fps": 24.0, "keyframes": [0, frames - 1], "camera": cam.to_dict(),
                "settings": {}, "engines": {}, "generator": {"name": "bench", "version": "0"}, "timings_s": {}}
    return Asset(manifest=manifest, gaussians=g, mesh=mesh)


def main() -> int:
    from backend.asset import write_asset

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=200)
    ap.add_argument("--gaussians", type=int, default=100_000)
    ap.add_argument("--no-frame-plys", action="store_true")
    ap.add_argument("--cancel-after", type=float, nargs="*", default=[0.5, 2.0, 5.0])
    ap.add_argument("--dir", type=Path, default=None, help="parent folder for the writes (default: a temp folder)")
    args = ap.parse_args()

    asset = synthetic_asset(args.frames, args.gaussians)
    plys = not args.no_frame_plys
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        parent = Path(tmp)
        gaps, last = [], [time.perf_counter()]

        def timed_check():
            now = time.perf_counter()
            gaps.append(now - last[0])
            last[0] = now

        t0 = time.perf_counter()
        out = write_asset(parent / "full", asset, frame_plys=plys, check=timed_check)
        full_s = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
        print(f"asset: {args.frames} frames x {args.gaussians:,} Gaussians, frame PLYs {plys}: "
              f"{size / 2**30:.2f} GiB written in {full_s:.2f} s")
        print(f"cancel checks: {len(gaps)}, longest gap between two {max(gaps):.3f} s, "
              f"median {float(np.median(gaps)):.4f} s")
        print()
        print("| cancel after (s) | returned after cancel (s) | left behind |")
        print("| ---: | ---: | --- |")
        for delay in args.cancel_after:
            cancel = threading.Event()
            done: dict = {}

            def check(cancel=cancel):
                if cancel.is_set():
                    raise _Stop

            def run(delay=delay, done=done, check=check):
                try:
                    write_asset(parent / f"cancelled-{delay}", asset, frame_plys=plys, check=check)
                    done["finished"] = True
                except _Stop:
                    done["cancelled"] = True
                done["t"] = time.perf_counter()

            worker = threading.Thread(target=run)
            worker.start()
            time.sleep(delay)
            cancel.set()
            t_set = time.perf_counter()
            worker.join()
            left = sorted(p.name for p in parent.iterdir() if p.name != "full")
            state = "finished first" if done.get("finished") else f"{done['t'] - t_set:.3f}"
            print(f"| {delay:.1f} | {state} | {', '.join(left) or 'nothing'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
