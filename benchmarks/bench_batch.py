#!/usr/bin/env python3
"""Batch throughput: assets per minute for many real pairs, sequential vs worker processes vs a local Ray instance.

    .venv/bin/python benchmarks/bench_batch.py                      # 12 pairs of ../shared/data/pairs, draft quality
    .venv/bin/python benchmarks/bench_batch.py --count 4 --pairs examples --modes seq,workers2

Not a test: it prints one table. Every mode runs ``python -m backend batch``
(the real command, a subprocess) on the same CSV manifest into a fresh
OUT_ROOT, so nothing is skipped; wall time covers everything the command does
(Ray's start-up included). Columns: jobs ok / failed, wall seconds, assets per
minute (ok jobs / wall minutes), the mean of the per-job seconds the report
records, and the CPU seconds (user + system) of the command and its job
processes (``getrusage(RUSAGE_CHILDREN)``; Ray's workers belong to the Ray
daemons and are not counted). On a machine shared with other work, the CPU
column shows what the runs cost independently of the contention.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODES = {
    "seq": ("sequential (--workers 1)", ["--workers", "1"]),
    "workers2": ("--workers 2", ["--workers", "2"]),
    "ray": ("--ray (local, 2 CPUs)", ["--ray", "--workers", "2"]),
}


def pair_dirs(folder: Path, count: int) -> list[Path]:
    """The first ``count`` sub-folders (sorted) holding a start.* and an end.* image."""
    out = []
    for d in sorted(p for p in folder.iterdir() if p.is_dir()):
        if list(d.glob("start.*")) and list(d.glob("end.*")):
            out.append(d)
    return out[:count]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=Path, default=ROOT.parent / "shared" / "data" / "pairs")
    ap.add_argument("--count", type=int, default=12)
    ap.add_argument("--quality", default="draft")
    ap.add_argument("--frames", type=int, default=49)
    ap.add_argument("--modes", default="seq,workers2,ray", help=f"comma-separated: {', '.join(MODES)}")
    args = ap.parse_args()
    pairs = pair_dirs(args.pairs if args.pairs.is_absolute() else ROOT / args.pairs, args.count)
    if not pairs:
        print(f"no pairs found in {args.pairs}", file=sys.stderr)
        return 1
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="tween4d-bench-batch-") as tmp:
        manifest = Path(tmp) / "pairs.csv"
        manifest.write_text("name,start,end\n" + "".join(
            f"{d.name},{next(d.glob('start.*'))},{next(d.glob('end.*'))}\n" for d in pairs))
        for key in args.modes.split(","):
            label, extra = MODES[key]
            out = Path(tmp) / key
            cmd = [sys.executable, "-m", "backend", "batch", str(manifest), "-o", str(out), "--quiet",
                   "--quality", args.quality, "--frames", str(args.frames), *extra]
            t0, ru0 = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
            proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
            report = json.loads((out / "batch_report.json").read_text())
            jobs = report["jobs"]
            ok = [j for j in jobs if j["status"] == "ok"]
            mean = sum(j["seconds"] for j in ok) / max(len(ok), 1)
            rows.append((label, len(ok), report["counts"]["failed"], wall, 60 * len(ok) / wall, mean,
                         "n/a" if key == "ray" else f"{cpu:.1f}"))
            print(f"{label}: exit {proc.returncode}, {wall:.1f} s", file=sys.stderr, flush=True)
    print(f"\n{len(pairs)} pairs from {args.pairs}, {args.quality} quality, {args.frames} frames, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print("| mode | ok | failed | wall s | assets / min | mean s per job | CPU s |\n|---|---:|---:|---:|---:|---:|---:|")
    for label, n_ok, n_failed, wall, per_min, mean, cpu in rows:
        print(f"| {label} | {n_ok} | {n_failed} | {wall:.1f} | {per_min:.1f} | {mean:.1f} | {cpu} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
