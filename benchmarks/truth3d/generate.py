#!/usr/bin/env python3
"""Build the 3D-truth cases with headless Blender (the venv's ``bpy``) into a git-ignored cache.

    .venv/bin/python benchmarks/truth3d/generate.py                  # all cases -> .cache/truth3d/<case>/
    .venv/bin/python benchmarks/truth3d/generate.py --cases door flower --force
    .venv/bin/python benchmarks/truth3d/generate.py --cases door --frames 9 --size 128 --out /tmp/t3d

Per case it builds the animated, textured scene (``cases.py``), evaluates the
joined mesh at every frame, frames five cameras around all frames (the input
view along +Y, left, right, back, top), rasterises the true silhouettes from
each, samples surface points carried by fixed (triangle, barycentric) pairs,
and renders the first and last frames from the input camera with Cycles on the
CPU (RGBA, transparent background); ``--frames-rgb`` renders every frame
too. See ``truth.py`` for the files. A case
whose ``case.json`` already records the same settings is skipped unless
``--force``. Blender runs with a temporary ``BLENDER_USER_RESOURCES`` so the
user's preferences never leak in.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / ".cache" / "truth3d"

if __name__ == "__main__":  # Blender reads this at start-up, before bpy is imported
    _USER_DIR = tempfile.mkdtemp(prefix="tween4d-truth3d-user-")
    os.environ.setdefault("BLENDER_USER_RESOURCES", _USER_DIR)
    sys.path.insert(0, str(ROOT))


def generate_case(name: str, out_dir: Path, frames: int, size: int, samples: int, points: int,
                  force: bool = False, frames_rgb: bool = False) -> str:
    """Build, measure and render one case into ``out_dir/name``; returns "built" or "cached".

    With ``frames_rgb`` every frame is also rendered from the input camera into
    ``frames/NNNN.png`` (RGBA; frame index from 0), the true in-between images.
    """
    import json

    from benchmarks.truth3d import scene as S
    from benchmarks.truth3d.cases import CASES, build_case
    from benchmarks.truth3d.truth import FOCAL_MM, FORMAT_VERSION, SENSOR_MM, build_truth, save_truth

    case_dir = out_dir / name
    settings = {"frames": frames, "size": size, "samples": samples, "points": points, "frames_rgb": frames_rgb}
    meta_path = case_dir / "case.json"
    if not force and meta_path.is_file() and (case_dir / "end.png").is_file():
        old = json.loads(meta_path.read_text())
        if old.get("settings") == settings and old.get("format_version") == FORMAT_VERSION:
            return "cached"
    scene = S.reset_scene(frames)
    build_case(name, frames)
    vertices, faces = S.evaluated_mesh(scene, frames)
    truth = build_truth(vertices, faces, size, point_count=points)
    S.setup_render(scene, size, samples)
    case_dir.mkdir(parents=True, exist_ok=True)
    front = truth["cameras"]["front"].matrix_world
    with tempfile.TemporaryDirectory(dir=case_dir) as tmp:
        for label, frame in (("start", 1), ("end", frames)):
            S.render_still(scene, front, FOCAL_MM, SENSOR_MM, frame, str(Path(tmp) / f"{label}.png"))
            os.replace(Path(tmp) / f"{label}.png", case_dir / f"{label}.png")
        if frames_rgb:
            (case_dir / "frames").mkdir(exist_ok=True)
            for i in range(frames):
                S.render_still(scene, front, FOCAL_MM, SENSOR_MM, 1 + i, str(Path(tmp) / "frame.png"))
                os.replace(Path(tmp) / "frame.png", case_dir / "frames" / f"{i:04d}.png")
    _, description, tags = CASES[name]
    (case_dir / "references.json").unlink(missing_ok=True)  # reference scores of the old truth (bench_3d.py)
    save_truth(case_dir, truth, {"case": name, "description": description, "tags": list(tags),
                                 "settings": settings, "fps": 24.0})
    return "built"


def main(argv=None) -> int:
    from benchmarks.truth3d.cases import CASES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", nargs="*", help=f"case names (default: all of {', '.join(CASES)})")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="cache folder (default .cache/truth3d)")
    p.add_argument("--frames", type=int, default=25, help="frames per case (default 25)")
    p.add_argument("--size", type=int, default=256, help="square image size in pixels (default 256)")
    p.add_argument("--samples", type=int, default=16, help="Cycles samples per pixel (default 16)")
    p.add_argument("--points", type=int, default=4000, help="carried surface points per case (default 4000)")
    p.add_argument("--frames-rgb", action="store_true",
                   help="also render every frame from the input camera into <case>/frames/ (slower)")
    p.add_argument("--force", action="store_true", help="rebuild cases already in the cache")
    p.add_argument("--list", action="store_true", help="print the case names and descriptions, then stop")
    args = p.parse_args(argv)
    if args.list:
        for name, (_, desc, tags) in CASES.items():
            print(f"{name:<12} {desc}  [{', '.join(tags)}]")
        return 0
    names = args.cases or list(CASES)
    unknown = [n for n in names if n not in CASES]
    if unknown:
        p.error(f"unknown case(s) {', '.join(unknown)}; known: {', '.join(CASES)}")
    if args.frames < 3 or args.size < 32:
        p.error("--frames must be >= 3 and --size >= 32")
    args.out.mkdir(parents=True, exist_ok=True)
    t_all = time.perf_counter()
    for name in names:
        t0 = time.perf_counter()
        state = generate_case(name, args.out, args.frames, args.size, args.samples, args.points, args.force,
                              args.frames_rgb)
        print(f"{name:<12} {state:<6} {time.perf_counter() - t0:6.1f} s", flush=True)
    print(f"{len(names)} case(s) in {time.perf_counter() - t_all:.1f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(_USER_DIR, ignore_errors=True)
