"""Tween4D Blender extension root (see ``blender_manifest.toml``).

The repository root is the extension: installed, this package is e.g.
``bl_ext.user_default.tween4d``. It only registers ``addon/``; ``backend/``
runs in its own process and environment, never inside Blender.
"""

from .addon import register, unregister

__all__ = ["register", "unregister"]
