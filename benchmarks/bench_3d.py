#!/usr/bin/env python3
"""Score the two-image pipeline against 3D truth (not a test: it prints figures).

    .venv/bin/python benchmarks/truth3d/generate.py        # once: builds .cache/truth3d/ with headless Blender
    .venv/bin/python benchmarks/bench_3d.py                # every case, draft quality, 25 frames
    .venv/bin/python benchmarks/bench_3d.py --cases door flower --quality standard --json out.json
    .venv/bin/python benchmarks/bench_3d.py --engine inbetween=arap --keep out/bench3d   # keep the assets

Per case it runs ``generate_two_image`` on the case's start.png / end.png
with as many frames as the truth, reads the asset (``backend.asset``),
maps it into the truth's world with ONE uniform scale + translation fitted
at frame 0, both expressed in their input camera's frame. Default
``--align view``: a scale about the camera centre (t = 0) equal to the ratio
of the mean frame-0 depths, which keeps every input-view projection (the
two cameras share the 85 mm-equivalent intrinsics), so the front view scores
the engine, not the fit; ``--align icp``: centroids + in-plane RMS radius,
then scale/translation-only ICP (``benchmarks/truth3d/metrics.py``). It scores:

  front IB  silhouette IoU from the input camera, in-between frames 1..T-2
  side      silhouette IoU from the left, right, back and top cameras, all frames
  surf      moving truth points -> nearest asset Gaussian mean, per frame (% of the bbox diagonal)
  traj      trajectory error: each moving truth point paired with the asset Gaussian nearest
            to it at frame 0, mean distance over all frames (% of the diagonal)
  step      largest frame step / mean frame step of the Gaussians (1 = uniform speed)

Asset silhouettes are its mesh rasterised (the Gaussians splatted as discs when
it has no mesh). The same scores are printed for three references built from
the truth: ``linear`` (straight lines from frame 0 to T-1), ``static`` (an
unmoving frame 0), ``jump`` (frame 0, then frame T-1 from T // 2 on).
Targets (issue 6): side >= 0.70 (no case below 0.45), front IB >= 0.78, traj <= 4%.
The scorer needs no bpy: it reads the cache with numpy.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.truth3d.metrics import (  # noqa: E402
    MovingShape,
    camera_frame_map,
    fit_scale_translation,
    fit_view_scale,
    references,
    score,
)
from benchmarks.truth3d.truth import TruthCase, load_truth  # noqa: E402

DEFAULT_CACHE = ROOT / ".cache" / "truth3d"
COLUMNS = (("front_inbetween_iou", "front IB", 1.0), ("side_iou", "side", 1.0), ("surface_dist", "surf %", 100.0),
           ("trajectory_err", "traj %", 100.0), ("smoothness", "step", 1.0), ("front_first_iou", "f0", 1.0),
           ("front_last_iou", "fT", 1.0))
REFERENCES = ("linear", "static", "jump")


def asset_shape(asset_dir: Path, truth: TruthCase, align: str = "view", max_fit_points: int = 8000,
                seed: int = 0) -> tuple[MovingShape, dict]:
    """Read an asset and map it into the truth's world frame (see the module docstring).

    Args:
        asset_dir: the asset folder.
        truth: the case.
        align: "view" (scale about the input camera, ``fit_view_scale``) or
            "icp" (moments + scale/translation ICP, ``fit_scale_translation``).
        max_fit_points: Gaussians subsampled for the fit.
        seed: subsampling seed.

    Returns:
        (shape, alignment): the ``MovingShape`` (Gaussian means as points, the
        mesh when present, scales times s) and {"scale": s, "translation": t}
        in the input camera's frame.
    """
    from backend.asset import Camera, load_asset

    asset = load_asset(asset_dir, mmap=False)
    cam = Camera.from_dict(asset.manifest["camera"])
    front = truth.cameras["front"]
    means = np.asarray(asset.gaussians.means, np.float64)
    rng = np.random.default_rng(seed)
    pick = rng.choice(means.shape[1], size=min(max_fit_points, means.shape[1]), replace=False)
    fit = fit_view_scale if align == "view" else fit_scale_translation
    s, t = fit(cam.world_to_camera(means[0, pick]), front.world_to_camera(truth.points[0]))
    to_truth = camera_frame_map(cam, front, s, t)
    verts = faces = None
    if asset.mesh is not None:
        verts = to_truth(np.asarray(asset.mesh.vertices, np.float64))
        faces = np.asarray(asset.mesh.faces)
    shape = MovingShape(to_truth(means), verts, faces, np.asarray(asset.gaussians.scales, np.float64) * s)
    return shape, {"scale": s, "translation": t.tolist()}


def run_case(truth: TruthCase, quality: str, engines: dict, out_dir: Path, align: str = "view") -> dict:
    """Generate the asset of one case, align and score it; returns a JSON-ready row."""
    from backend.pipeline import generate_two_image
    from backend.settings import GenerateSettings

    settings = GenerateSettings(quality=quality, frames=truth.frame_count, preview=False, engines=dict(engines))
    t0 = time.perf_counter()
    result = generate_two_image(truth.start_image, truth.end_image, out_dir, settings)
    gen_s = time.perf_counter() - t0
    shape, alignment = asset_shape(result.asset_dir, truth, align)
    row = score(truth, shape)
    row.update(case=truth.name, generate_s=gen_s, alignment=alignment)
    return row


def nanmean(values) -> float:
    """Mean of the finite values (NaN when there are none, without a warning)."""
    v = np.asarray([x for x in values if x is not None], np.float64)
    v = v[np.isfinite(v)]
    return float(v.mean()) if len(v) else float("nan")


def fmt(value: float, mult: float) -> str:
    return "  -  " if value is None or not math.isfinite(value) else f"{value * mult:5.3f}" if mult == 1 else f"{value * mult:5.2f}"


def print_table(title: str, rows: list[dict], extra: tuple[str, ...] = ()) -> None:
    """A Markdown table: one row per case, then the mean (NaN-skipping)."""
    cols = COLUMNS
    print(f"\n{title}\n")
    print("| case | " + " | ".join(c[1] for c in cols) + "".join(f" | {e}" for e in extra) + " |")
    print("| --- |" + " ---: |" * (len(cols) + len(extra)))
    for r in rows:
        print(f"| {r['case']} | " + " | ".join(fmt(r.get(k), m) for k, _, m in cols)
              + "".join(f" | {r.get(e, '')}" for e in extra) + " |")
    if rows:
        means = {k: nanmean(r.get(k) for r in rows) for k, _, _ in cols}
        print("| **mean** | " + " | ".join(fmt(means[k], m) for k, _, m in cols) + " |" * (1 + len(extra)))


def summary(rows_by_method: dict[str, list[dict]]) -> dict[str, dict]:
    """Mean of every column per method (NaN-skipping), plus the worst side IoU."""
    out = {}
    for method, rows in rows_by_method.items():
        if not rows:
            continue
        means = {k: nanmean(r.get(k) for r in rows) for k, _, _ in COLUMNS}
        means["side_iou_min"] = float(np.nanmin([r.get("side_iou", np.nan) for r in rows]))
        out[method] = means
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="truth cache (default .cache/truth3d)")
    p.add_argument("--cases", nargs="*", help="case names (default: every case in the cache)")
    p.add_argument("--quality", default="draft", choices=("draft", "standard", "high"))
    p.add_argument("--engine", action="append", default=[], metavar="STAGE=NAME", help="engine per stage, repeatable")
    p.add_argument("--align", default="view", choices=("view", "icp"),
                   help="frame-0 alignment: view = scale about the input camera (keeps the front view), "
                        "icp = moments + scale/translation ICP in 3D")
    p.add_argument("--keep", type=Path, help="write the assets under this folder (default: a temporary one)")
    p.add_argument("--no-references", action="store_true", help="skip the three truth-built references")
    p.add_argument("--references-only", action="store_true", help="score only the references (no pipeline run)")
    p.add_argument("--json", type=Path, help="also write every row and the means to this JSON file")
    args = p.parse_args(argv)

    engines = {}
    for item in args.engine:
        stage, sep, name = item.partition("=")
        if not sep:
            p.error(f"--engine takes STAGE=NAME, got {item!r}")
        engines[stage] = name
    if not args.cache.is_dir():
        p.error(f"no truth cache at {args.cache}: build it with `.venv/bin/python benchmarks/truth3d/generate.py`")
    names = args.cases or sorted(d.name for d in args.cache.iterdir() if (d / "truth.npz").is_file())
    if not names:
        p.error(f"{args.cache} holds no cases: run benchmarks/truth3d/generate.py")

    rows: dict[str, list[dict]] = {"asset": [], **({} if args.no_references else {r: [] for r in REFERENCES})}
    if args.references_only:
        rows.pop("asset")
    failed = []
    with tempfile.TemporaryDirectory(prefix="tween4d-bench3d-") as tmp:
        out_root = args.keep or Path(tmp)
        for name in names:
            truth = load_truth(args.cache / name)
            if "asset" in rows:
                try:
                    row = run_case(truth, args.quality, engines, out_root / name, args.align)
                except Exception as exc:  # a failed case is reported, the others still run
                    failed.append(name)
                    print(f"{name:<12} FAILED: {type(exc).__name__}: {exc}", flush=True)
                else:
                    rows["asset"].append(row)
                    print(f"{name:<12} front IB {row['front_inbetween_iou']:.3f}  side {row['side_iou']:.3f}  "
                          f"surf {100 * row['surface_dist']:.2f}%  traj {100 * row['trajectory_err']:.2f}%  "
                          f"step {row['smoothness']:.2f}  ({row['generate_s']:.1f} s)", flush=True)
            for ref, shape in ({} if args.no_references else references(truth)).items():
                rows[ref].append(dict(score(truth, shape), case=name))

    if "asset" in rows:
        print_table(f"Asset ({args.quality}, engines {engines or 'default'}) per case", rows["asset"])
    for ref in REFERENCES:
        if ref in rows:
            print_table(f"Reference `{ref}` per case", rows[ref])
    means = summary(rows)
    print("\nMeans\n")
    print("| method | " + " | ".join(c[1] for c in COLUMNS[:5]) + " | worst side |")
    print("| --- |" + " ---: |" * 6)
    for method, m in means.items():
        print(f"| {method} | " + " | ".join(fmt(m[k], mult) for k, _, mult in COLUMNS[:5])
              + f" | {fmt(m['side_iou_min'], 1)} |")
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
    if args.json:
        doc = {"quality": args.quality, "engines": engines, "rows": rows, "means": means, "failed": failed}
        args.json.write_text(json.dumps(doc, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
