"""Operators. Each module exposes a ``classes`` tuple that ``addon.register()`` registers.

``CORE_MODULES`` ship with the add-on shell (generate/cancel, install/check);
``OPTIONAL_MODULES`` (import, bake + export, camera rigs) are registered when
present.
"""

CORE_MODULES = ("generate", "install")
OPTIONAL_MODULES = ("import_asset", "export", "camera_rig")
