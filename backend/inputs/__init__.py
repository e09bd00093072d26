"""Reading input images safely (placeholder; the inputs helper owns this package)."""

from .load import load_image, to_working_resolution

__all__ = ["load_image", "to_working_resolution"]
