"""Helpers for scripts that run inside a Blender subprocess started by the tests (see conftest.run_blender)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULT_MARKER = "TWEEN4D_TEST_RESULT "
DEV_REPO_MODULE = "tween4d_dev"


def emit(result: dict) -> None:
    """Report the script's result to the test (one marked JSON line on stdout)."""
    print(RESULT_MARKER + json.dumps(result), flush=True)


def enable_working_tree() -> str:
    """Enable this working tree as an extension and return its package name.

    Registers a user extension repository whose only entry links to the
    repository root (as a developer links a source folder), so the package is
    ``bl_ext.tween4d_dev.tween4d``, exactly the layout of an installed
    extension, without building a zip.
    """
    import addon_utils
    import bpy

    repo_dir = Path(tempfile.mkdtemp(prefix="tween4d-dev-repo-"))
    os.symlink(ROOT, repo_dir / "tween4d", target_is_directory=True)
    bpy.context.preferences.extensions.repos.new(
        name="Tween4D Dev", module=DEV_REPO_MODULE, custom_directory=str(repo_dir), source="USER",
    )
    package = f"bl_ext.{DEV_REPO_MODULE}.tween4d"
    module = addon_utils.enable(package, default_set=True, handle_error=_raise)
    if module is None:
        raise RuntimeError(f"could not enable {package}")
    return package


def _raise(exc):
    raise exc
