#!/usr/bin/env python3
"""Run the test suite: sets up the virtual environment for a Blender release if needed, then pytest.

    python3 scripts/test.py                          # everything, on Blender 5.0.1 (./.venv)
    python3 scripts/test.py -k asset                 # extra arguments go to pytest
    python3 scripts/test.py --blender 4.2.23         # the Blender tests (tests/blender) on Blender 4.2 LTS
    python3 scripts/test.py --blender 4.5.15 -x      # ... on 4.5 LTS, stop at the first failure

Each Blender release gets its own environment: ./.venv for the default (5.0.1: core, model
engines, bpy and pytest), ./.venv-bpy-<version> for the others (the same with bpy of that release;
``install_deps.py --extra blender-tests --bpy <version>``). pip's cache makes a second
environment cheap. With another release and no test path given, only tests/blender runs.

Blender 4.2's bpy module can crash in its exit handlers after a passing run (exit status 139);
tests/conftest.py ends such runs with pytest's own exit status right after the summary
(``os._exit``), so the status reflects the tests.

Needs Python 3.11 for the venv (bpy wheels exist only for it): when this interpreter is another
version, it re-runs itself with python3.11 from PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BLENDER = "5.0.1"
SUPPORTED_BLENDER = ("4.2.23", "4.5.15", "5.0.1")


def split_args(argv: list[str]) -> tuple[str, list[str]]:
    """(Blender version, pytest arguments) from this script's arguments (``--blender V`` / ``--blender=V``)."""
    version, rest, i = DEFAULT_BLENDER, [], 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--blender" and i + 1 < len(argv):
            version, i = argv[i + 1], i + 2
            continue
        if arg.startswith("--blender="):
            version = arg.split("=", 1)[1]
        else:
            rest.append(arg)
        i += 1
    return version, rest


def environment_for(version: str) -> tuple[Path, list[str]]:
    """(venv folder, install_deps.py arguments) for a Blender release."""
    if version == DEFAULT_BLENDER:
        return ROOT / ".venv", ["--extra", "test"]
    target = ROOT / f".venv-bpy-{version}"
    return target, ["--extra", "blender-tests", "--bpy", version, "--target", str(target)]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if sys.version_info[:2] != (3, 11):
        other = shutil.which("python3.11")
        if not other:
            print("error: the tests need Python 3.11 (bpy); install python3.11 and run it with that", file=sys.stderr)
            return 1
        return subprocess.call([other, __file__, *argv])
    version, pytest_args = split_args(argv)
    if version not in SUPPORTED_BLENDER:
        print(f"error: --blender must be one of {', '.join(SUPPORTED_BLENDER)}, got {version!r}", file=sys.stderr)
        return 2
    venv, install_args = environment_for(version)
    rc = subprocess.call([sys.executable, str(ROOT / "install_deps.py"), *install_args])
    if rc != 0:
        return rc
    if version != DEFAULT_BLENDER and not any(not a.startswith("-") and Path(ROOT, a.split("::")[0]).exists()
                                              for a in pytest_args):
        pytest_args = ["tests/blender", *pytest_args]
    py = venv / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="tween4d-test-") as tmp:
        env = dict(os.environ)
        env.update({
            "BLENDER_USER_RESOURCES": str(Path(tmp) / "blender"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "HF_HOME": str(Path(tmp) / "hf"),
            "PYTHONDONTWRITEBYTECODE": "1",
        })
        print(f"Blender {version}: {py} -m pytest {' '.join(pytest_args)}", flush=True)
        return subprocess.call([str(py), "-m", "pytest", *pytest_args], cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main())
