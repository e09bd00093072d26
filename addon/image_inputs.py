"""Turn the panel's image inputs (a file path or a Blender image) into files the backend can read."""

from __future__ import annotations

import os

import bpy
import numpy as np

from ..backend.asset.png import encode_png


class InputProblem(Exception):
    """An input the person has to fix before a job can start.

    Attributes:
        message: what is wrong.
        hint: what to do.
    """

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}".strip()


def resolve_image_input(image_input, role: str, temp_dir: str) -> str:
    """An absolute path of a readable image file for ``image_input`` (``TWEEN4D_PG_image_input``).

    Args:
        image_input: the panel's input (``source`` FILE or IMAGE).
        role: "start", "end" or "input" (One Image), used in messages and temporary file names.
        temp_dir: where packed, generated or edited images are written.

    Raises:
        InputProblem: nothing chosen, the file is missing or empty, the image has no pixels.
    """
    if image_input.source == "FILE":
        raw = image_input.filepath.strip()
        if not raw:
            raise InputProblem(f"No {role} image chosen.", f"Pick an image file {_purpose(role)}.")
        path = os.path.normpath(bpy.path.abspath(raw))
        if not os.path.isfile(path):
            raise InputProblem(f"The {role} image file does not exist: {path}",
                               "Check the path, or pick the image again.")
        if os.path.getsize(path) == 0:
            raise InputProblem(f"The {role} image file is empty: {path}", "Pick another image file.")
        return path
    image = image_input.image
    if image is None:
        raise InputProblem(f"No {role} image chosen.", f"Pick a Blender image {_purpose(role)}.")
    return image_to_file(image, temp_dir, role)


def _purpose(role: str) -> str:
    return f"for the {role} state" if role in ("start", "end") else "to animate (One Image mode)"


def image_to_file(image: bpy.types.Image, temp_dir: str, stem: str) -> str:
    """A file path holding ``image``'s current pixels.

    * a saved, unmodified file image: its own file;
    * an unmodified packed image: its packed bytes, written as they are;
    * anything else (generated, painted, missing file): its pixels encoded as an
      8-bit RGBA PNG (float images are converted from linear to sRGB,
      IEC 61966-2-1).

    Raises:
        InputProblem: the image has no pixels.
    """
    if not image.is_dirty:
        if image.packed_file is None and image.source == "FILE":
            path = os.path.normpath(bpy.path.abspath(image.filepath, library=image.library))
            if os.path.isfile(path):
                return path
        if image.packed_file is not None:
            ext = os.path.splitext(image.filepath or image.name)[1].lower() or ".png"
            out = os.path.join(temp_dir, f"{stem}{ext}")
            with open(out, "wb") as fh:
                fh.write(image.packed_file.data)
            return out
    width, height = image.size
    channels = image.channels
    if width == 0 or height == 0 or channels == 0:
        raise InputProblem(f"The image '{image.name}' has no pixels (its file may be missing).",
                           "Reload the image or pick an image file instead.")
    pixels = np.empty(width * height * channels, dtype=np.float32)
    image.pixels.foreach_get(pixels)
    # Blender stores rows bottom-up.
    pixels = pixels.reshape(height, width, channels)[::-1]
    rgba = np.ones((height, width, 4), dtype=np.float32)
    if channels >= 3:
        rgba[..., :3] = pixels[..., :3]
    else:
        rgba[..., :3] = pixels[..., :1]
    if channels == 4:
        rgba[..., 3] = pixels[..., 3]
    # Float buffers hold scene-linear values whatever the file's colour space was.
    if image.is_float and image.colorspace_settings.name != "Non-Color":
        rgba[..., :3] = _linear_to_srgb(rgba[..., :3])
    data = np.clip(np.round(rgba * 255.0), 0, 255).astype(np.uint8)
    out = os.path.join(temp_dir, f"{stem}.png")
    with open(out, "wb") as fh:
        fh.write(encode_png(data))
    return out


def _linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * np.power(c, 1.0 / 2.4) - 0.055)
