"""Reading input images safely and bringing them to the working resolution.

``load_image`` decodes a file into a validated ``backend.types.InputImage``;
``prepare_pair`` / ``prepare_single`` give the float32 RGBA arrays the stages
work on. Every failure a user can hit is an ``InputImageError`` with a code,
a message and a hint.
"""

from .load import MIN_SIDE, load_image
from .working import prepare_pair, prepare_single, resize_rgba, to_working_resolution, working_size

__all__ = ["MIN_SIDE", "load_image", "prepare_pair", "prepare_single", "resize_rgba",
           "to_working_resolution", "working_size"]
