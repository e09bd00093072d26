"""Blender side of test_extension_package: install the built zip headless, inspect, disable.

Run by conftest.run_blender as ``python install_and_enable.py ZIP``; reports JSON via blender_helpers.emit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _inside_blender(zip_path: str) -> None:
    import bpy  # first: it puts Blender's script modules (addon_utils) on sys.path
    import addon_utils
    from blender_helpers import emit

    result = {}
    status = bpy.ops.extensions.package_install_files(filepath=zip_path, repo="user_default", enable_on_install=True)
    result["install"] = sorted(status)
    package = "bl_ext.user_default.tween4d"
    result["enabled"] = package in bpy.context.preferences.addons
    folder = os.path.join(bpy.utils.user_resource("EXTENSIONS"), "user_default", "tween4d")
    result["installed_files"] = sorted(os.listdir(folder))
    result["extension_folder"] = folder
    result["operators"] = [f"tween4d.{name}" for name in dir(bpy.ops.tween4d)
                           if _operator_registered(getattr(bpy.ops.tween4d, name))]
    result["panels"] = [hasattr(bpy.types, name) for name in (
        "VIEW3D_PT_tween4d", "VIEW3D_PT_tween4d_settings", "VIEW3D_PT_tween4d_engines", "VIEW3D_PT_tween4d_recent")]
    settings = bpy.context.scene.tween4d
    result["scene_defaults"] = {"frames": settings.frames, "fps": settings.fps, "mode": settings.mode}
    result["interpreter"] = bpy.context.preferences.addons[package].preferences.interpreter()
    try:
        bpy.ops.tween4d.install_dependencies()
        result["install_offline_error"] = ""
    except RuntimeError as exc:
        result["install_offline_error"] = str(exc)
    result["import_menu"] = _import_menu_entries(bpy)
    addon_utils.disable(package, default_set=True)
    result["after_disable"] = {"panel": hasattr(bpy.types, "VIEW3D_PT_tween4d"),
                               "scene_prop": hasattr(bpy.types.Scene, "tween4d"),
                               "import_menu": _import_menu_entries(bpy)}
    emit(result)


def _import_menu_entries(bpy) -> int:
    """How many File > Import entries come from this extension."""
    funcs = bpy.types.TOPBAR_MT_file_import._dyn_ui_initialize()
    return sum(1 for f in funcs if getattr(f, "__module__", "").startswith("bl_ext.user_default.tween4d."))


def _operator_registered(op) -> bool:
    try:
        op.get_rna_type()
    except KeyError:
        return False
    return True


if __name__ == "__main__":
    _inside_blender(sys.argv[1])
