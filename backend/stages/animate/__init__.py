"""Animate stage of the single-image pipeline: the object's motion from one image (presets, drags, a video model)."""
