#!/usr/bin/env python3
"""Peak memory of the two-image pipeline against frame count, and the estimate's error (not a test).

    .venv/bin/python benchmarks/bench_memory.py                          # draft/standard/high at 10 and 60 frames
    .venv/bin/python benchmarks/bench_memory.py --runs draft:10 draft:150 standard:80

Each run is a separate ``python -m backend generate`` process on the bundled
mill pair; its peak RSS comes from ``resource.getrusage(RUSAGE_CHILDREN)``
(``ru_maxrss``, kB on Linux). It prints, per run, the measured peak, the
estimate of ``backend.pipeline.memory.estimate_peak_bytes`` (margin
included) and their ratio, then per quality the slope between its two
smallest and largest frame counts (the ``PER_FRAME_BYTES`` the estimate uses).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def peak_rss_of(cmd: list[str]) -> int:
    """Run ``cmd`` to the end in a fresh child (via a tiny wrapper) and return its peak RSS in bytes."""
    wrapper = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
               "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True, text=True, check=True, cwd=ROOT)
    return int(out.stdout.strip()) * 1024


def main() -> int:
    from backend.pipeline.memory import estimate_peak_bytes
    from backend.settings import GenerateSettings

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", nargs="*", default=["draft:10", "draft:60", "standard:10", "standard:60",
                                                   "high:10", "high:60"])
    ap.add_argument("--pair", type=Path, default=ROOT / "examples" / "mill")
    args = ap.parse_args()
    env = dict(os.environ, TWEEN4D_MEMORY_BYTES=str(2**50))  # measure, do not refuse
    os.environ.update(env)
    print("| quality | frames | measured peak (MiB) | estimate (MiB) | estimate / measured |")
    print("| --- | ---: | ---: | ---: | ---: |")
    measured: dict[str, list[tuple[int, int]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for run in args.runs:
            quality, frames = run.split(":")
            cmd = [sys.executable, "-m", "backend", "generate", str(args.pair / "start.png"),
                   str(args.pair / "end.png"), "-o", str(Path(tmp) / run.replace(":", "_")),
                   "--quality", quality, "--frames", frames, "--quiet"]
            peak = peak_rss_of(cmd)
            est = estimate_peak_bytes(GenerateSettings(quality=quality, frames=int(frames)))
            measured.setdefault(quality, []).append((int(frames), peak))
            print(f"| {quality} | {frames} | {peak / 2**20:.0f} | {est / 2**20:.0f} | {est / peak:.2f} |")
    print()
    for quality, points in measured.items():
        points.sort()
        if len(points) >= 2 and points[-1][0] > points[0][0]:
            (t0, p0), (t1, p1) = points[0], points[-1]
            print(f"{quality}: {(p1 - p0) / (t1 - t0) / 2**20:.2f} MiB per frame, "
                  f"{(p0 - t0 * (p1 - p0) / (t1 - t0)) / 2**20:.0f} MiB at 0 frames")
    return 0


if __name__ == "__main__":
    sys.exit(main())
