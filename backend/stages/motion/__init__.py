"""Motion stage (weight-free engine): the 2D in-between motion lifted onto the 3D shape."""

from .lift import lift_motion

__all__ = ["lift_motion"]
