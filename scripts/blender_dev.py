"""Enable this working tree as a Blender extension, as a developer links a source folder.

Used by the demo and the tests (inside a Python that has ``bpy``). Blender
loads the repository root as ``bl_ext.<repo module>.tween4d``: the same
package layout as an installed extension zip, without building one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEV_REPO_MODULE = "tween4d_dev"


def enable_working_tree(root: Path = ROOT) -> str:
    """Register a user extension repository linking to ``root`` and enable the add-on.

    Returns:
        The add-on's package name (``bl_ext.tween4d_dev.tween4d``).

    Raises:
        RuntimeError: Blender could not enable the add-on (its error is chained).
    """
    import addon_utils
    import bpy

    repo_dir = Path(tempfile.mkdtemp(prefix="tween4d-dev-repo-"))
    os.symlink(root, repo_dir / "tween4d", target_is_directory=True)
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
