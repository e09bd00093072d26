"""Geometry stage (weight-free engine): the input camera and the inflated 2.5D shape."""

from .camera_setup import InputView, camera_for_size, input_view, scaled_camera
from .inflate import build_shape, surface_pixel_weights

__all__ = ["InputView", "build_shape", "camera_for_size", "input_view", "scaled_camera", "surface_pixel_weights"]
