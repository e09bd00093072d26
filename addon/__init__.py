"""The Blender side of Tween4D: preferences, properties, panel, operators, backend client.

Importing this package imports nothing from Blender (``addon.client`` and
``addon.install_runner`` are usable from plain Python); ``register()`` imports
the ``bpy`` modules, registers their ``classes`` tuples and appends their
File > Import/Export menu entries.
"""

from __future__ import annotations

_registered: list = []


def _class_modules() -> list:
    from . import panels, preferences, properties
    from .operators import camera_rig, drags, export, generate, import_asset, install, models

    # Panels last: they draw the operators above.
    return [properties, preferences, generate, drags, install, models, import_asset, export, camera_rig, panels]


_MENUS = {"menu_func_import": "TOPBAR_MT_file_import", "menu_func_export": "TOPBAR_MT_file_export"}
_menu_entries: list = []


def register() -> None:
    """Register every class, attach the properties and menu entries, install the load handler."""
    import bpy

    from . import properties, session

    try:
        modules = _class_modules()
        for module in modules:
            for cls in module.classes:
                bpy.utils.register_class(cls)
                _registered.append(cls)
        properties.register_properties()
        from .operators import drags

        drags.register_overlay()
        for module in modules:
            for func_name, menu_name in _MENUS.items():
                func = getattr(module, func_name, None)
                if func is not None:
                    getattr(bpy.types, menu_name).append(func)
                    _menu_entries.append((menu_name, func))
    except Exception:
        unregister()  # leave nothing half-registered behind
        raise
    if session.reset_stale_state not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(session.reset_stale_state)


def unregister() -> None:
    """Stop the backend process and undo :func:`register`."""
    import bpy

    from . import models_ui, properties, session

    session.shutdown_all()
    models_ui.shutdown()
    from .operators import drags

    drags.unregister_overlay()
    if session.reset_stale_state in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(session.reset_stale_state)
    while _menu_entries:
        menu_name, func = _menu_entries.pop()
        getattr(bpy.types, menu_name).remove(func)
    properties.unregister_properties()
    while _registered:
        cls = _registered.pop()
        try:
            bpy.utils.unregister_class(cls)
        except RuntimeError:
            pass
