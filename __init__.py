"""Tween4D Blender extension root (see ``blender_manifest.toml``).

The repository root is the extension: installed, this package is e.g.
``bl_ext.user_default.tween4d``. It only registers ``addon/``; ``backend/``
runs in its own process and environment, never inside Blender.

Importing this file runs no relative import (the ``addon`` package is imported
when Blender calls ``register``), so tools that import it outside its package
-- pytest setting up the repository root as a package when the checkout's
folder name is not a Python identifier -- do not fail on it.
"""


def register() -> None:
    """Register the add-on's classes, properties and menu entries (``addon.register``)."""
    from .addon import register as register_addon

    register_addon()


def unregister() -> None:
    """Undo ``register`` (``addon.unregister``)."""
    from .addon import unregister as unregister_addon

    unregister_addon()


__all__ = ["register", "unregister"]
