#!/usr/bin/env python3
"""The main job on a bundled real pair: two images -> asset -> .blend + .glb.

    python3 scripts/demo.py                      # examples/robot_arm, standard quality
    python3 scripts/demo.py --pair examples/mill --quality draft

Sets up ./.venv (weight-free engines + headless Blender; first run takes a
few minutes), then runs headless Blender with the Tween4D add-on enabled from
this working tree: the add-on's Generate (its blocking path) runs the backend
and imports the animated asset with its input camera, an orbit camera rig is
added, and the scene is saved as ``out/demo/<pair>.blend`` with a game-ready
``out/demo/<pair>.glb`` (morph-target animation) beside it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        other = shutil.which("python3.11")
        if not other:
            print("error: the demo needs Python 3.11 (bpy 5.0.1, headless Blender); install python3.11", file=sys.stderr)
            return 1
        return subprocess.call([other, __file__, *sys.argv[1:]])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", type=Path, default=ROOT / "examples" / "robot_arm", help="folder with start.png and end.png")
    p.add_argument("--quality", default="standard", choices=("draft", "standard", "high"))
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--out", type=Path, default=ROOT / "out" / "demo", help="output folder (default out/demo)")
    args = p.parse_args()

    rc = subprocess.call([sys.executable, str(ROOT / "install_deps.py"), "--extra", "blender"])
    if rc != 0:
        return rc
    py = ROOT / ".venv" / "bin" / "python"
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tween4d-demo-") as tmp:
        env = dict(os.environ, BLENDER_USER_RESOURCES=str(Path(tmp) / "blender"), HF_HUB_OFFLINE="1")
        return subprocess.call([str(py), str(ROOT / "scripts" / "demo_blender.py"), str(args.pair.resolve()),
                                str(out), args.quality, str(args.frames)], env=env, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main())
