"""Build a backend ``generate`` job from the scene settings, checking every input first."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass

import bpy

from . import engines, paths
from .image_inputs import InputProblem, resolve_image_input


@dataclass
class PreparedJob:
    """A validated job and the temporary files made for it.

    Attributes:
        request: the job dict for ``BackendClient.generate`` (``backend.jobs`` format).
        output: the asset directory the backend will write (absolute).
        temp_dir: folder of temporary input copies; remove it with :meth:`cleanup`.
    """

    request: dict
    output: str
    temp_dir: str

    def cleanup(self) -> None:
        """Remove the temporary input copies."""
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def _safe_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return name[:64] or "asset"


def output_root(settings) -> str:
    """The absolute folder receiving asset folders.

    ``//`` paths are relative to the .blend file; while the file is unsaved they
    resolve inside the extension's user folder (``outputs``).
    """
    raw = settings.output_dir.strip() or "//tween4d/"
    if raw.startswith("//") and not bpy.data.filepath:
        return os.path.normpath(os.path.join(paths.default_output_root(), raw[2:]))
    return os.path.normpath(bpy.path.abspath(raw))


# File names that say nothing about the object: the folder name is used instead.
_GENERIC_STEMS = {"start", "end", "first", "last", "image", "img", "input", "frame", "0", "1"}


def input_label(image_input) -> str:
    """A short name for an input: the image data-block's name, or the file's name (its folder's if generic)."""
    if image_input.source == "IMAGE" and image_input.image is not None:
        return os.path.splitext(image_input.image.name)[0]
    path = bpy.path.abspath(image_input.filepath.strip())
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem.lower() in _GENERIC_STEMS:
        stem = os.path.basename(os.path.dirname(os.path.normpath(path))) or stem
    return stem


def asset_dir_for(settings, label: str) -> str:
    """The asset folder of the next job: the asset name, or ``label`` (the start image's name) plus the local time."""
    name = settings.asset_name.strip()
    if not name:
        name = f"{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    return os.path.join(output_root(settings), _safe_name(name))


def quality_of(settings, prefs) -> str:
    """The job quality: the scene's, or the preferences' default."""
    return prefs.default_quality if settings.quality == "DEFAULT" else settings.quality


def prepare_job(context, prefs) -> PreparedJob:
    """Validate the scene's Tween4D settings and build the job.

    Raises:
        InputProblem: a missing/unreadable input, an unusable output folder, or
            a mode that is not available yet (the message says what to fix).
    """
    settings = context.scene.tween4d
    if settings.mode != "TWO_IMAGE":
        raise InputProblem("One-image mode is coming soon.", "Switch the mode to Two Images.")
    temp_dir = tempfile.mkdtemp(prefix="tween4d-inputs-")
    try:
        start = resolve_image_input(settings.start, "start", temp_dir)
        end = resolve_image_input(settings.end, "end", temp_dir)
        output = asset_dir_for(settings, input_label(settings.start))
        _check_output(output)
    except BaseException:
        shutil.rmtree(temp_dir, ignore_errors=True)
        raise
    request = {
        "mode": "two_image",
        "inputs": {"start": start, "end": end},
        "output": output,
        "settings": {
            "frames": int(settings.frames),
            "fps": float(settings.fps),
            "quality": quality_of(settings, prefs),
            "seed": int(settings.seed),
            "engines": {stage: getattr(settings, f"engine_{stage}") for stage in engines.STAGES},
            "frame_plys": bool(settings.frame_plys),
            "preview": bool(settings.preview),
            "device": prefs.device,
        },
    }
    return PreparedJob(request=request, output=output, temp_dir=temp_dir)


def _check_output(output: str) -> None:
    if os.path.isfile(output):
        raise InputProblem(f"The output path is a file: {output}", "Choose another output folder or asset name.")
    if os.path.isdir(output) and os.listdir(output) and not os.path.isfile(os.path.join(output, "asset.json")):
        raise InputProblem(f"The output folder exists and is not a Tween4D asset: {output}",
                           "Choose another asset name; existing folders are only replaced if they hold an asset.")
    parent = os.path.dirname(output)
    try:
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise InputProblem(f"Cannot create the output folder {parent}: {exc.strerror or exc}",
                           "Choose an output folder you can write to.") from exc
    if not os.access(parent, os.W_OK):
        raise InputProblem(f"The output folder is not writable: {parent}", "Choose an output folder you can write to.")
