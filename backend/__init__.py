"""Tween4D generation backend.

Runs outside Blender, in its own virtual environment. Importing this package
is cheap and pulls in nothing heavy: only ``backend.asset`` (numpy + standard
library) is meant to be imported by the Blender add-on.
"""

__all__ = ["__version__", "PACKAGE_NAME"]

PACKAGE_NAME = "tween4d"
__version__ = "0.1.0"
