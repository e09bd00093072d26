"""Builds one small 3D-truth case with headless Blender (bpy) in a subprocess, for the benchmark tests."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HAVE_BPY = importlib.util.find_spec("bpy") is not None

# The small in-suite case: a round tube bending in the image plane on a disc-shaped base, 9 frames at 128 px.
# It needs volume (round cross-sections, a disc that keeps its width in depth) and arcs, not chords, in time.
SMALL_CASE = "bend_tube"
SMALL_FRAMES = 9
SMALL_SIZE = 128


def build_small_case(out_dir: Path, case: str = SMALL_CASE, frames: int = SMALL_FRAMES, size: int = SMALL_SIZE
                     ) -> Path:
    """Build one truth case with ``benchmarks/truth3d/generate.py`` (bpy, in a subprocess) into ``out_dir``.

    Blender gets a fresh ``BLENDER_USER_RESOURCES`` under ``out_dir`` and an
    offline Hub. Few Cycles samples and points keep it to a few seconds.

    Returns:
        The case folder ``out_dir/case``.

    Raises:
        RuntimeError: the generator failed (its output is in the message).
    """
    env = dict(os.environ)
    env["BLENDER_USER_RESOURCES"] = str(out_dir / "blender-user")
    env["HF_HUB_OFFLINE"] = "1"
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, str(ROOT / "benchmarks" / "truth3d" / "generate.py"), "--cases", case,
           "--frames", str(frames), "--size", str(size), "--samples", "4", "--points", "1500", "--out", str(out_dir)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    if proc.returncode != 0:
        raise RuntimeError(f"generate.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return out_dir / case
