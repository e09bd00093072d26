#!/usr/bin/env python3
"""Score the two-image pipeline against 3D truth (not a test: it prints figures).

    .venv/bin/python benchmarks/truth3d/generate.py        # once: builds .cache/truth3d/ with headless Blender
    .venv/bin/python benchmarks/bench_3d.py                # every case, draft quality, 25 frames
    .venv/bin/python benchmarks/bench_3d.py --cases door flower --quality standard --json out.json
    .venv/bin/python benchmarks/bench_3d.py --engine inbetween=arap --keep out/bench3d   # keep the assets
    .venv/bin/python benchmarks/bench_3d.py --keep out/bench3d --reuse --align icp     # rescore kept assets
    .venv/bin/python benchmarks/bench_3d.py --quick          # 5 cases: out of plane, round, hinge, thin, sliding

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
  motion    the same pairs, displacements from frame 0 compared (motion only, not shape; % of the diagonal)
  step      largest frame step / mean frame step of the Gaussians (1 = uniform speed)
  f0, fT    input-view silhouette IoU at the first and last frames (the two inputs; f0 checks the alignment)

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
import os
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
# (score key, column title, multiplier): distances are printed in % of the truth's bounding-box diagonal.
COLUMNS = (("front_inbetween_iou", "front IB", 1.0), ("side_iou", "side", 1.0),
           ("surface_dist", "surf %", 100.0), ("trajectory_err", "traj %", 100.0),
           ("motion_err", "motion %", 100.0), ("smoothness", "step", 1.0),
           ("front_first_iou", "f0", 1.0), ("front_last_iou", "fT", 1.0))
REFERENCES = ("linear", "static", "jump")
QUICK_CASES = ("arm_swivel", "bend_tube", "door", "flower", "telescope")  # out of plane, round, hinge, thin, sliding
SCORE_VERSION = 2  # bump when a metric changes: cached reference scores are then recomputed


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


def reference_rows(truth: TruthCase) -> dict[str, dict]:
    """Scores of the three references of one case, cached in ``<case>/references.json``.

    The references depend only on the truth, so they are scored once per case
    and scoring version; a stale or unreadable cache file is recomputed.
    """
    cache = Path(truth.path) / "references.json" if truth.path is not None else None
    if cache is not None and cache.is_file():
        try:
            doc = json.loads(cache.read_text())
            if doc.get("version") == SCORE_VERSION:
                return doc["rows"]
        except (json.JSONDecodeError, KeyError):
            pass
    rows = {name: dict(score(truth, shape), case=truth.name) for name, shape in references(truth).items()}
    if cache is not None:
        tmp = cache.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"version": SCORE_VERSION, "rows": rows}))
        os.replace(tmp, cache)
    return rows


def write_sheet(path: Path, truth: TruthCase, shape: MovingShape, columns: int = 5) -> None:
    """A PNG of silhouettes: one row per camera (front, left, right, back, top), ``columns`` frames from first
    to last; red = truth only, green = asset only, yellow = both."""
    from backend.asset.png import encode_png
    from benchmarks.truth3d.truth import CAMERA_NAMES

    frames = np.linspace(0, truth.frame_count - 1, columns).round().astype(int)
    rows = []
    for c, name in enumerate(CAMERA_NAMES):
        panels = []
        for f in frames:
            a, b = shape.silhouette(int(f), truth.cameras[name]), truth.silhouettes[c, f]
            img = np.stack([b, a, np.zeros_like(a)], axis=-1).astype(np.uint8) * 255
            img[0, :] = img[:, 0] = 128
            panels.append(img)
        rows.append(np.concatenate(panels, axis=1))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(encode_png(np.concatenate(rows, axis=0)))


def run_case(truth: TruthCase, quality: str, engines: dict, out_dir: Path, align: str = "view",
             reuse: bool = False, sheet: Path | None = None) -> dict:
    """Generate the asset of one case into ``out_dir``, align and score it; returns a JSON-ready row.

    With ``reuse`` an asset already in ``out_dir`` is scored as it is (no generation; ``generate_s`` is NaN);
    with ``sheet`` a silhouette sheet (``write_sheet``) is written there.
    """
    from backend.pipeline import generate_two_image
    from backend.settings import GenerateSettings

    if reuse and (out_dir / "asset.json").is_file():
        asset_dir, gen_s = out_dir, float("nan")
    else:
        settings = GenerateSettings(quality=quality, frames=truth.frame_count, preview=False, engines=dict(engines))
        t0 = time.perf_counter()
        asset_dir = generate_two_image(truth.start_image, truth.end_image, out_dir, settings).asset_dir
        gen_s = time.perf_counter() - t0
    shape, alignment = asset_shape(asset_dir, truth, align)
    if sheet is not None:
        write_sheet(sheet, truth, shape)
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


def print_tags(rows: dict[str, list[dict]], tags: dict[str, list[str]]) -> None:
    """Means per case tag (articulated, out_of_plane, thin, ...): the asset next to the linear and static references."""
    names = sorted({t for ts in tags.values() for t in ts})
    keys = (("front_inbetween_iou", "front IB", 1.0), ("side_iou", "side", 1.0), ("trajectory_err", "traj %", 100.0))
    methods = [m for m in ("asset", "linear", "static") if rows.get(m)]
    print("\nMeans per tag (" + " / ".join(methods) + ")\n")
    print("| tag | cases | " + " | ".join(k[1] for k in keys) + " |")
    print("| --- | ---: |" + " --- |" * len(keys))
    for tag in names:
        cells = []
        for key, _, mult in keys:
            vals = [fmt(nanmean(r.get(key) for r in rows[m] if tag in tags.get(r["case"], ())), mult).strip()
                    for m in methods]
            cells.append(" / ".join(vals))
        count = sum(tag in tags.get(r["case"], ()) for r in rows[methods[0]])
        print(f"| {tag} | {count} | " + " | ".join(cells) + " |")


def print_targets(rows: list[dict]) -> None:
    """Issue 6's targets on this benchmark, met or not (needs every case for a verdict that counts)."""
    side = [r["side_iou"] for r in rows]
    checks = (("side IoU mean >= 0.70", nanmean(side) >= 0.70, nanmean(side)),
              ("no case side IoU < 0.45", min(side) >= 0.45, min(side)),
              ("front IB mean >= 0.78", nanmean(r["front_inbetween_iou"] for r in rows) >= 0.78,
               nanmean(r["front_inbetween_iou"] for r in rows)),
              ("trajectory error mean <= 4 %", nanmean(r["trajectory_err"] for r in rows) <= 0.04,
               100 * nanmean(r["trajectory_err"] for r in rows)))
    print("\nTargets (issue 6): " + "; ".join(f"{name}: {'met' if ok else 'NOT met'} ({value:.3f})"
                                             for name, ok, value in checks))


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
    p.add_argument("--reuse", action="store_true",
                   help="with --keep: score the assets already there instead of generating them again")
    p.add_argument("--quick", action="store_true", help=f"only the quick set: {', '.join(QUICK_CASES)}")
    p.add_argument("--sheets", type=Path,
                   help="write <case>.png per case here: truth (red) and asset (green) silhouettes, 5 cameras x 5 frames")
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
    from backend.settings import GenerateSettings

    try:
        GenerateSettings(quality=args.quality, engines=engines)
    except ValueError as exc:
        p.error(str(exc))
    if not args.cache.is_dir():
        p.error(f"no truth cache at {args.cache}: build it with `.venv/bin/python benchmarks/truth3d/generate.py`")
    if args.reuse and not args.keep:
        p.error("--reuse needs --keep DIR (the folder holding <case>/asset.json)")
    names = args.cases or (list(QUICK_CASES) if args.quick else None) or sorted(d.name for d in args.cache.iterdir() if (d / "truth.npz").is_file())
    if not names:
        p.error(f"{args.cache} holds no cases: run benchmarks/truth3d/generate.py")

    rows: dict[str, list[dict]] = {"asset": [], **({} if args.no_references else {r: [] for r in REFERENCES})}
    if args.references_only:
        rows.pop("asset")
    failed, tags = [], {}
    with tempfile.TemporaryDirectory(prefix="tween4d-bench3d-") as tmp:
        out_root = args.keep or Path(tmp)
        for name in names:
            truth = load_truth(args.cache / name)
            tags[name] = list(truth.meta.get("tags", []))
            if "asset" in rows:
                try:
                    row = run_case(truth, args.quality, engines, out_root / name, args.align, args.reuse,
                                   None if args.sheets is None else args.sheets / f"{name}.png")
                except Exception as exc:  # a failed case is reported, the others still run
                    failed.append(name)
                    print(f"{name:<12} FAILED: {type(exc).__name__}: {exc}", flush=True)
                else:
                    row["tags"] = list(truth.meta.get("tags", []))
                    rows["asset"].append(row)
                    print(f"{name:<12} front IB {row['front_inbetween_iou']:.3f}  side {row['side_iou']:.3f}  "
                          f"surf {100 * row['surface_dist']:.2f}%  traj {100 * row['trajectory_err']:.2f}%  "
                          f"step {row['smoothness']:.2f}  ({row['generate_s']:.1f} s)", flush=True)
            for ref, row in ({} if args.no_references else reference_rows(truth)).items():
                rows[ref].append(row)

    if "asset" in rows:
        print_table(f"Asset ({args.quality}, engines {engines or 'default'}) per case", rows["asset"])
    for ref in REFERENCES:
        if ref in rows:
            print_table(f"Reference `{ref}` per case", rows[ref])
    means = summary(rows)
    print("\nMeans\n")
    main_cols = COLUMNS[:6]
    print("| method | " + " | ".join(c[1] for c in main_cols) + " | worst side |")
    print("| --- |" + " ---: |" * (len(main_cols) + 1))
    for method, m in means.items():
        print(f"| {method} | " + " | ".join(fmt(m[k], mult) for k, _, mult in main_cols)
              + f" | {fmt(m['side_iou_min'], 1)} |")
    if rows.get("asset"):
        print_tags(rows, tags)
        print_targets(rows["asset"])
    if failed:
        print(f"\nFAILED: {', '.join(failed)}")
    if args.json:
        doc = {"quality": args.quality, "engines": engines, "rows": rows, "means": means, "failed": failed}
        args.json.write_text(json.dumps(doc, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
