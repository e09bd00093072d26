"""Pipelines: short lists of stages from inputs to an asset (one function per mode)."""

from .one_image import generate_one_image
from .two_image import STAGES, GenerateResult, generate_two_image

__all__ = ["STAGES", "GenerateResult", "generate_one_image", "generate_two_image"]
