#!/usr/bin/env python3
"""Run the whole test suite: sets up ./.venv with the test extras if needed, then pytest.

    python3 scripts/test.py            # everything
    python3 scripts/test.py -k asset   # extra arguments go to pytest

Needs Python 3.11 for the venv (bpy 5.0.1 exists only for it): when this
interpreter is another version, it re-runs itself with python3.11 from PATH.
"""

from __future__ import annotations

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
            print("error: the tests need Python 3.11 (bpy 5.0.1); install python3.11 and run it with that", file=sys.stderr)
            return 1
        return subprocess.call([other, __file__, *sys.argv[1:]])
    rc = subprocess.call([sys.executable, str(ROOT / "install_deps.py"), "--extra", "test"])
    if rc != 0:
        return rc
    py = ROOT / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="tween4d-test-") as tmp:
        env = dict(os.environ)
        env.update({
            "BLENDER_USER_RESOURCES": str(Path(tmp) / "blender"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HOME": str(Path(tmp) / "hf"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        return subprocess.call([str(py), "-m", "pytest", *sys.argv[1:]], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
