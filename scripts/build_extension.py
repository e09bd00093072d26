#!/usr/bin/env python3
"""Build the installable extension zip with Blender's own tool (``blender_ext.py build``).

    python3 scripts/build_extension.py            # -> dist/tween4d-<version>.zip

Uses ``addons_core/bl_pkg/cli/blender_ext.py`` from the bpy wheel in ./.venv
(installed by ``install_deps.py --extra blender`` if missing), validates the
manifest, then builds; ``blender_manifest.toml``'s ``paths_exclude_pattern``
keeps tests, examples and tooling out of the zip.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = ROOT / ".venv" / "bin" / "python"


def blender_ext_cli() -> Path:
    """Path of ``blender_ext.py`` inside the venv's bpy wheel."""
    code = ("import importlib.util, pathlib; s = importlib.util.find_spec('bpy'); "
            "print(list(s.submodule_search_locations)[0] if s else '')")
    base = subprocess.run([str(PY), "-c", code], capture_output=True, text=True).stdout.strip()
    found = sorted(Path(base).glob("*/scripts/addons_core/bl_pkg/cli/blender_ext.py")) if base else []
    if not found:
        raise SystemExit("error: blender_ext.py not found in the bpy wheel; run: python3 install_deps.py --extra blender")
    return found[-1]


def main() -> int:
    if not PY.exists() or subprocess.call([str(PY), "-c", "import bpy"], stderr=subprocess.DEVNULL) != 0:
        rc = subprocess.call([sys.executable, str(ROOT / "install_deps.py"), "--extra", "blender"])
        if rc != 0:
            return rc
    cli = blender_ext_cli()
    dist = ROOT / "dist"
    dist.mkdir(exist_ok=True)
    for args in (["validate", str(ROOT)], ["build", "--source-dir", str(ROOT), "--output-dir", str(dist)]):
        rc = subprocess.call([str(PY), str(cli), *args])
        if rc != 0:
            return rc
    print(f"Install it in Blender: Edit > Preferences > Get Extensions > Install from Disk > {dist}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
