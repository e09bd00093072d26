"""Where things are: the extension package and folder, the backend venv, output folders.

The repository root is the extension root: it holds ``blender_manifest.toml``,
``__init__.py`` (which registers this ``addon`` package), ``backend/`` and
``install_deps.py``. Installed, the root package is e.g.
``bl_ext.user_default.tween4d`` and this module is ``<root>.addon.paths``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

# The package of the extension root: the AddonPreferences bl_idname and the key of extension_path_user().
ROOT_PACKAGE = __package__.rpartition(".")[0]

# The installed extension folder: the backend runs from here (cwd and PYTHONPATH).
EXTENSION_DIR = Path(__file__).absolute().parent.parent

INSTALL_SCRIPT = EXTENSION_DIR / "install_deps.py"
VENV_DIRNAME = "backend-venv"


def backend_root() -> str:
    """The folder that contains the ``backend`` package (absolute path)."""
    return str(EXTENSION_DIR)


def user_dir(subdir: str = "", create: bool = True) -> str:
    """The extension's own writable user folder (or ``subdir`` in it).

    Uses ``bpy.utils.extension_path_user`` (Blender 4.2+), which survives
    extension upgrades, unlike the extension folder itself. When the package
    is not loaded as an extension (a legacy add-on install), falls back to
    ``<Blender user config>/tween4d``.
    """
    import bpy

    try:
        return bpy.utils.extension_path_user(ROOT_PACKAGE, path=subdir, create=create)
    except (ValueError, AttributeError):
        base = os.path.join(bpy.utils.user_resource("CONFIG"), "tween4d", subdir)
        if create:
            os.makedirs(base, exist_ok=True)
        return base


def venv_python(venv_dir: str) -> str:
    """The Python executable inside a virtual environment folder."""
    if sys.platform == "win32":
        return os.path.join(venv_dir, "Scripts", "python.exe")
    return os.path.join(venv_dir, "bin", "python")


def managed_venv_dir(create: bool = False) -> str:
    """The backend venv that Install Dependencies makes (``install_deps.py --target``)."""
    return user_dir(VENV_DIRNAME, create=create)


def default_output_root() -> str:
    """Where assets go when the output folder is relative and the .blend is unsaved."""
    try:
        return user_dir("outputs", create=True)
    except Exception:  # noqa: BLE001 - no user folder: fall back to the temp folder
        return os.path.join(tempfile.gettempdir(), "tween4d")
