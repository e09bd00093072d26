"""The Blender side of Tween4D: preferences, properties, panel, operators, backend client.

Importing this package imports nothing from Blender (``addon.client`` and
``addon.install_runner`` are usable from plain Python); ``register()`` imports
the ``bpy`` modules and registers their ``classes`` tuples. Operator modules
listed in ``operators.OPTIONAL_MODULES`` are registered when they exist.
"""

from __future__ import annotations

import importlib

_registered: list = []


def _class_modules() -> list:
    from . import panels, preferences, properties
    from .operators import CORE_MODULES, OPTIONAL_MODULES

    modules = [properties, preferences]
    modules += [importlib.import_module(f".operators.{name}", __package__) for name in CORE_MODULES]
    for name in OPTIONAL_MODULES:
        full = f"{__package__}.operators.{name}"
        try:
            modules.append(importlib.import_module(full))
        except ModuleNotFoundError as exc:
            if exc.name != full:  # the module exists but one of its imports is missing: a real bug
                raise
    modules.append(panels)  # last: panels draw the operators above
    return modules


def register() -> None:
    """Register every class, attach the properties, install the load handler."""
    import bpy

    from . import properties, session

    for module in _class_modules():
        for cls in module.classes:
            bpy.utils.register_class(cls)
            _registered.append(cls)
    properties.register_properties()
    if session.reset_stale_state not in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.append(session.reset_stale_state)


def unregister() -> None:
    """Stop the backend process and undo :func:`register`."""
    import bpy

    from . import properties, session

    session.shutdown_all()
    if session.reset_stale_state in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(session.reset_stale_state)
    properties.unregister_properties()
    while _registered:
        cls = _registered.pop()
        try:
            bpy.utils.unregister_class(cls)
        except RuntimeError:
            pass
